// Bundles every Lambda handler (`lambda/<domain>/<name>.handler.ts`) with esbuild into `assets/<name>/index.js`,
// the layout `handlerCode(name)` (lib/common/handler-code.ts) reads, so a consumer's `cdk synth` needs no esbuild;
// and the CLI into `dist/cli/index.js`, so the package has no runtime dependency.
// Handler names must be unique across domains: two `<name>.handler.ts` in different folders fail the build.
import { build } from 'esbuild';
import { copyFileSync, mkdirSync, readdirSync } from 'node:fs';
import { basename, join } from 'node:path';

const SUFFIX = '.handler.ts';
const entryPoints = [];
const seen = new Map();
for (const domain of readdirSync('lambda', { withFileTypes: true }).filter((d) => d.isDirectory())) {
  for (const file of readdirSync(join('lambda', domain.name)).filter((f) => f.endsWith(SUFFIX))) {
    const name = basename(file, SUFFIX);
    const path = join('lambda', domain.name, file);
    if (seen.has(name)) {
      throw new Error(`Two handlers named '${name}': ${seen.get(name)} and ${path}. Rename one: the asset is assets/<name>/index.js.`);
    }
    seen.set(name, path);
    entryPoints.push({ in: path, out: join(name, 'index') });
  }
}
if (entryPoints.length === 0) throw new Error(`No lambda/*/*${SUFFIX} found: run the build from the package root.`);

/** What every bundle shares: one CommonJS file per entry point, minified with names kept, maps without sources. */
const COMMON = {
  bundle: true,
  platform: 'node',
  format: 'cjs',
  minify: true,
  keepNames: true,
  // Stack traces stay readable (NODE_OPTIONS=--enable-source-maps) without shipping the dependencies' source text.
  sourcemap: true,
  sourcesContent: false,
  logLevel: 'warning',
};

await build({ ...COMMON, entryPoints, outdir: 'assets', target: 'node22' });

// The Fargate runner's Docker build context (lib/common/runner-task.ts builds it with ecs.ContainerImage.fromAsset):
// the task entrypoint, bundled like the handlers it runs, and container/Dockerfile.
await build({ ...COMMON, entryPoints: [{ in: 'lambda/runner/task-entrypoint.ts', out: 'task-entrypoint' }], outdir: 'assets/runner-image', target: 'node22' });
mkdirSync('assets/runner-image', { recursive: true });
copyFileSync('container/Dockerfile', 'assets/runner-image/Dockerfile');

// The CLI (`npx cdk-backup-dr`), bundled like the handlers, so the package needs no runtime dependency.
await build({ ...COMMON, entryPoints: [{ in: 'bin/cli.ts', out: 'index' }], outdir: 'dist/cli', target: 'node20' });
