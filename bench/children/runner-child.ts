/**
 * Measured child of `--runners`: one dump through the dump handler, either as the Lambda runtime calls it
 * (`handler(event, context)`) or as the Fargate runner's container does (`runTask`, the entrypoint's main, with the
 * task's environment: RUNNER_HANDLER, TASK_TOKEN, TASK_INPUT). The task's answer to Step Functions goes to a loopback
 * endpoint in this process, which keeps it: the output is what SendTaskSuccess carried.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SFNClient } from '@aws-sdk/client-sfn';
import { handler, type DumpOutput } from '../../lambda/backup/dump.handler';
import { runTask } from '../../lambda/runner/task';
import { readInput, runChild } from './protocol';

export type RunnerKind = 'lambda' | 'fargate';

export interface RunnerChildInput {
  readonly runner: RunnerKind;
  /** The dump handler's event, as the state machine passes it. */
  readonly event: unknown;
  readonly timeoutSeconds: number;
}

export interface RunnerChildOutput {
  readonly bytes: number;
  readonly manifestKey: string;
  readonly dumpKey: string;
}

function summary(output: DumpOutput): RunnerChildOutput {
  const { backup } = output;
  return { bytes: backup.bytes, manifestKey: backup.manifestKey, dumpKey: backup.dumpKey };
}

/** A Step Functions endpoint on loopback that answers SendTask* and keeps the task's answer. */
async function taskAnswerEndpoint(): Promise<{ server: Server; url: string; answer: () => { target: string; body: Record<string, unknown> } | undefined }> {
  let answer: { target: string; body: Record<string, unknown> } | undefined;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const target = String(req.headers['x-amz-target'] ?? '');
      if (!target.endsWith('SendTaskHeartbeat')) answer = { target, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown> };
      res.writeHead(200, { 'content-type': 'application/x-amz-json-1.0' });
      res.end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, answer: () => answer };
}

void runChild<RunnerChildOutput>(async () => {
  const input = readInput<RunnerChildInput>();
  const started = Date.now();
  if (input.runner === 'lambda') {
    const output = await handler(input.event, { getRemainingTimeInMillis: () => started + input.timeoutSeconds * 1000 - Date.now() });
    return summary(output);
  }
  const endpoint = await taskAnswerEndpoint();
  try {
    const env = {
      ...process.env,
      RUNNER_HANDLER: 'dump', TASK_TOKEN: 'bench-task-token', TASK_INPUT: JSON.stringify(input.event),
      RUNNER_TIMEOUT_SECONDS: String(input.timeoutSeconds),
    };
    // The handler reads its configuration from process.env, as in the container, where the task definition sets it.
    process.env.RUNNER_HANDLER = 'dump';
    const code = await runTask(env, new SFNClient({ endpoint: endpoint.url }));
    const answer = endpoint.answer();
    if (code !== 0 || !answer?.target.endsWith('SendTaskSuccess')) {
      throw new Error(`the task answered ${answer?.target ?? 'nothing'}: ${JSON.stringify(answer?.body ?? {})}`);
    }
    return summary(JSON.parse(String(answer.body.output)) as DumpOutput);
  } finally {
    endpoint.server.close();
  }
});
