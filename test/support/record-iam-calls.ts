/**
 * Jest setup of the workflows project: records every AWS SDK call a task makes — the handlers' calls as their
 * function, SDK integrations and Lambda invocations as the state machine — with the template that says which role
 * that is, and writes them for the IAM contract test (test/contract/iam-contract.test.ts) after the file's tests.
 *
 * The hook sits on the SDK's `Client.send`, which every v3 client (and lib-storage's Upload) goes through; the caller
 * comes from the local runner (local/caller.ts). Calls made outside a task (the tests' own setup and checks) are not
 * recorded; test code that runs inside a handler wrapper opts out with `outsideTask` (local/caller.ts).
 */
import { relative } from 'node:path';
import { Client } from '@smithy/core/client';
import { childCallListeners, taskCaller } from '../../local/caller';
import { LocalTaskTokens } from '../../local/ecs-task';
import { InProcessLambda } from '../../local/in-process-lambda';
import { type CfnTemplate, type JsonValue, TemplateResolver, type TemplateResolverOptions } from '../../local/template-resolver';
import type { LocalWorkflow } from '../../local/workflow-runner';
import { type RecordedCall, type RecordedResource, type RecordedTemplate, writeRecording } from './iam-recordings';

/** Resource types whose properties authorization depends on (roles, policies, resource policies, keys). */
const AUTHORIZATION_TYPES: ReadonlySet<string> = new Set([
  'AWS::IAM::Role',
  'AWS::IAM::Policy',
  'AWS::Lambda::Function',
  'AWS::StepFunctions::StateMachine',
  'AWS::S3::Bucket',
  'AWS::S3::BucketPolicy',
  'AWS::KMS::Key',
  'AWS::SecretsManager::Secret',
  'AWS::SecretsManager::ResourcePolicy',
  'AWS::SNS::Topic',
  'AWS::Scheduler::Schedule',
  'AWS::Events::Rule',
  'AWS::Lambda::Permission',
  'AWS::ECS::TaskDefinition',
]);
/** Input fields never written: payloads and secret values. */
const DROPPED_FIELDS: ReadonlySet<string> = new Set(['Body', 'SecretString', 'SecretBinary', 'MasterUserPassword', 'Value', 'Message']);

const templates: RecordedTemplate[] = [];
const templateIndex = new Map<object, number>();
const calls: RecordedCall[] = [];
const pending: Array<Promise<void>> = [];

/** Resource types of another app that authorize a workflow's calls on what it imported: the bucket, its policy, its key. */
const OWNED_ELSEWHERE_TYPES: ReadonlySet<string> = new Set(['AWS::S3::Bucket', 'AWS::S3::BucketPolicy', 'AWS::KMS::Key']);
const ownedElsewhere: Record<string, RecordedResource> = {};
const resourceTags: Record<string, Record<string, string>> = {};

/**
 * Records the tags of a resource the test created outside a task (a snapshot, a scratch database, a secret), so the
 * IAM contract evaluates `aws:ResourceTag/*` conditions of later calls on it as AWS would. `arn` as the authorization
 * table names the resource (test/contract/authorization.ts).
 */
export function recordResourceTags(arn: string, tags: Readonly<Record<string, string>>): void {
  resourceTags[arn] = { ...tags };
}

/**
 * Records the bucket, bucket policy and key of another app's template (resolved with `options`, whose `resources` bind
 * them to what the test created in moto) with every template this file runs, so the IAM contract evaluates the calls
 * of a workflow that imported that bucket against its real bucket policy and key policy, as AWS would. Call it before
 * the workflow runs.
 */
export function recordResourcesOwnedElsewhere(template: CfnTemplate | Readonly<Record<string, unknown>>, options: TemplateResolverOptions): void {
  const cfn = template as CfnTemplate;
  const resolver = new TemplateResolver(cfn, options);
  for (const [id, resource] of Object.entries(cfn.Resources ?? {})) {
    if (!OWNED_ELSEWHERE_TYPES.has(resource.Type)) continue;
    const arn = resource.Type === 'AWS::S3::BucketPolicy' ? undefined : String(resolver.resolve({ 'Fn::GetAtt': [id, 'Arn'] }));
    ownedElsewhere[`${options.stackName}/${id}`] = {
      type: resource.Type,
      ref: String(resolver.resolve({ Ref: id })),
      ...(arn === undefined ? {} : { arn }),
      properties: resolver.resolve(resource.Properties ?? {}) as Record<string, JsonValue>,
    };
  }
}

function indexOf(workflow: LocalWorkflow): number {
  let index = templateIndex.get(workflow);
  if (index !== undefined) return index;
  const resources: Record<string, RecordedResource> = {};
  for (const [id, resource] of Object.entries(workflow.template.Resources ?? {})) {
    if (!AUTHORIZATION_TYPES.has(resource.Type)) continue;
    const arn = (() => {
      try {
        return String(workflow.resolve({ 'Fn::GetAtt': [id, 'Arn'] }));
      } catch {
        return undefined;
      }
    })();
    resources[id] = {
      type: resource.Type,
      ref: String(workflow.resolve({ Ref: id })),
      ...(arn === undefined ? {} : { arn }),
      properties: workflow.resolve(resource.Properties ?? {}) as Record<string, JsonValue>,
    };
  }
  Object.assign(resources, ownedElsewhere);
  const arn = String(workflow.resolve({ Ref: workflow.stateMachineLogicalId }));
  const [, , , region, accountId] = arn.split(':');
  index = templates.push({ stateMachine: workflow.stateMachineLogicalId, accountId, region, resources }) - 1;
  templateIndex.set(workflow, index);
  return index;
}

