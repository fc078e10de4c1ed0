import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as sns from 'aws-cdk-lib/aws-sns';
import { createOperationsKey } from '../../../lib/common/operations';
import { statementWithSid, topicKeyStatements } from '../../support/operations-key';

describe('createOperationsKey', () => {
  const app = new App();
  const stack = new Stack(app, 'Ops', { env: { account: '111111111111', region: 'eu-west-1' } });
  const key = createOperationsKey(stack, 'OpsKey', 'test logs and notifications');
  const topic = new sns.Topic(stack, 'Topic', { masterKey: key });
  const template = Template.fromStack(stack);
  const statements = topicKeyStatements(template, topic);

  it('rotates every 90 days, is retained with the stack, and says what it protects', () => {
    template.hasResource('AWS::KMS::Key', {
      DeletionPolicy: 'Retain',
      Properties: { EnableKeyRotation: true, RotationPeriodInDays: 90, Description: 'cdk-backup-dr Ops: test logs and notifications' },
    });
  });

  it("lets CloudWatch Logs of this region use it, only for this account's log groups", () => {
    const logs = statementWithSid(statements, 'CloudWatchLogsInThisRegion');
    expect(logs.Principal).toEqual({ Service: 'logs.eu-west-1.amazonaws.com' });
    expect(logs.Condition).toEqual({
      ArnLike: {
        'kms:EncryptionContext:aws:logs:arn': {
          'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':logs:eu-west-1:111111111111:log-group:*']],
        },
      },
    });
  });

  it('lets CloudWatch alarms and EventBridge publish to a topic encrypted with it (decrypt and data keys only)', () => {
    const publish = statementWithSid(statements, 'AlarmsAndEventsPublishToTopic');
    expect(publish.Principal).toEqual({ Service: ['cloudwatch.amazonaws.com', 'events.amazonaws.com'] });
    expect(publish.Action).toEqual(['kms:Decrypt', 'kms:GenerateDataKey*']);
    expect(publish).toEqual(expect.objectContaining({ Effect: 'Allow', Resource: '*' }));
  });
});
