/**
 * The local workflow runner (local/workflow-runner.ts, used through test/support/workflow-harness.ts), on state
 * machines synthesized here: Lambda tasks run in-process with the template's environment, SDK integrations reach
 * the harness' moto, Retry/Catch see the error names AWS uses.
 */
import { GetObjectCommand, HeadObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { App, Aws, Duration, Fn, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { sfnFieldAliases, sfnFieldName, sfnSdkErrorName, splitOnWordBoundaries } from '../../local/sfn-naming';
import { TemplateResolver } from '../../local/template-resolver';
import { harnessEnv } from '../support/env';
import { createTestBucket, createTopic, snsMessages } from '../support/moto';
import {
  type LambdaContext,
  LocalWorkflow,
  LocalWorkflowError,
  logicalIdOf,
  runLocalWorkflow,
} from '../support/workflow-harness';

class NotReady extends Error {
  override readonly name = 'NotReady';
}
class ReportBroken extends Error {
  override readonly name = 'ReportBroken';
}

function newFunction(stack: Stack, id: string, props: Partial<lambda.FunctionProps> = {}): lambda.Function {
  return new lambda.Function(stack, id, {
    runtime: lambda.Runtime.NODEJS_24_X,
    handler: 'index.handler',
    code: lambda.Code.fromInline('exports.handler = async () => ({});'),
    ...props,
  });
}

/**
 * Prepare report (Lambda, Retry on NotReady, Catch all -> Notify failure -> Preparation failed)
 *   -> Worth writing? (Choice) -> Cool down (Wait 1 h) -> Write report (aws-sdk s3:putObject) -> Announce (sns:publish) -> Done
 *                              -> Rejected (Fail)
 */
function reportStack() {
  const app = new App();
  const stack = new Stack(app, 'HarnessTest');
  const bucket = new s3.Bucket(stack, 'Reports');
  const topic = new sns.Topic(stack, 'Alerts');
  const key = new kms.Key(stack, 'Key');
  const prepare = newFunction(stack, 'Prepare', {
    timeout: Duration.seconds(30),
    memorySize: 512,
    environment: {
      BUCKET_NAME: bucket.bucketName,
      BUCKET_ARN: bucket.bucketArn,
      KEY_ARN: key.keyArn,
      TOPIC_ARN: topic.topicArn,
      REPORT_PREFIX: Fn.join('/', ['reports', Aws.REGION]),
      ACCOUNT_TAG: Fn.sub('${AWS::AccountId}-${Name}', { Name: 'drill' }),
      FIRST_ZONE: Fn.select(0, Fn.getAzs()),
    },
  });

  const prepareTask = new tasks.LambdaInvoke(stack, 'Prepare report', {
    lambdaFunction: prepare,
    resultSelector: { 'report.$': '$.Payload' },
    resultPath: '$.prepared',
  });
  prepareTask.addRetry({ errors: ['NotReady'], interval: Duration.minutes(5), maxAttempts: 4, backoffRate: 2 });
  const notifyFailure = new tasks.SnsPublish(stack, 'Notify failure', {
    topic,
    subject: 'Report failed',
    message: sfn.TaskInput.fromJsonPathAt('$.error'),
    resultPath: sfn.JsonPath.DISCARD,
  });
  prepareTask.addCatch(notifyFailure.next(new sfn.Fail(stack, 'Preparation failed', { error: 'PreparationFailed', causePath: '$.error.Cause' })), {
    errors: ['States.ALL'],
    resultPath: '$.error',
  });

  const write = new tasks.CallAwsService(stack, 'Write report', {
    service: 's3',
    action: 'putObject',
    parameters: { Bucket: bucket.bucketName, Key: sfn.JsonPath.stringAt('$.prepared.report.key'), Body: sfn.JsonPath.objectAt('$.prepared.report') },
    iamResources: [bucket.arnForObjects('*')],
    resultSelector: { 'etag.$': '$.ETag' },
    resultPath: '$.written',
  });
  const announce = new tasks.SnsPublish(stack, 'Announce', {
    topic,
    subject: 'Report written',
    message: sfn.TaskInput.fromJsonPathAt('$.prepared.report'),
    resultPath: '$.published',
  });
  const coolDown = new sfn.Wait(stack, 'Cool down', { time: sfn.WaitTime.duration(Duration.hours(1)) });
  const choice = new sfn.Choice(stack, 'Worth writing?')
    .when(sfn.Condition.booleanEquals('$.prepared.report.ok', true), coolDown.next(write).next(announce).next(new sfn.Succeed(stack, 'Done')))
    .otherwise(new sfn.Fail(stack, 'Rejected', { error: 'ReportRejected', cause: 'the report was not ok' }));
  const machine = new sfn.StateMachine(stack, 'Machine', { definitionBody: sfn.DefinitionBody.fromChainable(prepareTask.next(choice)) });

  return {
    template: Template.fromStack(stack).toJSON(),
    ids: {
      machine: logicalIdOf(machine),
      prepare: logicalIdOf(prepare),
      bucket: logicalIdOf(bucket),
      topic: logicalIdOf(topic),
      key: logicalIdOf(key),
    },
  };
}

interface PrepareEvent {
  readonly mode: 'ok' | 'reject' | 'explode' | 'never-ready';
  readonly runId: string;
}

/** What the Prepare handler saw, per invocation. */
interface Observation {
  readonly event: PrepareEvent;
  readonly env: Record<string, string | undefined>;
  readonly functionName: string;
  readonly remainingMs: number;
  readonly requestId: string;
}

function prepareHandler(observations: Observation[]) {
  const attempts = new Map<string, number>();
  return async (event: PrepareEvent, context: LambdaContext) => {
    observations.push({
      event,
      env: { ...process.env },
      functionName: context.functionName,
      remainingMs: context.getRemainingTimeInMillis(),
      requestId: context.awsRequestId,
    });
    const attempt = (attempts.get(event.runId) ?? 0) + 1;
    attempts.set(event.runId, attempt);
    if (event.mode === 'never-ready' || (event.mode === 'ok' && attempt < 3)) throw new NotReady(`attempt ${attempt}: not ready yet`);
    if (event.mode === 'explode') throw new ReportBroken('the report generator broke');
    return { ok: event.mode === 'ok', key: `${process.env.REPORT_PREFIX}/${event.runId}.json`, attempt };
  };
}

describe('local workflow runner on a synthesized state machine', () => {
  const stack = reportStack();
  const observations: Observation[] = [];
  let bucketName: string;
  let topicArn: string;
  let workflow: LocalWorkflow;
  let runs = 0;

  beforeAll(async () => {
    bucketName = await createTestBucket({ prefix: 'harness-reports' });
    topicArn = await createTopic();
    // Built once and run many times: constructing validates the definition, which takes about a second.
    workflow = new LocalWorkflow({
      template: stack.template,
      stateMachine: stack.ids.machine,
      handlers: { [stack.ids.prepare]: prepareHandler(observations) },
      resources: { [stack.ids.bucket]: bucketName, [stack.ids.topic]: topicArn },
      region: harnessEnv().awsRegion,
    });
  });

  async function run(mode: PrepareEvent['mode']) {
    runs += 1;
    const runId = `${mode}-${runs}`;
    const result = await workflow.run({ mode, runId });
    return { result, seen: observations.filter((observation) => observation.event.runId === runId) };
  }

  it('runs the success path: retries NotReady, chooses, writes to S3 in moto, publishes to SNS', async () => {
    const { result } = await run('ok');

    expect(result.status).toBe('SUCCEEDED');
    expect(result.visited).toEqual([
      'Prepare report',
      'Worth writing?',
      'Cool down',
      'Write report',
      'Announce',
      'Done',
    ]);
    expect(result.retries).toEqual({ 'Prepare report': 2 });
    const output = result.output as { runId: string; prepared: { report: { key: string; attempt: number } }; written: { etag: string }; published: { MessageId: string } };
    expect(output.prepared.report).toEqual({ ok: true, key: `reports/us-east-1/${output.runId}.json`, attempt: 3 });

    // The object really is in moto, with the report as its JSON body, and the ETag the state machine got is its ETag.
    const s3 = new S3Client({});
    try {
      const head = await s3.send(new HeadObjectCommand({ Bucket: bucketName, Key: output.prepared.report.key }));
      expect(output.written.etag).toBe(head.ETag);
      const body = await (await s3.send(new GetObjectCommand({ Bucket: bucketName, Key: output.prepared.report.key }))).Body?.transformToString();
      expect(JSON.parse(body ?? '')).toEqual(output.prepared.report);
    } finally {
      s3.destroy();
    }
    const published = (await snsMessages(topicArn)).find((message) => message.messageId === output.published.MessageId);
    expect(published?.subject).toBe('Report written');
    expect(JSON.parse(published?.message ?? '')).toEqual(output.prepared.report);

    // lambda:invoke results are wrapped as the service wraps them; ResultSelector picked $.Payload.
    const invoke = result.calls.find((call) => call.state === 'Prepare report' && call.output !== undefined);
    expect(invoke).toMatchObject({ target: `lambda:${stack.ids.prepare}`, output: { StatusCode: 200, ExecutedVersion: '$LATEST', Payload: { ok: true } } });
    expect(result.calls.filter((call) => call.error === 'NotReady')).toHaveLength(2);
    expect(result.calls.map((call) => call.target)).toEqual(expect.arrayContaining(['aws-sdk:s3:putObject', 'sns:publish']));
  });

  it('gives the handler the template environment with intrinsics resolved, a Lambda context, and restores process.env', async () => {
    const pgHostBefore = process.env.PGHOST;
    const { seen } = await run('reject');

    expect(seen).toHaveLength(1);
    const [{ env, functionName, remainingMs, requestId, event }] = seen;
    expect(event.mode).toBe('reject');
    expect(env.BUCKET_NAME).toBe(bucketName);
    expect(env.BUCKET_ARN).toBe(`arn:aws:s3:::${bucketName}`);
    expect(env.TOPIC_ARN).toBe(topicArn);
    expect(env.KEY_ARN).toMatch(/^arn:aws:kms:us-east-1:123456789012:key\/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(env.REPORT_PREFIX).toBe('reports/us-east-1');
    expect(env.ACCOUNT_TAG).toBe('123456789012-drill');
    expect(env.FIRST_ZONE).toBe('us-east-1a');
    expect(env.AWS_LAMBDA_FUNCTION_NAME).toBe(functionName);
    expect(env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE).toBe('512');
    expect(env.AWS_ENDPOINT_URL).toBe(process.env.AWS_ENDPOINT_URL);
    // Host variables the deployed function would not have are not there (credentials come from Secrets Manager).
    expect(env.PGHOST).toBeUndefined();
    expect(env.PGPASSWORD).toBeUndefined();
    expect(process.env.PGHOST).toBe(pgHostBefore);
    expect(process.env.BUCKET_NAME).toBeUndefined();
    expect(remainingMs).toBeGreaterThan(0);
    expect(remainingMs).toBeLessThanOrEqual(30_000);
    expect(requestId).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('ends FAILED in the Choice default branch with the Fail state error and cause', async () => {
    const { result } = await run('reject');

    expect(result.status).toBe('FAILED');
    expect(result.error).toBe('ReportRejected');
    expect(result.cause).toBe('the report was not ok');
    expect(result.visited).toEqual(['Prepare report', 'Worth writing?', 'Rejected']);
    expect(result.calls.map((call) => call.target)).not.toContain('aws-sdk:s3:putObject');
  });

  it('catches a named handler error with States.ALL, notifies SNS, then fails with the Lambda error as cause', async () => {
    const { result } = await run('explode');

    expect(result.status).toBe('FAILED');
    expect(result.error).toBe('PreparationFailed');
    expect(result.visited).toEqual(['Prepare report', 'Notify failure', 'Preparation failed']);
    expect(result.retries).toEqual({});
    const cause = JSON.parse(result.cause ?? '') as { errorType: string; errorMessage: string; trace: string[] };
    expect(cause).toMatchObject({ errorType: 'ReportBroken', errorMessage: 'the report generator broke' });
    expect(cause.trace.length).toBeGreaterThan(0);
    const caught = result.events.find((event) => event.type === 'StateEntered' && event.state === 'Notify failure');
    expect(caught?.input).toMatchObject({ error: { Error: 'ReportBroken' } });
    const notification = (await snsMessages(topicArn)).find((message) => message.subject === 'Report failed' && message.message.includes('ReportBroken'));
    expect(JSON.parse(notification?.message ?? '{}')).toMatchObject({ Error: 'ReportBroken' });
  });

  it('gives up after MaxAttempts retries of NotReady and lets the Catch handle the last error', async () => {
    const { result } = await run('never-ready');

    expect(result.status).toBe('FAILED');
    expect(result.error).toBe('PreparationFailed');
    expect(result.retries).toEqual({ 'Prepare report': 4 });
    expect(result.calls.filter((call) => call.state === 'Prepare report').map((call) => call.error)).toEqual(Array(5).fill('NotReady'));
    expect(JSON.parse(result.cause ?? '')).toMatchObject({ errorType: 'NotReady', errorMessage: 'attempt 5: not ready yet' });
  });

  it('reports an S3 service error under the name Step Functions uses (S3.NoSuchBucketException)', async () => {
    const result = await runLocalWorkflow({
      template: stack.template,
      stateMachine: stack.ids.machine,
      handlers: { [stack.ids.prepare]: prepareHandler([]) },
      resources: { [stack.ids.bucket]: `missing-${Date.now()}`, [stack.ids.topic]: topicArn },
      input: { mode: 'ok', runId: 'missing-bucket' },
    });

    expect(result.status).toBe('FAILED');
    expect(result.error).toBe('S3.NoSuchBucketException');
    expect(result.cause).toMatch(/\(Service: S3, Status Code: 404, Request ID: .+\)$/);
    expect(result.visited.at(-1)).toBe('Write report');
  });

  it('lists what it mapped instead of running as in AWS', async () => {
    const { result } = await run('ok');

    const emulated = result.emulated.join('\n');
    expect(emulated).toContain(`Lambda ${stack.ids.prepare}`);
    expect(emulated).toContain('Wait state "Cool down" waited 0 ms');
    expect(emulated).toContain('state "Prepare report" was retried 2 time(s)');
    // The KMS key has no binding: its fabricated ARN is reported, the bound bucket and topic are not.
    expect(emulated).toContain(`${stack.ids.key} (AWS::KMS::Key) has no binding`);
    expect(emulated).not.toContain(`${stack.ids.bucket} (AWS::S3::Bucket)`);
    expect(emulated).not.toContain(`${stack.ids.topic} (AWS::SNS::Topic)`);
    expect(emulated).toContain('IAM is not evaluated');
  });

  it('refuses to run a Lambda task whose function has no local handler', () => {
    expect(
      () => new LocalWorkflow({ template: stack.template, stateMachine: stack.ids.machine, handlers: {} }),
    ).toThrow(new RegExp(`"Prepare report" invokes ${stack.ids.prepare}, which has no local handler`));
  });
});

describe('AWS SDK integrations against moto', () => {
  function rdsStack() {
    const stack = new Stack(new App(), 'RdsTest');
    const describe = new tasks.CallAwsService(stack, 'Describe snapshot', {
      service: 'rds',
      action: 'describeDBSnapshots',
      parameters: { DbSnapshotIdentifier: sfn.JsonPath.stringAt('$.snapshot') },
      iamResources: ['*'],
    });
    const createGroup = new tasks.CallAwsService(stack, 'Create parameter group', {
      service: 'rds',
      action: 'createDBParameterGroup',
      parameters: {
        DbParameterGroupName: sfn.JsonPath.stringAt('$.group'),
        DbParameterGroupFamily: 'postgres15',
        Description: 'local runner test',
      },
      iamResources: ['*'],
      resultPath: '$.created',
    });
    const choice = new sfn.Choice(stack, 'Which?')
      .when(sfn.Condition.isPresent('$.snapshot'), describe)
      .otherwise(createGroup);
    const machine = new sfn.StateMachine(stack, 'Machine', { definitionBody: sfn.DefinitionBody.fromChainable(choice) });
    return { template: Template.fromStack(stack).toJSON(), machine: logicalIdOf(machine) };
  }

  let rds: LocalWorkflow;
  beforeAll(() => {
    const { template, machine } = rdsStack();
    rds = new LocalWorkflow({ template, stateMachine: machine, handlers: {}, region: harnessEnv().awsRegion });
  });

  it('names a modeled RDS fault as Step Functions does: Rds.DbSnapshotNotFoundException', async () => {
    const result = await rds.run({ snapshot: 'does-not-exist' });

    expect(result.status).toBe('FAILED');
    expect(result.error).toBe('Rds.DbSnapshotNotFoundException');
    expect(result.cause).toMatch(/does-not-exist.*\(Service: Rds, Status Code: 404, Request ID: .+\)$/);
  });

  it('translates parameters and results between Step Functions field names and the service model', async () => {
    const group = `harness-${Date.now()}`;
    const result = await rds.run({ group });

    expect(result.status).toBe('SUCCEEDED');
    expect(result.output).toMatchObject({
      group,
      created: { DbParameterGroup: { DbParameterGroupName: group, DbParameterGroupFamily: 'postgres15', Description: 'local runner test' } },
    });
    const created = (result.output as { created: { DbParameterGroup: Record<string, unknown> } }).created.DbParameterGroup;
    expect(created.DbParameterGroupArn).toEqual(expect.stringContaining(`:pg:${group}`));
    expect(created).not.toHaveProperty('DBParameterGroupName');
  });

  it('refuses a parameter spelled as in the service model instead of as Step Functions spells it', async () => {
    const stack = new Stack(new App(), 'RdsSpelling');
    const describe = new tasks.CallAwsService(stack, 'Describe snapshot', {
      service: 'rds',
      action: 'describeDBSnapshots',
      parameters: { DBSnapshotIdentifier: 'x' },
      iamResources: ['*'],
    });
    const machine = new sfn.StateMachine(stack, 'Machine', { definitionBody: sfn.DefinitionBody.fromChainable(describe) });

    await expect(
      runLocalWorkflow({ template: Template.fromStack(stack).toJSON(), stateMachine: logicalIdOf(machine), handlers: {} }),
    ).rejects.toThrow(/Parameters\.DBSnapshotIdentifier is not a field Step Functions accepts .*; Step Functions spells it DbSnapshotIdentifier/);
  });
});

describe('Map, Parallel and function-ARN tasks', () => {
  it('runs a Map over items with a Lambda per item and $$.Map.Item in the ItemSelector, and Parallel branches', async () => {
    const stack = new Stack(new App(), 'MapTest');
    const double = newFunction(stack, 'Double', { environment: { FACTOR: '2' } });
    const perItem = new tasks.LambdaInvoke(stack, 'Double it', { lambdaFunction: double, payloadResponseOnly: true });
    const map = new sfn.Map(stack, 'Each item', {
      itemsPath: '$.items',
      itemSelector: { 'value.$': '$$.Map.Item.Value', 'index.$': '$$.Map.Item.Index', 'run.$': '$$.Execution.Name' },
      resultPath: '$.doubled',
      maxConcurrency: 3,
    }).itemProcessor(perItem);
    const parallel = new sfn.Parallel(stack, 'Both', { resultPath: '$.both' })
      .branch(new sfn.Pass(stack, 'Left', { parameters: { side: 'left', 'n.$': 'States.ArrayLength($.doubled)' } }))
      .branch(new sfn.Pass(stack, 'Right', { result: sfn.Result.fromObject({ side: 'right' }) }));
    const machine = new sfn.StateMachine(stack, 'Machine', { definitionBody: sfn.DefinitionBody.fromChainable(map.next(parallel)) });

    const result = await runLocalWorkflow({
      template: Template.fromStack(stack).toJSON(),
      stateMachine: logicalIdOf(machine),
      handlers: {
        [logicalIdOf(double)]: async (event: { value: number; index: number; run: string }) => ({
          doubled: event.value * Number(process.env.FACTOR),
          index: event.index,
          run: event.run,
        }),
      },
      input: { items: [1, 2, 3, 4] },
      executionName: 'map-run',
    });

    expect(result.status).toBe('SUCCEEDED');
    expect(result.output).toEqual({
      items: [1, 2, 3, 4],
      doubled: [1, 2, 3, 4].map((value, index) => ({ doubled: value * 2, index, run: 'map-run' })),
      both: [{ side: 'left', n: 4 }, { side: 'right' }],
    });
    expect(result.visited.filter((name) => name === 'Double it')).toHaveLength(4);
    expect(result.calls.every((call) => call.target === `lambda:${logicalIdOf(double)}`)).toBe(true);
  });

  it('fails a handler that outlives its function timeout with Sandbox.Timedout', async () => {
    const stack = new Stack(new App(), 'TimeoutTest');
    const slow = newFunction(stack, 'Slow', { timeout: Duration.seconds(1) });
    const task = new tasks.LambdaInvoke(stack, 'Slow task', { lambdaFunction: slow, retryOnServiceExceptions: false });
    const machine = new sfn.StateMachine(stack, 'Machine', { definitionBody: sfn.DefinitionBody.fromChainable(task) });

    const result = await runLocalWorkflow({
      template: Template.fromStack(stack).toJSON(),
      stateMachine: logicalIdOf(machine),
      handlers: { [logicalIdOf(slow)]: () => new Promise((resolve) => setTimeout(() => resolve('late'), 1_500)) },
    });

    expect(result.status).toBe('FAILED');
    expect(result.error).toBe('Sandbox.Timedout');
    expect(JSON.parse(result.cause ?? '')).toMatchObject({ errorMessage: expect.stringContaining('Task timed out after 1.00 seconds') });
    // The late handler is still running, but the host environment is back and the gap is reported.
    expect(process.env.TEST_PG_URL).toBeDefined();
    expect(result.emulated.join('\n')).toContain('could not be stopped');
  });
});

describe('hand-written definitions (CfnStateMachine)', () => {
  it('applies DefinitionSubstitutions, and ResultPath "$" in a state and in a Catch replaces the input as in AWS', async () => {
    const stack = new Stack(new App(), 'RawTest');
    const fn = newFunction(stack, 'Boom');
    const machine = new sfn.CfnStateMachine(stack, 'Raw', {
      roleArn: 'arn:aws:iam::123456789012:role/raw',
      definitionSubstitutions: { BoomArn: fn.functionArn },
      definitionString: JSON.stringify({
        StartAt: 'Replace',
        States: {
          Replace: { Type: 'Pass', Result: { replaced: true }, ResultPath: '$', Next: 'Boom' },
          Boom: { Type: 'Task', Resource: '${BoomArn}', Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$', Next: 'Caught' }], End: true },
          Caught: { Type: 'Succeed' },
        },
      }),
    });

    const result = await runLocalWorkflow({
      template: Template.fromStack(stack).toJSON(),
      stateMachine: logicalIdOf(machine),
      handlers: { [logicalIdOf(fn)]: async (event: { replaced: boolean }) => { throw new ReportBroken(`got ${JSON.stringify(event)}`); } },
      input: { original: 1 },
    });

    expect(result.status).toBe('SUCCEEDED');
    expect(result.events.find((event) => event.type === 'StateExited' && event.state === 'Replace')?.output).toEqual({ replaced: true });
    expect(result.output).toEqual({ Error: 'ReportBroken', Cause: expect.stringContaining('got {\\"replaced\\":true}') });
  });
});

describe('what the local runner refuses', () => {
  it('refuses JSONata state machines before running anything', () => {
    const stack = new Stack(new App(), 'JsonataTest');
    const pass = sfn.Pass.jsonata(stack, 'Shape', { outputs: { answer: '{% 6 * 7 %}' } });
    const machine = new sfn.StateMachine(stack, 'Machine', {
      definitionBody: sfn.DefinitionBody.fromChainable(pass),
      queryLanguage: sfn.QueryLanguage.JSONATA,
    });

    expect(() => new LocalWorkflow({ template: Template.fromStack(stack).toJSON(), stateMachine: logicalIdOf(machine), handlers: {} })).toThrow(
      LocalWorkflowError,
    );
    expect(() => new LocalWorkflow({ template: Template.fromStack(stack).toJSON(), stateMachine: logicalIdOf(machine), handlers: {} })).toThrow(/JSONata/);
  });
});

describe('template resolution (pure)', () => {
  const template = {
    Conditions: { IsProd: { 'Fn::Equals': [{ Ref: 'Stage' }, 'prod'] } },
    Parameters: { Stage: { Type: 'String', Default: 'dev' } },
    Resources: {
      Bucket: { Type: 'AWS::S3::Bucket' },
      Fn: { Type: 'AWS::Lambda::Function', Properties: { FunctionName: 'named-fn' } },
      Queue: { Type: 'AWS::SQS::Queue' },
    },
  };
  const resolver = (stage?: string) =>
    new TemplateResolver(template, {
      region: 'eu-west-1',
      accountId: '111122223333',
      stackName: 'Pure',
      resources: { Bucket: 'local-bucket' },
      parameters: stage === undefined ? undefined : { Stage: stage },
    });

  it('resolves Ref, GetAtt, Join, Sub (with escapes and variables), Select/Split and pseudo parameters', () => {
    expect(
      resolver().resolve({
        a: { 'Fn::GetAtt': ['Bucket', 'Arn'] },
        b: { 'Fn::GetAtt': 'Fn.Arn' },
        c: { 'Fn::Sub': ['${Bucket}/${!Literal}/${AWS::Region}/${X}', { X: { Ref: 'AWS::AccountId' } }] },
        d: { 'Fn::Select': [1, { 'Fn::Split': [',', 'x,y,z'] }] },
        e: { 'Fn::Join': ['-', ['a', { Ref: 'AWS::Partition' }, { Ref: 'Stage' }]] },
        f: { 'Fn::Sub': '${Fn.Arn}' },
      }),
    ).toEqual({
      a: 'arn:aws:s3:::local-bucket',
      b: 'arn:aws:lambda:eu-west-1:111122223333:function:named-fn',
      c: 'local-bucket/${Literal}/eu-west-1/111122223333',
      d: 'y',
      e: 'a-aws-dev',
      f: 'arn:aws:lambda:eu-west-1:111122223333:function:named-fn',
    });
  });

  it('evaluates Fn::If with template conditions and drops AWS::NoValue', () => {
    const value = { 'Fn::If': ['IsProd', 'big', { Ref: 'AWS::NoValue' }] };
    expect(resolver('prod').resolve({ size: value })).toEqual({ size: 'big' });
    expect(resolver().resolve({ size: value, list: ['a', value] })).toEqual({ list: ['a'] });
  });

  it('reports a fabricated value and refuses an attribute it cannot derive, saying what to pass', () => {
    const notes: string[] = [];
    const r = new TemplateResolver(template, {
      region: 'us-east-1',
      accountId: '123456789012',
      stackName: 'Pure',
      onFabricated: ({ message }) => notes.push(message),
    });
    expect(r.resolve({ 'Fn::GetAtt': ['Queue', 'Arn'] })).toBe('arn:aws:sqs:us-east-1:123456789012:Pure-Queue');
    expect(notes).toEqual([expect.stringContaining('Queue (AWS::SQS::Queue) has no binding')]);
    expect(() => r.resolve({ 'Fn::GetAtt': ['Bucket', 'WebsiteURL'] })).toThrow(/resources: \{ Bucket: \{ attributes: \{ 'WebsiteURL': '...' \} \} \}/);
  });
});

describe('Step Functions naming of AWS SDK integrations (pure)', () => {
  it.each([
    ['RDS', 'DBSnapshotNotFoundFault', 'Rds.DbSnapshotNotFoundException'],
    ['RDS', 'DBInstanceNotFoundFault', 'Rds.DbInstanceNotFoundException'],
    ['S3', 'NoSuchKey', 'S3.NoSuchKeyException'],
    ['S3', 'BucketAlreadyExists', 'S3.BucketAlreadyExistsException'],
    ['S3', undefined, 'S3.S3Exception'],
    ['ACM PCA', 'ResourceNotFoundException', 'AcmPca.ResourceNotFoundException'],
    ['Secrets Manager', 'ResourceNotFoundException', 'SecretsManager.ResourceNotFoundException'],
    ['DynamoDB', 'ConditionalCheckFailedException', 'DynamoDb.ConditionalCheckFailedException'],
    ['DynamoDB', undefined, 'DynamoDb.DynamoDbException'],
    ['SQS', 'QueueDoesNotExist', 'Sqs.QueueDoesNotExistException'],
    ['KMS', 'KMSInvalidStateException', 'Kms.KmsInvalidStateException'],
    ['Route 53', 'NoSuchHostedZone', 'Route53.NoSuchHostedZoneException'],
  ])('%s %s -> %s', (serviceId, shape, expected) => {
    expect(sfnSdkErrorName(serviceId, shape)).toBe(expected);
  });

  it('spells fields as the Java bean properties and accepts the word-cased spelling too', () => {
    expect(sfnFieldName('DBInstanceIdentifier')).toBe('DbInstanceIdentifier');
    expect(sfnFieldName('DBSnapshots')).toBe('DbSnapshots');
    expect(sfnFieldName('ETag')).toBe('ETag');
    expect(sfnFieldName('SSEKMSKeyId')).toBe('SsekmsKeyId');
    expect(sfnFieldName('Bucket')).toBe('Bucket');
    expect(sfnFieldAliases('SourceDBSnapshotIdentifier')).toEqual(['SourceDBSnapshotIdentifier', 'SourceDbSnapshotIdentifier']);
    expect(splitOnWordBoundaries('ElasticLoadBalancingV2')).toEqual(['Elastic', 'Load', 'Balancing', 'V2']);
  });
});