function authorizationInput(input: unknown): Record<string, JsonValue> {
  const out: Record<string, JsonValue> = {};
  for (const [name, value] of Object.entries((input ?? {}) as Record<string, unknown>)) {
    if (DROPPED_FIELDS.has(name) || value === undefined) continue;
    if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') out[name] = value;
    else if (name === 'Tags') out[name] = JSON.parse(JSON.stringify(value)) as JsonValue;
    // DeleteObjects: S3 authorizes every key, so keep the keys and version ids (nothing else of the request).
    else if (name === 'Delete' && Array.isArray((value as { Objects?: unknown }).Objects)) {
      const objects = (value as { Objects: Array<{ Key?: string; VersionId?: string }> }).Objects;
      out[name] = { Objects: objects.map((o) => ({ Key: String(o.Key), ...(o.VersionId === undefined ? {} : { VersionId: o.VersionId }) })) };
    }
  }
  return out;
}

type Send = (this: Client<never, never, never, never>, command: { input?: unknown; constructor: { name: string } }, ...rest: unknown[]) => unknown;
const clientPrototype = Client.prototype as unknown as { send: Send; config: never };
const originalSend = clientPrototype.send;
clientPrototype.send = function send(command, ...rest) {
  const caller = taskCaller.getStore();
  if (caller !== undefined) {
    const config = (this as unknown as { config: { serviceId?: string; region: () => Promise<string> } }).config;
    const template = indexOf(caller.workflow as LocalWorkflow);
    pending.push(
      config.region().then((region) => {
        calls.push({
          template,
          principal: caller.principal,
          service: config.serviceId ?? 'unknown',
          operation: command.constructor.name.replace(/Command$/, ''),
          region,
          input: authorizationInput(command.input),
        });
      }),
    );
  }
  return originalSend.call(this, command, ...rest);
};

const originalInvoke = InProcessLambda.prototype.invoke;
InProcessLambda.prototype.invoke = function invoke(event) {
  const caller = taskCaller.getStore();
  if (caller !== undefined) {
    const workflow = caller.workflow as LocalWorkflow;
    const template = indexOf(workflow);
    calls.push({
      template,
      // EventBridge invokes a rule's target with the function's resource policy; otherwise the state machine's role.
      principal: caller.invokedBy ?? workflow.stateMachineLogicalId,
      service: 'Lambda',
      operation: 'Invoke',
      region: templates[template].region,
      input: { FunctionName: this.spec.functionArn },
    });
  }
  return originalInvoke.call(this, event);
};

// A Fargate task started by a state machine: RunTask (and PassRole of its roles) with the state machine's role.
const originalRunTask = LocalTaskTokens.prototype.run;
LocalTaskTokens.prototype.run = function run(binding, spec, onCall, notes) {
  const caller = taskCaller.getStore();
  if (caller !== undefined) {
    const workflow = caller.workflow as LocalWorkflow;
    const template = indexOf(workflow);
    calls.push({
      template,
      principal: workflow.stateMachineLogicalId,
      service: 'ECS',
      operation: 'RunTask',
      region: templates[template].region,
      input: { taskDefinition: spec.taskDefinitionArn, cluster: spec.cluster, passRoles: spec.roleArns.join(',') },
    });
  }
  return originalRunTask.call(this, binding, spec, onCall, notes);
};

// The SDK calls of a Fargate task's child process, made with the task role. SendTask* carry only the token, which
// names the execution's state machine: that is the resource Step Functions authorizes them on.
childCallListeners.add((caller, call) => {
  const workflow = caller.workflow as LocalWorkflow;
  const input = call.service === 'SFN' && call.operation.startsWith('SendTask')
    ? { stateMachineArn: String(workflow.resolve({ Ref: workflow.stateMachineLogicalId })) }
    : authorizationInput(call.input);
  calls.push({ template: indexOf(workflow), principal: caller.principal, service: call.service, operation: call.operation, region: call.region, input });
});

/** Test files whose workflows are not the product's: they test the local runner on toy templates and handlers. */
const NOT_PRODUCT_WORKFLOWS: ReadonlySet<string> = new Set(['test/workflows/harness.test.ts', 'test/workflows/ecs-task-runner.test.ts']);

afterAll(async () => {
  await Promise.all(pending);
  const testFile = relative(process.cwd(), expect.getState().testPath ?? 'unknown');
  if (!NOT_PRODUCT_WORKFLOWS.has(testFile)) writeRecording({ testFile, templates, calls, ...(Object.keys(resourceTags).length > 0 ? { resourceTags } : {}) });
});
