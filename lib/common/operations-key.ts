import { ArnFormat, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';

/**
 * The customer-managed key that a construct's log groups and notification topic are encrypted with.
 *
 * Besides the account's own access, its policy lets two services use it:
 * - CloudWatch Logs of this region, only for this account's log groups (the encryption-context condition);
 * - CloudWatch alarms and EventBridge, so that an alarm or rule that notifies the topic can publish to it. Without
 *   this statement their messages to a KMS-encrypted topic are dropped without an error anywhere.
 *
 * Rotated every 90 days and retained on stack deletion: logs written with it stay readable.
 *
 * @param purpose what the key protects, for its description (e.g. `recovery test logs and notifications`)
 */
export function createOperationsKey(scope: Construct, id: string, purpose: string): kms.Key {
  const stack = Stack.of(scope);
  const key = new kms.Key(scope, id, {
    description: `cdk-backup-dr ${scope.node.path}: ${purpose}`,
    enableKeyRotation: true,
    rotationPeriod: Duration.days(90),
    removalPolicy: RemovalPolicy.RETAIN,
  });
  key.addToResourcePolicy(
    new iam.PolicyStatement({
      sid: 'CloudWatchLogsInThisRegion',
      principals: [new iam.ServicePrincipal(`logs.${stack.region}.amazonaws.com`)],
      actions: ['kms:Encrypt*', 'kms:Decrypt*', 'kms:ReEncrypt*', 'kms:GenerateDataKey*', 'kms:Describe*'],
      resources: ['*'],
      conditions: {
        ArnLike: {
          'kms:EncryptionContext:aws:logs:arn': stack.formatArn({
            service: 'logs',
            resource: 'log-group',
            resourceName: '*',
            arnFormat: ArnFormat.COLON_RESOURCE_NAME,
          }),
        },
      },
    }),
  );
  key.addToResourcePolicy(
    new iam.PolicyStatement({
      sid: 'AlarmsAndEventsPublishToTopic',
      principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com'), new iam.ServicePrincipal('events.amazonaws.com')],
      actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
      resources: ['*'],
    }),
  );
  return key;
}
