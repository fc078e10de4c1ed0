/**
 * Evaluates recorded calls (test/support/record-iam-calls.ts) against the synthesized IAM of their template with
 * `@cloud-copilot/iam-simulate` (AGPL-3.0: used by this test only, never by lib/, lambda/, local/ or bin/): the
 * identity policies of the caller's role and the resource policy that applies (bucket policy, KMS key policy, secret
 * policy). Requests are made over TLS (`aws:SecureTransport`), as the SDK clients make them.
 */
import { type RunSimulationResults, runSimulation, type Simulation } from '@cloud-copilot/iam-simulate';
import type { JsonValue } from '../../local/template-resolver';
import type { RecordedCall, RecordedResource, RecordedTemplate, Recording } from '../support/iam-recordings';
import { type AuthorizationRequest, type CallContext, authorizationOf, kmsKeyArn, rdsArn, requestTags } from './authorization';

type PolicyDocument = { readonly Version?: string; readonly Statement: ReadonlyArray<Readonly<Record<string, JsonValue>>> };

/** One authorization of one call, and its outcome. */
export interface Evaluation {
  readonly testFile: string;
  /** Who called: `<logical id of the function, state machine or schedule> (role <role logical id>)`. */
  readonly caller: string;
  /** The stable name of the caller across test stacks: its logical id without the hash CDK appends. */
  readonly callerName: string;
  readonly call: string;
  readonly request: AuthorizationRequest;
  readonly allowed: boolean;
  /** For a denial: the statement that denies, or why no statement allows. */
  readonly reason?: string;
}

/** Granted actions of one caller (identity policy `Allow` statements), by caller name. */
export type Grants = Map<string, Set<string>>;

