/**
 * What the earlier test projects leave for the contract project (test/contract/): the AWS calls the workflow tests
 * record (where they are kept and their shape; each workflow test file writes one file) and the templates the
 * constructs tests synthesize.
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { JsonValue } from '../../local/template-resolver';

// In the checkout, not under node_modules: checkouts that share one node_modules (git worktrees) must not read each
// other's recordings.
const CACHE = join(__dirname, '..', '..', '.test-cache');
/** Where the recordings of the last workflow test run are kept (one JSON file per test file). */
export const RECORDINGS_DIR = join(CACHE, 'iam-calls');
/** Where the constructs tests keep the templates they synthesized, for cfn-lint (test/support/record-templates.ts). */
export const TEMPLATES_DIR = join(CACHE, 'construct-templates');

/** A template resource that takes part in authorization, with its intrinsics resolved to the run's local values. */
export interface RecordedResource {
  readonly type: string;
  /** What `Ref` returns. */
  readonly ref: string;
  /** `Fn::GetAtt [id, Arn]`, when the type has one. */
  readonly arn?: string;
  readonly properties: Readonly<Record<string, JsonValue>>;
}

/** One template a workflow test ran, reduced to what IAM evaluation needs. */
export interface RecordedTemplate {
  readonly stateMachine: string;
  readonly accountId: string;
  readonly region: string;
  readonly resources: Readonly<Record<string, RecordedResource>>;
}

/** One SDK call (or Lambda invocation by a state machine) and who made it. */
export interface RecordedCall {
  /** Index into {@link Recording.templates}. */
  readonly template: number;
  /** Logical id of the function or state machine whose role makes the call, or of the EventBridge rule that invokes a function. */
  readonly principal: string;
  /** SDK `serviceId` (`S3`, `RDS`, `Secrets Manager`…), or `Lambda` for an invocation by the state machine. */
  readonly service: string;
  /** SDK operation (`PutObject`), `Invoke` for a Lambda invocation. */
  readonly operation: string;
  readonly region: string;
  /** The command's input without bodies and secret values. */
  readonly input: Readonly<Record<string, JsonValue>>;
}

export interface Recording {
  readonly testFile: string;
  readonly templates: readonly RecordedTemplate[];
  readonly calls: readonly RecordedCall[];
  /** Tags of resources the test created outside a task, by ARN ({@link RecordedCall}s on them see them as `aws:ResourceTag/*`). */
  readonly resourceTags?: Readonly<Record<string, Readonly<Record<string, string>>>>;
}

export function writeRecording(recording: Recording): void {
  mkdirSync(RECORDINGS_DIR, { recursive: true });
  writeFileSync(join(RECORDINGS_DIR, `${recording.testFile.replace(/[\\/]/g, '__')}.json`), JSON.stringify(recording));
}

/** Every recording of the last workflow run; empty when there is none. */
export function readRecordings(): Recording[] {
  let files: string[];
  try {
    files = readdirSync(RECORDINGS_DIR).filter((name) => name.endsWith('.json'));
  } catch {
    return [];
  }
  return files.sort().map((name) => JSON.parse(readFileSync(join(RECORDINGS_DIR, name), 'utf8')) as Recording);
}
