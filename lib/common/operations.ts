import { ArnFormat, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import { Construct, type IConstruct } from 'constructs';

/** Props for {@link Operations}. */
export interface OperationsProps {
  /** The VPC of the Lambdas. */
  readonly vpc: ec2.IVpc;
  /** What the key protects, for its description (e.g. `recovery test logs and notifications`). */
  readonly keyPurpose: string;
  /** Display name of the topic this construct creates. */
  readonly topicDisplayName: string;
  /** What the Lambdas reach, for their security group's description. */
  readonly lambdaSecurityGroupDescription: string;
  /**
   * KMS key of the log groups and of the topic; its policy must let CloudWatch Logs of this region use it.
   * @default - a new key ({@link createOperationsKey})
   */
  readonly encryptionKey?: kms.IKey;
  /**
   * Where outcomes and failures are published.
   * @default - a new KMS-encrypted, TLS-only topic
   */
  readonly notificationTopic?: sns.ITopic;
  /**
   * Construct ids of the key and the Lambdas' security group, for constructs that created them under other ids
   * before this construct existed (a changed id replaces the deployed resource).
   * @default - `Key` and `LambdaSecurityGroup`
   */
  readonly ids?: { readonly key?: string; readonly lambdaSecurityGroup?: string };
}

/**
 * What a construct of this package needs to run and report its Lambdas and state machine: the KMS key of its logs
 * and topic, the notification topic, and the security group of its Lambdas (all outbound allowed: they call AWS APIs
 * and the databases). Add it with the id `Default`: the id drops out of the logical ids, so the resources keep the
 * ids they had when the owner created them itself.
 *
 * @example
 * const operations = new Operations(this, 'Default', {
 *   vpc,
 *   keyPurpose: 'failover logs and notifications',
 *   topicDisplayName: 'cdk-backup-dr failover of orders',
 *   lambdaSecurityGroupDescription: 'failover Lambdas (RDS, S3, Secrets Manager APIs; databases on 5432)',
 * });
 * const databaseSg = operations.addDatabaseSecurityGroup('DatabaseSecurityGroup', 'databases restored by a failover', 'failover Lambdas to the restored database');
 */
export class Operations extends Construct {
  /** KMS key of the log groups and the topic (the one given, or the one created). */
  public readonly key: kms.IKey;
  /** Where outcomes and failures are published. */
  public readonly notificationTopic: sns.ITopic;
  /** The security group of the Lambdas. */
  public readonly lambdaSecurityGroup: ec2.SecurityGroup;
  private readonly vpc: ec2.IVpc;
  private readonly owner: IConstruct;

  constructor(scope: Construct, id: string, props: OperationsProps) {
    super(scope, id);
    this.vpc = props.vpc;
    this.owner = scope;
    this.key = props.encryptionKey ?? createOperationsKey(this, props.ids?.key ?? 'Key', props.keyPurpose, scope);
    this.notificationTopic =
      props.notificationTopic ?? new sns.Topic(this, 'Notifications', { displayName: props.topicDisplayName, masterKey: this.key, enforceSSL: true });
    this.lambdaSecurityGroup = new ec2.SecurityGroup(this, props.ids?.lambdaSecurityGroup ?? 'LambdaSecurityGroup', {
      vpc: props.vpc,
      description: `cdk-backup-dr ${scope.node.path}: ${props.lambdaSecurityGroupDescription}`,
      allowAllOutbound: true,
    });
  }

  /**
   * A security group for the databases the Lambdas create: no outbound rules, PostgreSQL (5432) in from the Lambdas
   * only.
   */
  public addDatabaseSecurityGroup(id: string, description: string, ingressDescription: string): ec2.SecurityGroup {
    const sg = new ec2.SecurityGroup(this, id, { vpc: this.vpc, description: `cdk-backup-dr ${this.owner.node.path}: ${description}`, allowAllOutbound: false });
    sg.addIngressRule(this.lambdaSecurityGroup, ec2.Port.tcp(5432), ingressDescription);
    return sg;
  }
}

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
 * @param owner the construct whose path the description names
 */
export function createOperationsKey(scope: Construct, id: string, purpose: string, owner: IConstruct = scope): kms.Key {
  const stack = Stack.of(scope);
  const key = new kms.Key(scope, id, {
    description: `cdk-backup-dr ${owner.node.path}: ${purpose}`,
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
