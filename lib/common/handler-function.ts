import { Duration, RemovalPolicy, Size } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { handlerCode } from './handler-code';

/** Props for {@link HandlerFunction}. */
export interface HandlerFunctionProps {
  /** The bundled handler's name: `assets/<handlerName>/index.js`. */
  readonly handlerName: string;
  /** What the function does, shown in the console. */
  readonly description: string;
  /** The VPC the function runs in. */
  readonly vpc: ec2.IVpc;
  /**
   * Subnets for the function.
   * @default - the VPC's private subnets with egress
   */
  readonly vpcSubnets?: ec2.SubnetSelection;
  /** Security groups of the function. */
  readonly securityGroups: ec2.ISecurityGroup[];
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
}

/**
 * A pre-bundled handler of this package as a Lambda function with the settings every handler shares: newest Node.js
 * runtime, in the VPC, X-Ray tracing, a KMS-encrypted log group with retention, JSON logs, source maps.
 *
 * @example
 * const fn = new HandlerFunction(this, 'Dump', {
 *   handlerName: 'dump', description: 'pg_dump to S3', vpc, securityGroups: [sg], logsKey, logRetention: logs.RetentionDays.ONE_YEAR,
 * });
 */
export class HandlerFunction extends lambda.Function {
  constructor(scope: Construct, id: string, props: HandlerFunctionProps) {
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
      vpc: props.vpc,
      vpcSubnets: props.vpcSubnets ?? { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
      securityGroups: props.securityGroups,
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
        POWERTOOLS_METRICS_NAMESPACE: 'CdkBackupDr',
        ...props.environment,
      },
    });
  }
}
