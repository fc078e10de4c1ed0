import * as fs from 'fs';
import * as path from 'path';
import * as lambda from 'aws-cdk-lib/aws-lambda';

/**
 * Locates the pre-bundled handler `assets/<name>/index.js` shipped with the package.
 *
 * Handlers are bundled by `npm run build` (esbuild), so a consumer's `cdk synth` needs neither esbuild nor Docker.
 * The same lookup works from the TypeScript sources (`lib/`) and from the compiled package (`dist/lib/`).
 */
export function handlerAssetPath(name: string): string {
  const candidates = [
    path.join(__dirname, '..', '..', 'assets', name),
    path.join(__dirname, '..', '..', '..', 'assets', name),
  ];
  const found = candidates.find((dir) => fs.existsSync(path.join(dir, 'index.js')));
  if (!found) {
    throw new Error(
      `The bundled handler '${name}' was not found (looked in ${candidates.join(', ')}). ` +
        'Run `npm run build` to bundle the Lambda handlers into assets/.',
    );
  }
  return found;
}

/** `lambda.Code` for a pre-bundled handler. */
export function handlerCode(name: string): lambda.Code {
  return lambda.Code.fromAsset(handlerAssetPath(name));
}

/** The Docker build context of the Fargate runner's image (`assets/runner-image`: its Dockerfile and task entrypoint). */
export function runnerImagePath(): string {
  const candidates = [path.join(__dirname, '..', '..', 'assets', 'runner-image'), path.join(__dirname, '..', '..', '..', 'assets', 'runner-image')];
  const found = candidates.find((dir) => fs.existsSync(path.join(dir, 'Dockerfile')) && fs.existsSync(path.join(dir, 'task-entrypoint.js')));
  if (!found) {
    throw new Error(`The Fargate runner's image context was not found (looked in ${candidates.join(', ')}). Run \`npm run build\` to stage it into assets/runner-image.`);
  }
  return found;
}
