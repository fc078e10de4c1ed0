import { Duration, RemovalPolicy, Size } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { Validations } from 'aws-cdk-lib';
import { acknowledgeHipaaAndNist } from './nag';
import { handlerCode } from './handler-code';
import { METRICS_NAMESPACE } from '../../lambda/common/metrics';

/** Longest a Lambda may run (15 minutes): a dump, or the restore or verification of one, must fit. */
export const LAMBDA_MAX_TIMEOUT = Duration.minutes(15);

/** Props for {@link HandlerFunction}. */
export interface HandlerFunctionProps {
  /** The bundled handler's name: `assets/<handlerName>/index.js`. */
  readonly handlerName: string;
  /** What the function does, shown in the console. */
  readonly description: string;
  /**
   * The VPC the function runs in.
   * @default - outside any VPC: only for a function that reaches no database or private resource, with `outsideVpc`
   */
  readonly vpc?: ec2.IVpc;
  /**
   * Why the function runs outside a VPC (cdk-nag LambdaInsideVPC), required without `vpc`.
   * @default - none: the function is in `vpc`
   */
  readonly outsideVpc?: string;
  /**
   * Subnets for the function.
   * @default - the VPC's private subnets with egress
   */
  readonly vpcSubnets?: ec2.SubnetSelection;
  /**
   * Security groups of the function (with `vpc`).
   * @default - none
   */
  readonly securityGroups?: ec2.ISecurityGroup[];
  /** Environment variables (never secrets). */
  readonly environment?: Record<string, string>;
  /**
   * @default Duration.minutes(1)
   */
  readonly timeout?: Duration;
  /**
   * @default 256
   */
  readonly memorySize?: number;
  /**
   * Ephemeral storage in /tmp.
   * @default - 512 MiB
   */
  readonly ephemeralStorageSize?: number;
  /** Layers, e.g. the pg tools. */
  readonly layers?: lambda.ILayerVersion[];
  /** KMS key for the function's log group. */
  readonly logsKey: kms.IKey;
  /** How long the function's logs are kept. */
  readonly logRetention: logs.RetentionDays;
  /**
   * Who invokes the function and why it needs no reserved concurrency and no DLQ (cdk-nag LambdaConcurrency, LambdaDLQ).
   * @default - invoked synchronously by its state machine
   */
  readonly invocation?: { readonly concurrency: string; readonly deadLetterQueue: string };
}

/**
 * A pre-bundled handler of this package as a Lambda function with the settings every handler shares: newest Node.js
 * runtime, in the VPC (outside only with a reason), X-Ray tracing, a KMS-encrypted log group with retention, JSON logs, source maps.
 *
 * @example
 * const fn = new HandlerFunction(this, 'Dump', {
 *   handlerName: 'dump', description: 'pg_dump to S3', vpc, securityGroups: [sg], logsKey, logRetention: logs.RetentionDays.ONE_YEAR,
 * });
 */
export class HandlerFunction extends lambda.Function {
  constructor(scope: Construct, id: string, props: HandlerFunctionProps) {
    if (!props.vpc && !props.outsideVpc) {
      throw new Error(`${scope.node.path}/${id}: pass vpc, or outsideVpc with the reason the function needs no VPC (it reaches no database or private resource)`);
    }
    if (props.vpc && props.outsideVpc) throw new Error(`${scope.node.path}/${id}: pass either vpc or outsideVpc, not both`);
    const logGroup = new logs.LogGroup(scope, `${id}Logs`, {
      encryptionKey: props.logsKey,
      retention: props.logRetention,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    super(scope, id, {
      runtime: lambda.Runtime.NODEJS_24_X,
      architecture: lambda.Architecture.X86_64,
      handler: 'index.handler',
      code: handlerCode(props.handlerName),
      description: props.description,
      ...(props.vpc
        ? { vpc: props.vpc, vpcSubnets: props.vpcSubnets ?? { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS }, securityGroups: props.securityGroups }
        : {}),
      timeout: props.timeout ?? Duration.minutes(1),
      memorySize: props.memorySize ?? 256,
      ephemeralStorageSize: props.ephemeralStorageSize !== undefined ? Size.mebibytes(props.ephemeralStorageSize) : undefined,
      layers: props.layers,
      tracing: lambda.Tracing.ACTIVE,
      loggingFormat: lambda.LoggingFormat.JSON,
      logGroup,
      environment: {
        NODE_OPTIONS: '--enable-source-maps',
        POWERTOOLS_SERVICE_NAME: `cdk-backup-dr-${props.handlerName}`,
        POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
        ...props.environment,
      },
    });
    this.acknowledgeIntrinsicFindings(props);
  }

  /** cdk-nag findings every handler has by design, each with the reason it is accepted. */
  private acknowledgeIntrinsicFindings(props: HandlerFunctionProps): void {
    const managed = (name: string) => `AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/${name}]`;
    Validations.of(this).acknowledge({
      id: managed('AWSLambdaBasicExecutionRole'),
      reason: 'AWS-maintained minimal policy for writing the function\'s own logs; the log group is created here with KMS and retention.',
    });
    if (props.vpc) {
      Validations.of(this).acknowledge({
        id: managed('AWSLambdaVPCAccessExecutionRole'),
        reason: 'AWS-maintained minimal policy that lets Lambda create and delete the network interfaces of a function in a VPC.',
      });
    } else {
      acknowledgeHipaaAndNist(this, 'LambdaInsideVPC', props.outsideVpc as string);
    }
    Validations.of(this).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason: 'Only X-Ray tracing (xray:PutTraceSegments, xray:PutTelemetryRecords) is granted on *: X-Ray has no resource-level permissions.',
    });
    acknowledgeHipaaAndNist(
      this,
      'LambdaConcurrency',
      props.invocation?.concurrency ??
        'Invoked only synchronously by its state machine, which bounds concurrency (one run at a time per schedule); a reserved concurrency would take capacity from the account for a job that runs a few minutes a day.',
    );
    acknowledgeHipaaAndNist(
      this,
      'LambdaDLQ',
      props.invocation?.deadLetterQueue ??
        'Invoked only synchronously by Step Functions, which receives every error and retries or fails the run and notifies SNS; a DLQ applies to asynchronous invocations only.',
    );
    acknowledgeHipaaAndNist(
      this,
      'IAMNoInlinePolicy',
      'The inline default policy belongs to this function\'s own role only and is built from grants on named resources; it is deleted with the role, so no orphaned permissions remain.',
    );
  }
}
