/**
 * A deployed stack as the CLI needs it: its backup bucket, its state machines by workflow and its alarms, from the
 * stack's outputs and resources (CloudFormation DescribeStacks and ListStackResources, paginated).
 *
 * A state machine's workflow is read from the `Comment` of its definition, which every workflow of this package
 * starts with `cdk-backup-dr <workflow>` (lib/*: backup, recovery test (dump|snapshot), failover, retention cleanup),
 * so renamed construct ids do not matter. The backup bucket is a stack output whose value names an
 * `AWS::S3::Bucket` of the stack (BackupBucket publishes its name that way), else the one bucket of the stack that is
 * not an access-logs bucket; `--bucket` overrides.
 */
import { DescribeStacksCommand, ListStackResourcesCommand, type StackResourceSummary } from '@aws-sdk/client-cloudformation';
import { DescribeStateMachineCommand } from '@aws-sdk/client-sfn';
import { awsErrorInfo } from '../lambda/aws/aws-error';
import type { AwsClients } from './aws';
import { NotFound, UsageError } from './io';

/** The workflows a stack's state machines run. */
export type Workflow = 'backup' | 'recovery-test' | 'failover' | 'cleanup';

/** A state machine of the stack. */
export interface StackStateMachine {
  readonly arn: string;
  readonly logicalId: string;
  readonly workflow: Workflow;
  /** For a recovery test: `dump` or `snapshot`; for a failover: its strategies. */
  readonly detail?: string;
}

/** What {@link resolveStack} found. */
export interface ResolvedStack {
  readonly name: string;
  readonly bucket?: string;
  readonly stateMachines: readonly StackStateMachine[];
  /** Names of the stack's CloudWatch alarms. */
  readonly alarms: readonly string[];
}

/** The workflow a definition's `Comment` names, with its detail, or undefined for a state machine not of this package. */
export function workflowOfComment(comment: unknown): { workflow: Workflow; detail?: string } | undefined {
  if (typeof comment !== 'string') return undefined;
  const match = /^cdk-backup-dr (backup|recovery test|failover|retention cleanup)\b(?: \(([^)]*)\))?/.exec(comment);
  if (!match) return undefined;
  const workflow = ({ backup: 'backup', 'recovery test': 'recovery-test', failover: 'failover', 'retention cleanup': 'cleanup' } as const)[
    match[1] as 'backup' | 'recovery test' | 'failover' | 'retention cleanup'
  ];
  return { workflow, ...(match[2] ? { detail: match[2] } : {}) };
}

/** Every resource of a stack, page by page. */
async function stackResources(aws: AwsClients, stack: string): Promise<StackResourceSummary[]> {
  const out: StackResourceSummary[] = [];
  let token: string | undefined;
  do {
    const page = await aws.cloudFormation.send(new ListStackResourcesCommand({ StackName: stack, NextToken: token }));
    out.push(...(page.StackResourceSummaries ?? []));
    token = page.NextToken;
  } while (token);
  return out;
}

/** Resolves a stack by name. @throws NotFound when the stack does not exist */
export async function resolveStack(aws: AwsClients, name: string): Promise<ResolvedStack> {
  let outputs: { OutputKey?: string; OutputValue?: string }[];
  try {
    const described = await aws.cloudFormation.send(new DescribeStacksCommand({ StackName: name }));
    outputs = described.Stacks?.[0]?.Outputs ?? [];
  } catch (error) {
    if (/does not exist/.test(awsErrorInfo(error).text)) {
      throw new NotFound(`stack ${name} does not exist in ${await aws.resolvedRegion()} (check --stack and --region)`);
    }
    throw error;
  }
  const resources = await stackResources(aws, name);
  const buckets = resources.filter((r) => r.ResourceType === 'AWS::S3::Bucket' && r.PhysicalResourceId);
  const bucketNames = new Set(buckets.map((b) => b.PhysicalResourceId!));
  const fromOutput = outputs.find((o) => o.OutputValue !== undefined && bucketNames.has(o.OutputValue) && /bucket/i.test(o.OutputKey ?? ''));
  const backupBuckets = buckets.filter((b) => !/AccessLogs/i.test(b.LogicalResourceId ?? ''));
  const bucket = fromOutput?.OutputValue ?? (backupBuckets.length === 1 ? backupBuckets[0].PhysicalResourceId : undefined);

  const stateMachines: StackStateMachine[] = [];
  for (const r of resources.filter((x) => x.ResourceType === 'AWS::StepFunctions::StateMachine' && x.PhysicalResourceId)) {
    const described = await aws.sfn.send(new DescribeStateMachineCommand({ stateMachineArn: r.PhysicalResourceId! }));
    let comment: unknown;
    try {
      comment = (JSON.parse(described.definition ?? '{}') as { Comment?: unknown }).Comment;
    } catch {
      comment = undefined;
    }
    const kind = workflowOfComment(comment);
    if (kind) stateMachines.push({ arn: r.PhysicalResourceId!, logicalId: r.LogicalResourceId ?? '', ...kind });
  }
  const alarms = resources.filter((r) => r.ResourceType === 'AWS::CloudWatch::Alarm' && r.PhysicalResourceId).map((r) => r.PhysicalResourceId!);
  return { name, ...(bucket ? { bucket } : {}), stateMachines, alarms };
}

/** The bucket: `--bucket`, else the stack's. @throws UsageError / NotFound saying what to pass */
export function bucketOf(stack: ResolvedStack | undefined, given: string | undefined): string {
  if (given) return given;
  if (!stack) throw new UsageError('--bucket or --stack is required');
  if (!stack.bucket) throw new NotFound(`stack ${stack.name} has no single backup bucket (none, or several): pass --bucket`);
  return stack.bucket;
}

/**
 * The one state machine of `workflow` (a recovery test of `kind` when given).
 *
 * @throws NotFound when the stack has none, UsageError when several match and `kind` would choose
 */
export function stateMachineOf(stack: ResolvedStack, workflow: Workflow, kind?: string): StackStateMachine {
  const all = stack.stateMachines.filter((s) => s.workflow === workflow);
  const matching = kind === undefined ? all : all.filter((s) => s.detail === kind);
  if (matching.length === 1) return matching[0];
  if (all.length === 0) throw new NotFound(`stack ${stack.name} has no ${workflow} state machine (is it the stack with the ${workflow} construct?)`);
  if (matching.length === 0) throw new NotFound(`stack ${stack.name} has no ${workflow} state machine of kind ${kind}; it has ${all.map((s) => s.detail).join(', ')}`);
  throw new UsageError(`stack ${stack.name} has ${matching.length} ${workflow} state machines (${matching.map((s) => s.detail ?? s.logicalId).join(', ')}): choose one with --kind`);
}