/** The default key policy (the account may delegate to IAM), for keys the template does not define. */
const DEFAULT_KEY_POLICY = (accountId: string): PolicyDocument => ({
  Version: '2012-10-17',
  Statement: [{ Sid: 'Enable IAM User Permissions', Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${accountId}:root` }, Action: 'kms:*', Resource: '*' }],
});

/** The IAM of one recorded template. */
class TemplateIam {
  constructor(private readonly template: RecordedTemplate) {}

  private ofType(type: string): Array<[string, RecordedResource]> {
    return Object.entries(this.template.resources).filter(([, resource]) => resource.type === type);
  }

  /** The role (logical id) a caller runs as. */
  roleOf(principal: string): string {
    const resource = this.template.resources[principal];
    if (resource === undefined) throw new Error(`${principal} is not a resource of the recorded template`);
    const roleArn =
      resource.type === 'AWS::Lambda::Function'
        ? resource.properties.Role
        : resource.type === 'AWS::StepFunctions::StateMachine'
          ? resource.properties.RoleArn
          : resource.type === 'AWS::ECS::TaskDefinition'
            ? resource.properties.TaskRoleArn
            : (resource.properties.Target as { RoleArn?: JsonValue } | undefined)?.RoleArn;
    const role = this.ofType('AWS::IAM::Role').find(([, r]) => r.arn === roleArn);
    if (role === undefined) throw new Error(`the role of ${principal} (${String(roleArn)}) is not in the template`);
    return role[0];
  }

  roleArn(roleId: string): string {
    return String(this.template.resources[roleId].arn);
  }

  /** Every policy attached to the role: AWS::IAM::Policy resources and the role's inline policies. */
  identityPolicies(roleId: string): Array<{ name: string; policy: PolicyDocument }> {
    const role = this.template.resources[roleId];
    const attached = this.ofType('AWS::IAM::Policy')
      .filter(([, policy]) => (policy.properties.Roles as JsonValue[] | undefined)?.includes(role.ref) === true)
      .map(([id, policy]) => ({ name: id, policy: policy.properties.PolicyDocument as unknown as PolicyDocument }));
    const inline = ((role.properties.Policies as unknown as Array<{ PolicyName: string; PolicyDocument: PolicyDocument }> | undefined) ?? []).map((p) => ({
      name: `${roleId}/${p.PolicyName}`,
      policy: p.PolicyDocument,
    }));
    return [...attached, ...inline];
  }

  private bucket(name: string): RecordedResource | undefined {
    return this.ofType('AWS::S3::Bucket').find(([, bucket]) => bucket.ref === name)?.[1];
  }

  bucketKey(name: string): string | undefined {
    const encryption = this.bucket(name)?.properties.BucketEncryption as
      | { ServerSideEncryptionConfiguration?: Array<{ ServerSideEncryptionByDefault?: { SSEAlgorithm?: string; KMSMasterKeyID?: string } }> }
      | undefined;
    const rule = encryption?.ServerSideEncryptionConfiguration?.[0]?.ServerSideEncryptionByDefault;
    return rule?.SSEAlgorithm === 'aws:kms' ? rule.KMSMasterKeyID : undefined;
  }

  secretKey(arn: string): string | undefined {
    const secret = this.ofType('AWS::SecretsManager::Secret').find(([, s]) => s.ref === arn)?.[1];
    return secret?.properties.KmsKeyId as string | undefined;
  }

  topicKey(arn: string): string | undefined {
    const topic = this.ofType('AWS::SNS::Topic').find(([, t]) => t.ref === arn)?.[1];
    return topic?.properties.KmsMasterKeyId as string | undefined;
  }

  /** The resource policy AWS evaluates with a request, and what it is called in messages. */
  resourcePolicy(request: AuthorizationRequest, call: CallContext): { name: string; policy: PolicyDocument } | undefined {
    const [service] = request.action.split(':');
    if (service === 's3') {
      const bucket = request.resource.slice('arn:aws:s3:::'.length).split('/')[0];
      const policy = this.ofType('AWS::S3::BucketPolicy').find(([, p]) => p.properties.Bucket === bucket);
      return policy === undefined ? undefined : { name: `bucket policy ${policy[0]}`, policy: policy[1].properties.PolicyDocument as unknown as PolicyDocument };
    }
    if (service === 'kms') {
      const key = this.ofType('AWS::KMS::Key').find(([, k]) => k.arn === request.resource || kmsKeyArn(call, k.ref) === request.resource);
      return key === undefined
        ? { name: 'default key policy (key not in this template)', policy: DEFAULT_KEY_POLICY(this.template.accountId) }
        : { name: `key policy of ${key[0]}`, policy: key[1].properties.KeyPolicy as unknown as PolicyDocument };
    }
    if (service === 'secretsmanager') {
      const policy = this.ofType('AWS::SecretsManager::ResourcePolicy').find(([, p]) => p.properties.SecretId === request.resource);
      return policy === undefined ? undefined : { name: `secret policy ${policy[0]}`, policy: policy[1].properties.ResourcePolicy as unknown as PolicyDocument };
    }
    return undefined;
  }

  /** The calls the Scheduler makes for each schedule: StartExecution of its target with the schedule's role. */
  scheduledCalls(): Array<{ principal: string; input: Record<string, JsonValue> }> {
    return this.ofType('AWS::Scheduler::Schedule').map(([id, schedule]) => ({
      principal: id,
      input: { stateMachineArn: (schedule.properties.Target as { Arn: JsonValue }).Arn },
    }));
  }
}

/** `BackupDumpFunction1A2B3C4D` -> `BackupDumpFunction`. */
export function callerName(logicalId: string): string {
  return logicalId.replace(/[0-9A-F]{8}$/, '');
}

/** The explicit deny, or else the policies that were searched for an allow. */
function denialReason(result: RunSimulationResults, identity: readonly string[], resourcePolicy: string | undefined): string {
  if (result.resultType === 'error') return `the simulator refused the request: ${JSON.stringify(result.errors)}`;
  const analysis = result.resultType === 'single' ? result.result.analysis : result.results[0]?.analysis;
  const denies = [...(analysis?.identityAnalysis?.denyStatements ?? []), ...(analysis?.resourceAnalysis?.denyStatements ?? [])];
  if (denies.length > 0) {
    return `denied by ${denies.map((d) => `statement ${JSON.stringify(d.statement.sid() ?? d.explain.identifier)} (${d.policyId ?? resourcePolicy ?? 'policy'})`).join(', ')}`;
  }
  const identityAllows = analysis?.identityAnalysis?.result === 'Allowed';
  if (!identityAllows) return `no statement of the role's policies (${identity.join(', ') || 'none'}) allows it: add a statement`;
  return `the ${resourcePolicy ?? 'resource policy'} does not allow it`;
}

/**
 * A rule's invocation of its target function: EventBridge has no role for it; the function's resource policy (an
 * `AWS::Lambda::Permission` for `events.amazonaws.com` with the rule as `SourceArn`) must allow it.
 */
function ruleInvocation(testFile: string, template: RecordedTemplate, call: RecordedCall): Evaluation {
  const rule = template.resources[call.principal];
  const functionArn = String(call.input.FunctionName);
  const request: AuthorizationRequest = { action: 'lambda:InvokeFunction', resource: functionArn, context: { 'aws:SourceArn': String(rule.arn) } };
  const allowed = Object.values(template.resources).some(
    (r) =>
      r.type === 'AWS::Lambda::Permission' &&
      r.properties.Action === 'lambda:InvokeFunction' &&
      r.properties.Principal === 'events.amazonaws.com' &&
      r.properties.FunctionName === functionArn &&
      r.properties.SourceArn === rule.arn,
  );
  return {
    testFile,
    caller: `${call.principal} (EventBridge rule, the function's resource policy)`,
    callerName: callerName(call.principal),
    call: `${call.service} ${call.operation} in ${call.region}`,
    request,
    allowed,
    ...(allowed ? {} : { reason: `no AWS::Lambda::Permission lets events.amazonaws.com invoke ${functionArn} from ${String(rule.arn)}` }),
  };
}

/** Evaluates every call of every recording, the Scheduler's StartExecution calls included. */
export async function evaluateRecordings(recordings: readonly Recording[]): Promise<{ evaluations: Evaluation[]; grants: Grants; calls: number }> {
  const evaluations: Evaluation[] = [];
  const grants: Grants = new Map();
  let calls = 0;
  for (const recording of recordings) {
    const iams = recording.templates.map((template) => new TemplateIam(template));
    const tags = new Map<string, Record<string, string>>(Object.entries(recording.resourceTags ?? {}).map(([arn, t]) => [arn, { ...t }]));
    const scheduled: RecordedCall[] = recording.templates.flatMap((template, index) =>
      iams[index].scheduledCalls().map(({ principal, input }) => ({
        template: index,
        principal,
        service: 'Scheduler',
        operation: 'StartExecution',
        region: template.region,
        input,
      })),
    );
    for (const call of [...recording.calls, ...scheduled]) {
      calls += 1;
      const template = recording.templates[call.template];
      const iam = iams[call.template];
      if (template.resources[call.principal]?.type === 'AWS::Events::Rule') {
        evaluations.push(ruleInvocation(recording.testFile, template, call));
        continue;
      }
      const roleId = iam.roleOf(call.principal);
      const identity = iam.identityPolicies(roleId);
      const name = callerName(call.principal);
      const granted = grants.get(name) ?? new Set<string>();
      grants.set(name, granted);
      for (const { policy } of identity) {
        for (const statement of policy.Statement) {
          if (statement.Effect !== 'Allow') continue;
          for (const action of [statement.Action].flat()) if (typeof action === 'string') granted.add(action);
        }
      }
      const context: CallContext = {
        input: call.input,
        region: call.region,
        accountId: template.accountId,
        bucketKey: (bucket) => iam.bucketKey(bucket),
        secretKey: (arn) => iam.secretKey(arn),
        topicKey: (arn) => iam.topicKey(arn),
        tagsOf: (arn) => tags.get(arn) ?? {},
      };
      const requests = authorizationOf(call.service, call.operation, context);
      for (const request of requests) {
        const resourcePolicy = iam.resourcePolicy(request, context);
        const simulation: Simulation = {
          identityPolicies: identity.map(({ name: policyName, policy }) => ({ name: policyName, policy: policy as never })),
          serviceControlPolicies: [],
          resourceControlPolicies: [],
          ...(resourcePolicy === undefined ? {} : { resourcePolicy: resourcePolicy.policy as never }),
          request: {
            principal: iam.roleArn(roleId),
            action: request.action,
            resource: { accountId: template.accountId, resource: request.resource },
            contextVariables: { 'aws:SecureTransport': 'true', 'aws:PrincipalArn': iam.roleArn(roleId), ...request.context },
          },
        };
        let allowed: boolean;
        let reason: string | undefined;
        if (request.resourceNotInReference) {
          allowed = identity.some(({ policy }) => policy.Statement.some((statement) => statementAllows(statement, request)));
          reason = `no unconditional Allow of ${request.action} on ${request.resource} in ${identity.map((p) => p.name).join(', ')}`;
        } else {
          const result = await runSimulation(simulation, {});
          allowed = result.resultType !== 'error' && result.overallResult === 'Allowed';
          reason = allowed ? undefined : denialReason(result, identity.map((p) => p.name), resourcePolicy?.name);
        }
        evaluations.push({
          testFile: recording.testFile,
          caller: `${call.principal} (role ${roleId})`,
          callerName: name,
          call: `${call.service} ${call.operation} in ${call.region}`,
          request,
          allowed,
          ...(allowed ? {} : { reason }),
        });
      }
      rememberTags(call, context, tags);
    }
  }
  return { evaluations, grants, calls };
}

/** Resources created with tags in a recording, so later calls on them see `aws:ResourceTag/*`. */
function rememberTags(call: RecordedCall, context: CallContext, tags: Map<string, Record<string, string>>): void {
  const created: Record<string, () => string> = {
    CreateDBInstance: () => rdsArn(context, 'db', String(call.input.DBInstanceIdentifier)),
    RestoreDBInstanceFromDBSnapshot: () => rdsArn(context, 'db', String(call.input.DBInstanceIdentifier)),
    RestoreDBInstanceToPointInTime: () => rdsArn(context, 'db', String(call.input.TargetDBInstanceIdentifier)),
    RestoreDBClusterFromSnapshot: () => rdsArn(context, 'cluster', String(call.input.DBClusterIdentifier)),
    RestoreDBClusterToPointInTime: () => rdsArn(context, 'cluster', String(call.input.DBClusterIdentifier)),
    CreateDBSnapshot: () => rdsArn(context, 'snapshot', String(call.input.DBSnapshotIdentifier)),
    CopyDBSnapshot: () => rdsArn(context, 'snapshot', String(call.input.TargetDBSnapshotIdentifier)),
    CreateSecret: () => `arn:aws:secretsmanager:${call.region}:${context.accountId}:secret:${String(call.input.Name)}-AbCdEf`,
  };
  const arn = created[call.operation];
  if (arn === undefined) return;
  const requested = requestTags(context);
  const values: Record<string, string> = {};
  for (const [key, value] of Object.entries(requested)) if (key.startsWith('aws:RequestTag/')) values[key.slice('aws:RequestTag/'.length)] = String(value);
  tags.set(arn(), values);
}

/** An unconditional Allow of the request's action on its resource (for actions the simulator cannot scope). */
function statementAllows(statement: Readonly<Record<string, JsonValue>>, request: AuthorizationRequest): boolean {
  if (statement.Effect !== 'Allow' || statement.Condition !== undefined) return false;
  const actions = [statement.Action].flat().filter((a): a is string => typeof a === 'string');
  const resources = [statement.Resource].flat().filter((r): r is string => typeof r === 'string');
  return actions.some((a) => actionMatches(a, request.action)) && resources.some((r) => actionMatches(r, request.resource));
}

/** `s3:GetObject*` matches `s3:GetObjectVersion`. */
export function actionMatches(pattern: string, action: string): boolean {
  const regex = new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`, 'i');
  return regex.test(action);
}

/** Per caller name: the granted action patterns no allowed request used. */
export function unusedGrants(evaluations: readonly Evaluation[], grants: Grants): Record<string, string[]> {
  const used = new Map<string, string[]>();
  for (const evaluation of evaluations) {
    if (!evaluation.allowed) continue;
    const actions = used.get(evaluation.callerName) ?? [];
    actions.push(evaluation.request.action);
    used.set(evaluation.callerName, actions);
  }
  const out: Record<string, string[]> = {};
  for (const [name, patterns] of [...grants.entries()].sort(([a], [b]) => a.localeCompare(b))) {
    const unused = [...patterns].filter((pattern) => !(used.get(name) ?? []).some((action) => actionMatches(pattern, action))).sort();
    if (unused.length > 0) out[name] = unused;
  }
  return out;
}
