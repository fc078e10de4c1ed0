#!/usr/bin/env node
/**
 * `node scripts/run-beside.mjs "<side command>" "<main command>"`: runs both at once (each through the shell), the
 * main one's output as it comes and the side one's buffered and printed after the main one ended, so the two never
 * interleave. Exits 0 only when both succeeded.
 *
 * npm test uses it for the drill tests: each starts its own PostgreSQL and moto in a child process, so they can run
 * beside the integration and workflow tests, which share the jest harness's single moto and PostgreSQL and stay on
 * one worker.
 */
import { spawn } from 'node:child_process';

const [side, main] = process.argv.slice(2);
if (!side || !main) {
  console.error('usage: node scripts/run-beside.mjs "<side command>" "<main command>"');
  process.exit(2);
}

function run(command, buffered) {
  return new Promise((resolve) => {
    const chunks = [];
    const child = spawn(command, { shell: true, stdio: buffered ? ['ignore', 'pipe', 'pipe'] : 'inherit' });
    if (buffered) {
      child.stdout.on('data', (c) => chunks.push(c));
      child.stderr.on('data', (c) => chunks.push(c));
    }
    child.on('close', (code, signal) => resolve({ code: code ?? (signal ? 128 : 1), output: Buffer.concat(chunks).toString('utf8') }));
  });
}

const sideRun = run(side, true);
const mainResult = await run(main, false);
const sideResult = await sideRun;
process.stdout.write(`\n==> ${side} (ran beside the command above)\n${sideResult.output}`);
if (mainResult.code !== 0 || sideResult.code !== 0) {
  console.error(`\nrun-beside: ${main} exited ${mainResult.code}; ${side} exited ${sideResult.code}`);
  process.exit(1);
}
