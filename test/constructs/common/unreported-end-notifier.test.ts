import { App, Duration, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { HandlerFunction } from '../../../lib/common/handler-function';
import { UnreportedEndNotifier } from '../../../lib/common/unreported-end-notifier';
import { workflowStateMachine } from '../../../lib/common/workflow';
import { statementsOf, unreportedEndAlert } from '../../support/template-inspection';
import { logicalIdOf } from '../../support/workflow-harness';

type Json = Record<string, unknown>;

function workflowIn(stack: Stack, id: string, topic: sns.ITopic, logsKey: kms.IKey, workflow: string) {
  const scope = new Construct(stack, id);
  return workflowStateMachine(scope, {
    definition: new sfn.Pass(scope, 'Start'),
    comment: id,
    timeout: Duration.hours(1),
    logsKey,
    logRetention: logs.RetentionDays.ONE_YEAR,
    topic,
    workflow,
    source: 'orders-db',
    afterwards: `check ${id}`,
  });
}

describe('UnreportedEndNotifier', () => {
  const stack = new Stack(new App(), 'S', { env: { account: '111111111111', region: 'eu-west-1' } });
  const logsKey = new kms.Key(stack, 'LogsKey', { enableKeyRotation: true });
  const topicKey = new kms.Key(stack, 'TopicKey', { enableKeyRotation: true });
  const encrypted = new sns.Topic(stack, 'Encrypted', { masterKey: topicKey });
  const plain = new sns.Topic(stack, 'Plain');
  new sns.Topic(stack, 'Unrelated');
  workflowIn(stack, 'Backup', encrypted, logsKey, 'backup');
  workflowIn(stack, 'Cleanup', encrypted, logsKey, 'cleanup');
  workflowIn(stack, 'Sweep', plain, logsKey, 'sweep');
  const template = Template.fromStack(stack);
  const notifier = UnreportedEndNotifier.find(stack)!.function;

  it('is one function per stack, outside any VPC, shared by the rules of every workflow, each with its own input', () => {
    const ours = Object.keys(template.findResources('AWS::Lambda::Function'));
    expect(ours).toEqual([logicalIdOf(notifier)]);
    const fn = template.toJSON().Resources[logicalIdOf(notifier)] as { Properties: Json };
    expect(fn.Properties).toMatchObject({ Runtime: 'nodejs24.x', TracingConfig: { Mode: 'Active' } });
    expect(fn.Properties.VpcConfig).toBeUndefined();
    const backup = unreportedEndAlert(template, 'backup');
    const sweep = unreportedEndAlert(template, 'sweep');
    expect([backup.function, sweep.function, unreportedEndAlert(template, 'cleanup').function]).toEqual([logicalIdOf(notifier), logicalIdOf(notifier), logicalIdOf(notifier)]);
    expect(backup.input).toEqual({ topicArn: `\${${logicalIdOf(encrypted)}}`, facts: { workflow: 'backup', what: 'backup', source: 'orders-db', afterwards: 'check Backup' }, detail: '<detail>' });
    expect(sweep.input.topicArn).toBe(`\${${logicalIdOf(plain)}}`);
    expect(Object.keys(template.findResources('AWS::Lambda::Permission'))).toHaveLength(3);
  });

  it("may publish to the workflows' topics only, and use the key of the encrypted one", () => {
    const statements = statementsOf(template, notifier).filter((st) => !JSON.stringify(st.Action).includes('xray:'));
    expect(statements).toEqual([
      { Action: 'sns:Publish', Effect: 'Allow', Resource: { Ref: logicalIdOf(encrypted) } },
      { Action: ['kms:Decrypt', 'kms:GenerateDataKey'], Effect: 'Allow', Resource: { 'Fn::GetAtt': [logicalIdOf(topicKey), 'Arn'] } },
      { Action: 'sns:Publish', Effect: 'Allow', Resource: { Ref: logicalIdOf(plain) } },
    ]);
  });

  it('its log group is KMS-encrypted and retained for the first workflow\'s retention', () => {
    const resources = template.toJSON().Resources as Record<string, { Properties: Json; DeletionPolicy?: string }>;
    const logGroup = (resources[logicalIdOf(notifier)].Properties.LoggingConfig as { LogGroup: { Ref: string } }).LogGroup.Ref;
    expect(resources[logGroup].Properties).toMatchObject({ KmsKeyId: { 'Fn::GetAtt': [logicalIdOf(logsKey), 'Arn'] }, RetentionInDays: 365 });
    expect(resources[logGroup].DeletionPolicy).toBe('Retain');
  });
});

describe('HandlerFunction outside a VPC', () => {
  it('needs the reason, and not both a VPC and a reason', () => {
    const stack = new Stack(new App(), 'S');
    const logsKey = new kms.Key(stack, 'K');
    const props = { handlerName: 'unreported-end', description: 'd', logsKey, logRetention: logs.RetentionDays.ONE_YEAR };
    expect(() => new HandlerFunction(stack, 'F', props)).toThrow(/pass vpc, or outsideVpc with the reason/);
  });
});

describe('alertOnUnreportedEnd', () => {
  it('refuses an empty fact at synth', () => {
    const stack = new Stack(new App(), 'S');
    expect(() => workflowIn(stack, 'Backup', new sns.Topic(stack, 'T'), new kms.Key(stack, 'K'), '')).toThrow(/facts\.workflow must be a non-empty string/);
  });
});
