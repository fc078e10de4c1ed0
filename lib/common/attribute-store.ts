import { CfnOutput, Fn, Token } from 'aws-cdk-lib';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import { Construct } from 'constructs';
import { ConfigurationError } from './errors';

/**
 * One attribute that {@link SharedBackupResources} publishes: its output id (and export suffix), its SSM parameter
 * name below the prefix, and what it holds.
 */
export interface SharedAttribute {
  /** Output id and export name suffix (`BucketName`). */
  readonly outputId: string;
  /** Last part of the SSM parameter name (`bucket-name`). */
  readonly parameterName: string;
  /** What it holds, for the output's or parameter's description. */
  readonly description: string;
}

/**
 * The attributes another app needs to import the backup resources of a stack, one home for their names. The
 * operations topic (`operations-topic-arn`, `operations-topic-key-arn`) joins this table when constructs accept an
 * existing topic.
 */
export const SHARED_ATTRIBUTES = {
  bucketName: { outputId: 'BucketName', parameterName: 'bucket-name', description: 'Name of the backup bucket' },
  bucketArn: { outputId: 'BucketArn', parameterName: 'bucket-arn', description: 'ARN of the backup bucket' },
  bucketRegion: { outputId: 'BucketRegion', parameterName: 'bucket-region', description: 'Region of the backup bucket' },
  encryptionKeyArn: { outputId: 'EncryptionKeyArn', parameterName: 'encryption-key-arn', description: 'ARN of the KMS key that encrypts the backup bucket' },
  replicaBucketName: { outputId: 'ReplicaBucketName', parameterName: 'replica/bucket-name', description: 'Name of the cross-region replica of the backup bucket' },
  replicaRegion: { outputId: 'ReplicaRegion', parameterName: 'replica/region', description: 'Region of the replica bucket' },
  replicaEncryptionKeyArn: {
    outputId: 'ReplicaEncryptionKeyArn',
    parameterName: 'replica/encryption-key-arn',
    description: 'The KMS key of the replica bucket (its alias ARN when published from the source region)',
  },
  replicationRuleId: { outputId: 'ReplicationRuleId', parameterName: 'replica/rule-id', description: 'Id of the replication rule (a dimension of the replication metrics)' },
  operationsTopicArn: { outputId: 'OperationsTopicArn', parameterName: 'operations-topic-arn', description: 'ARN of the operations SNS topic' },
  operationsTopicKeyArn: { outputId: 'OperationsTopicKeyArn', parameterName: 'operations-topic-key-arn', description: 'ARN of the KMS key of the operations topic' },
} as const satisfies Record<string, SharedAttribute>;

/** Options of {@link AttributeStore.stackOutputs}. */
export interface StackOutputsOptions {
  /**
   * Also export each output as `<exportPrefix>-<OutputId>` (e.g. `orders-backups-BucketName`), so that a stack of
   * another app in the same account and region can read it with `Fn.importValue` (see
   * `SharedBackupResources.importBucket`). An export cannot change or go away while another stack imports it.
   *
   * @default - outputs only: another app copies their values (e.g. into its context) and passes them to
   * `BackupBucket.fromBucketAttributes`
   */
  readonly exportPrefix?: string;
}

/**
 * Where {@link SharedBackupResources} publishes what another app needs, and where that app reads it back: SSM
 * parameters or stack outputs, as the user chooses. Both are regional: a stack publishes the resources of its own
 * region, and an app reads them in that region.
 *
 * @example
 * AttributeStore.ssmParameters('/orders/backups'); // /orders/backups/bucket-name, /orders/backups/encryption-key-arn, …
 * AttributeStore.stackOutputs({ exportPrefix: 'orders-backups' }); // outputs, exported as orders-backups-BucketName, …
 */
export class AttributeStore {
  /**
   * SSM String parameters named `<prefix>/<attribute>` (`/orders/backups/bucket-name`) in the publishing stack's region;
   * another app reads them at deploy time (`ssm.StringParameter.valueForStringParameter`).
   *
   * @param prefix a parameter path: `/` followed by letters, digits, `_`, `.`, `-` and `/`, not beginning with /aws or /ssm
   */
  public static ssmParameters(prefix: string): AttributeStore {
    if (!Token.isUnresolved(prefix)) {
      const problem = !/^(\/[A-Za-z0-9_.-]+)+$/.test(prefix)
        ? `${JSON.stringify(prefix)} is not a parameter path: start with "/", use letters, digits, "_", ".", "-" and "/" (e.g. "/orders/backups"), no trailing "/".`
        : /^\/(aws|ssm)/i.test(prefix)
          ? `${JSON.stringify(prefix)} begins with a prefix SSM reserves (/aws, /ssm); choose another, e.g. "/orders/backups".`
          : undefined;
      if (problem) throw new ConfigurationError(problem, undefined, { subject: 'AttributeStore.ssmParameters' });
    }
    return new AttributeStore({ kind: 'ssm', prefix });
  }

  /** CloudFormation outputs of the publishing stack, exported when `exportPrefix` is given. */
  public static stackOutputs(options: StackOutputsOptions = {}): AttributeStore {
    const prefix = options.exportPrefix;
    if (prefix !== undefined && !Token.isUnresolved(prefix) && !/^[A-Za-z0-9:-]{1,200}$/.test(prefix)) {
      throw new ConfigurationError(
        `exportPrefix ${JSON.stringify(prefix)} cannot begin an export name: use 1-200 letters, digits, "-" and ":" (e.g. "orders-backups").`,
        undefined,
        { subject: 'AttributeStore.stackOutputs' },
      );
    }
    return new AttributeStore({ kind: 'outputs', exportPrefix: prefix });
  }

  private constructor(private readonly where: { kind: 'ssm'; prefix: string } | { kind: 'outputs'; exportPrefix?: string }) {}

  /** Where an attribute is published: the parameter name, or the output id and export name. */
  public locationOf(attribute: SharedAttribute): string {
    if (this.where.kind === 'ssm') return `${this.where.prefix}/${attribute.parameterName}`;
    return this.where.exportPrefix === undefined ? `output ${attribute.outputId}` : `${this.where.exportPrefix}-${attribute.outputId}`;
  }

  /** Publishes `value` as `attribute` in `scope` (a construct of the publishing stack). */
  public publish(scope: Construct, attribute: SharedAttribute, value: string): void {
    if (this.where.kind === 'ssm') {
      new ssm.StringParameter(scope, attribute.outputId, {
        parameterName: this.locationOf(attribute),
        stringValue: value,
        description: `cdk-backup-dr: ${attribute.description}`,
      });
      return;
    }
    new CfnOutput(scope, attribute.outputId, {
      value,
      description: attribute.description,
      exportName: this.where.exportPrefix === undefined ? undefined : this.locationOf(attribute),
    });
  }

  /** The value of `attribute` as a deploy-time token in `scope` (a construct of the reading stack). */
  public read(scope: Construct, attribute: SharedAttribute): string {
    if (this.where.kind === 'ssm') return ssm.StringParameter.valueForStringParameter(scope, this.locationOf(attribute));
    if (this.where.exportPrefix === undefined) {
      throw new ConfigurationError(
        'stack outputs without export names cannot be read by another stack: copy their values into BackupBucket.fromBucketAttributes, ' +
          'or publish and read with AttributeStore.stackOutputs({ exportPrefix }) or AttributeStore.ssmParameters(prefix).',
        scope,
      );
    }
    return Fn.importValue(this.locationOf(attribute));
  }
}
