/**
 * The IAM contract: every AWS call the handlers and state machines made in the workflow tests (recorded by
 * test/support/record-iam-calls.ts, with the template of their run) is allowed by the synthesized IAM of the role
 * that makes it in AWS — the identity policies, the bucket policy with its Deny statements, the KMS key policies,
 * the secret policies — and no role keeps a grant that no call needed without a reason (./unused-grants.ts).
 *
 * Runs after the workflows project (`npm test` runs this project last): the recordings are that run's.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { RECORDINGS_DIR, type Recording, readRecordings } from '../support/iam-recordings';
import { type Evaluation, callerName, evaluateRecordings, unusedGrants } from './iam-evaluation';
import { UNREPORTED_END_NOTIFIER_ID } from '../../lib/common/unreported-end-notifier';
import { UNUSED_GRANTS } from './unused-grants';

let recordings: Recording[];
let evaluations: Evaluation[];
let unused: Record<string, string[]>;

beforeAll(async () => {
  recordings = readRecordings();
  if (recordings.length === 0 || recordings.every((recording) => recording.calls.length === 0)) {
    throw new Error(
      `no recorded AWS calls in ${RECORDINGS_DIR}: the workflow tests record them. Run them first ` +
        '(npx jest --selectProjects workflows), then this project (npx jest --selectProjects contract), or run npm test',
    );
  }
  const evaluated = await evaluateRecordings(recordings);
  evaluations = evaluated.evaluations;
  unused = unusedGrants(evaluations, evaluated.grants);
  const actions = new Set(evaluations.map((e) => e.request.action));
  const callers = new Set(evaluations.map((e) => e.callerName));
  process.stdout.write(
    `IAM contract: ${evaluated.calls} recorded calls from ${recordings.length} test files, ${evaluations.length} authorizations, ` +
      `${actions.size} distinct actions, ${callers.size} callers (${[...callers].sort().join(', ')})\n`,
  );
}, 300_000);

test('every recorded call is allowed by the role that makes it and the resource policies that apply', () => {
  const denied = evaluations.filter((e) => !e.allowed);
  const lines = [...new Set(denied.map((e) => `${e.caller}: ${e.request.action} on ${e.request.resource} (${e.call}, ${e.testFile}) — ${e.reason}`))];
  expect(lines).toEqual([]);
});

test('every granted action that no recorded call used is listed with its reason in unused-grants.ts', () => {
  const expected = Object.fromEntries(Object.entries(UNUSED_GRANTS).map(([caller, grants]) => [caller, Object.keys(grants).sort()]));
  // A new entry here is a grant no call needs: remove it, or add it to unused-grants.ts with the reason it stays.
  expect(unused).toEqual(expected);
});

/**
 * Functions that only an EventBridge rule invokes, on an event the local runner does not emit by itself: the stack's
 * unreported-end notifier (lib/common/unreported-end-notifier.ts) runs only when a run times out or is aborted. A
 * workflow test delivers that event with LocalWorkflow.deliverStatusChange, so its calls are recorded and authorized;
 * it need not in every file, as the function, its code and its one kind of grant (publish to the workflows' topics)
 * are the same in every stack. It has to run in one file at least.
 */
const EVENT_ONLY_FUNCTIONS: ReadonlySet<string> = new Set([`${UNREPORTED_END_NOTIFIER_ID}Function`]);

test('every function of every recorded template ran in the workflow tests', () => {
  // CDK's own provider functions (custom resources, log retention) carry a 32-hex-digit id; they run at deploy time.
  const isProviderFunction = (id: string) => /[0-9a-f]{32}/i.test(id) || id.startsWith('Custom');
  const notRun: string[] = [];
  const eventOnly = new Map<string, boolean>();
  for (const recording of recordings) {
    const invoked = new Set(recording.calls.filter((call) => call.service === 'Lambda').map((call) => String(call.input.FunctionName)));
    for (const template of recording.templates) {
      for (const [id, resource] of Object.entries(template.resources)) {
        if (resource.type !== 'AWS::Lambda::Function' || isProviderFunction(id)) continue;
        const ran = invoked.has(String(resource.arn));
        if (EVENT_ONLY_FUNCTIONS.has(callerName(id))) eventOnly.set(callerName(id), (eventOnly.get(callerName(id)) ?? false) || ran);
        else if (!ran) notRun.push(`${callerName(id)} (${recording.testFile})`);
      }
    }
  }
  for (const [name, ran] of eventOnly) if (!ran) notRun.push(`${name} (in no file)`);
  expect(notRun).toEqual([]);
});

test('the AGPL-3.0 evaluator stays in the tests: nothing under lib/, lambda/, local/ or bin/ imports it', () => {
  const root = join(__dirname, '..', '..');
  const importers = ['lib', 'lambda', 'local', 'bin']
    .flatMap((dir) => readdirSync(join(root, dir), { recursive: true, encoding: 'utf8' }).map((file) => join(dir, file)))
    .filter((file) => file.endsWith('.ts') && readFileSync(join(root, file), 'utf8').includes('@cloud-copilot/'));
  expect(importers).toEqual([]);
});
