import { Duration, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { HandlerFunction } from './handler-function';

/** The id of the one notifier on a stack. */
export const UNREPORTED_END_NOTIFIER_ID = 'CdkBackupDrUnreportedEnd';

/** Props of {@link UnreportedEndNotifier}: those of the first workflow of the stack that needs it. */
export interface UnreportedEndNotifierProps {
  /** KMS key of the function's log group. */
  readonly logsKey: kms.IKey;
  readonly logRetention: logs.RetentionDays;
}

/**
 * The function that tells a workflow's topic, formatted like every other notification, that one of its runs timed out
 * or was aborted (lambda/reporting/unreported-end.handler.ts). One per stack, shared by the rules of every workflow in
 * it ({@link UnreportedEndNotifier.of}); each rule's input says which workflow and topic. Outside any VPC: it only
 * publishes to SNS.
 */
export class UnreportedEndNotifier extends Construct {
  /** The notifier of `scope`'s stack, created with `props` by the first caller. */
  static of(scope: Construct, props: UnreportedEndNotifierProps): UnreportedEndNotifier {
    const stack = Stack.of(scope);
    const existing = stack.node.tryFindChild(UNREPORTED_END_NOTIFIER_ID);
    if (existing instanceof UnreportedEndNotifier) return existing;
    if (existing) throw new Error(`${stack.node.path}/${UNREPORTED_END_NOTIFIER_ID} is taken by another construct: cdk-backup-dr needs that id for its unreported-end notifier`);
    return new UnreportedEndNotifier(stack, UNREPORTED_END_NOTIFIER_ID, props);
  }

  /** The notifier of `scope`'s stack, if a workflow created one. */
  static find(scope: Construct): UnreportedEndNotifier | undefined {
    const existing = Stack.of(scope).node.tryFindChild(UNREPORTED_END_NOTIFIER_ID);
    return existing instanceof UnreportedEndNotifier ? existing : undefined;
  }

  readonly function: HandlerFunction;
  private readonly served = new Set<sns.ITopic>();

  private constructor(scope: Construct, id: string, props: UnreportedEndNotifierProps) {
    super(scope, id);
    this.function = new HandlerFunction(this, 'Function', {
      handlerName: 'unreported-end',
      description: 'cdk-backup-dr: tells the workflow\'s topic that a run timed out or was aborted (no report, no cleanup)',
      outsideVpc:
        'Publishes only to SNS and reads nothing: no database, bucket or secret is reachable from it. A VPC would need an SNS interface endpoint in every stack for one message per timed-out run.',
      invocation: {
        concurrency:
          'Invoked asynchronously by EventBridge only when a workflow run times out or is aborted (a few times a year); a reserved concurrency would take capacity from the account for that.',
        deadLetterQueue:
          'EventBridge retries delivery for 24 hours and Lambda retries a failed invocation twice; a failure is logged in the function\'s log group and raises the Lambda errors alarm of BackupMonitoring. A DLQ would add a queue, its key and its own alarm per stack for a message that also shows as the missing report.',
      },
      timeout: Duration.seconds(30),
      memorySize: 128,
      logsKey: props.logsKey,
      logRetention: props.logRetention,
    });
  }

  /** Lets the function publish to `topic`, and use its key when the topic is KMS-encrypted. */
  serve(topic: sns.ITopic): void {
    if (this.served.has(topic)) return;
    this.served.add(topic);
    // Not topic.grantPublish: it grants kms:GenerateDataKey*, where SNS needs only these two (as for the state machines).
    this.function.addToRolePolicy(new iam.PolicyStatement({ actions: ['sns:Publish'], resources: [topic.topicArn] }));
    topic.masterKey?.grant(this.function, 'kms:Decrypt', 'kms:GenerateDataKey');
  }
}
