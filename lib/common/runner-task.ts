import { Arn, ArnFormat, Duration, RemovalPolicy, Stack, Token, Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { Platform } from 'aws-cdk-lib/aws-ecr-assets';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import { METRICS_NAMESPACE } from '../../lambda/common/metrics';
import { type FargateRunnerSettings, RUNNER_HEARTBEAT_INTERVAL, RUNNER_HEARTBEAT_TIMEOUT } from './backup-runner';
import { runnerImagePath } from './handler-code';
import { ConfigurationError } from './errors';
import { acknowledgeHipaaAndNist } from './nag';
import { AwsApi } from './network';

/**
 * The AWS APIs a runner task calls besides its handler's: pulling its image (ECR, the layers from S3), its logs
 * (awslogs driver) and answering its state machine (SendTask*: Step Functions). Register them with the task's
 * handler APIs, so `vpcEndpoints` creates their endpoints.
 */
export const RUNNER_TASK_APIS: readonly AwsApi[] = [AwsApi.ECR_API, AwsApi.ECR_DOCKER, AwsApi.LOGS, AwsApi.STEP_FUNCTIONS];

/** Props of {@link RunnerTask}. */
export interface RunnerTaskProps {
  /** The handler the task runs (`RUNNER_HANDLER`, one of lambda/runner/task.ts's TASK_HANDLERS). */
  readonly handlerName: string;
  /** What the task does, for the log stream prefix and messages. */
  readonly description: string;
  /** Size, timeout and cluster (from {@link BackupRunner.fargate}). */
  readonly settings: FargateRunnerSettings;
  /** The PostgreSQL major of the client tools in the image. */
  readonly postgresVersion: number;
  /** The VPC of the task. */
  readonly vpc: ec2.IVpc;
  /**
   * Subnets of the task.
   * @default - the VPC's private subnets with egress
   */
  readonly vpcSubnets?: ec2.SubnetSelection;
  /** The security group of the task (the one the construct's Lambdas have, so the database admits it). */
  readonly securityGroup: ec2.ISecurityGroup;
  /** KMS key of the task's log group. */
  readonly logsKey: kms.IKey;
  /** How long the task's logs are kept. */
  readonly logRetention: logs.RetentionDays;
  /** The handler's environment (never secrets), as the Lambda function of the same handler has it. */
  readonly environment: Record<string, string>;
}

/**
 * One handler of this package as an ECS Fargate task that a state machine runs with `ecs:runTask.waitForTaskToken`:
 * the image built at deploy time from the Dockerfile shipped in the package, a task role to grant what the handler
 * calls (it is the grantee, like the Lambda function it replaces), a KMS-encrypted log group, the cluster (given or
 * created), and {@link step}, the states that run it.
 *
 * @example
 * const runner = new RunnerTask(this, 'DumpTask', { handlerName: 'dump', description: 'pg_dump', settings, postgresVersion: 16, vpc, securityGroup, logsKey, logRetention, environment });
 * bucket.grantWriteBackups(runner, 'postgres/db1/*');
 */
export class RunnerTask extends Construct implements iam.IGrantable {
  /** The task role: what the handler calls is granted to it. */
  public readonly grantPrincipal: iam.IPrincipal;
  /** The Fargate task definition (its task role is {@link grantPrincipal}). */
  public readonly taskDefinition: ecs.FargateTaskDefinition;
  /** The one container, running lambda/runner/task-entrypoint.ts. */
  public readonly container: ecs.ContainerDefinition;
  /** The cluster the task runs in. */
  public readonly cluster: ecs.ICluster;
  /** The KMS-encrypted log group of the container. */
  public readonly logGroup: logs.LogGroup;
  /** The longest one run may take. */
  public readonly timeout: Duration;
  private readonly vpcSubnets: ec2.SubnetSelection;
  private readonly securityGroup: ec2.ISecurityGroup;

  constructor(scope: Construct, id: string, props: RunnerTaskProps) {
    super(scope, id);
    const { settings } = props;
    this.timeout = settings.timeout;
    this.vpcSubnets = props.vpcSubnets ?? { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS };
    this.securityGroup = props.securityGroup;
    if (settings.cluster) checkClusterPlacement(this, settings.cluster, props.vpc);
    this.cluster = settings.cluster ?? new ecs.Cluster(this, 'Cluster', { vpc: props.vpc, containerInsightsV2: ecs.ContainerInsights.ENABLED });
    this.logGroup = new logs.LogGroup(this, 'Logs', { encryptionKey: props.logsKey, retention: props.logRetention, removalPolicy: RemovalPolicy.RETAIN });
    this.taskDefinition = new ecs.FargateTaskDefinition(this, 'TaskDefinition', {
      cpu: settings.cpu,
      memoryLimitMiB: settings.memoryLimitMiB,
      ephemeralStorageGiB: settings.ephemeralStorageGiB,
      runtimePlatform: { cpuArchitecture: ecs.CpuArchitecture.X86_64, operatingSystemFamily: ecs.OperatingSystemFamily.LINUX },
    });
    this.grantPrincipal = this.taskDefinition.taskRole;
    this.container = this.taskDefinition.addContainer('Runner', {
      image: ecs.ContainerImage.fromAsset(runnerImagePath(), {
        buildArgs: { POSTGRES_MAJOR: String(props.postgresVersion) },
        platform: Platform.LINUX_AMD64,
      }),
      logging: ecs.LogDrivers.awsLogs({ logGroup: this.logGroup, streamPrefix: props.handlerName }),
      readonlyRootFilesystem: false,
      environment: {
        AWS_REGION: Stack.of(this).region,
        POWERTOOLS_SERVICE_NAME: `cdk-backup-dr-${props.handlerName}`,
        POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
        RUNNER_HANDLER: props.handlerName,
        RUNNER_TIMEOUT_SECONDS: String(settings.timeout.toSeconds()),
        RUNNER_HEARTBEAT_SECONDS: String(RUNNER_HEARTBEAT_INTERVAL.toSeconds()),
        ...props.environment,
      },
    });
    this.acknowledgeIntrinsicFindings();
  }

  /** Adds a statement to the task role's policy (as `lambda.Function.addToRolePolicy`). */
  public addToRolePolicy(statement: iam.PolicyStatement): void {
    this.taskDefinition.addToTaskRolePolicy(statement);
  }

  /**
   * The states that run the task once with `payload` as the handler's event: a Pass that builds the event under
   * `$.runnerInput`, then the ECS task, which puts the handler's output at `resultPath` (what a Lambda task with
   * `payloadResponseOnly` puts there) and fails with the handler's error name. Add Retry and Catch to `task`.
   */
  public step(scope: Construct, id: string, payload: sfn.TaskInput, resultPath: string): { readonly entry: sfn.Pass; readonly task: tasks.EcsRunTask } {
    const entry = new sfn.Pass(scope, `${id} input`, {
      comment: `The event of the ${id} task, passed to the container as TASK_INPUT.`,
      parameters: payload.value as Record<string, unknown>,
      resultPath: '$.runnerInput',
    });
    const task = new tasks.EcsRunTask(scope, id, {
      integrationPattern: sfn.IntegrationPattern.WAIT_FOR_TASK_TOKEN,
      cluster: this.cluster,
      taskDefinition: this.taskDefinition,
      launchTarget: new tasks.EcsFargateLaunchTarget({ platformVersion: ecs.FargatePlatformVersion.VERSION1_4 }),
      subnets: this.vpcSubnets,
      securityGroups: [this.securityGroup],
      assignPublicIp: false,
      containerOverrides: [
        {
          containerDefinition: this.container,
          environment: [
            { name: 'TASK_TOKEN', value: sfn.JsonPath.taskToken },
            { name: 'TASK_INPUT', value: sfn.JsonPath.jsonToString(sfn.JsonPath.objectAt('$.runnerInput')) },
          ],
        },
      ],
      heartbeatTimeout: sfn.Timeout.duration(RUNNER_HEARTBEAT_TIMEOUT),
      taskTimeout: sfn.Timeout.duration(this.timeout),
      resultPath,
    });
    entry.next(task);
    return { entry, task };
  }

  /** Lets the task answer the state machine that waits for it (SendTaskSuccess, SendTaskFailure, SendTaskHeartbeat). */
  public grantAnswer(stateMachine: sfn.IStateMachine): iam.Grant {
    return stateMachine.grantTaskResponse(this.grantPrincipal);
  }

  private acknowledgeIntrinsicFindings(): void {
    Validations.of(this.taskDefinition).acknowledge({
      id: 'AwsSolutions-ECS2',
      reason: 'The environment holds names only (bucket, key ARN, source, tool paths, timeouts); credentials stay in Secrets Manager and are read by the handler.',
    });
    Validations.of(this.taskDefinition).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason: 'Only ecr:GetAuthorizationToken (the execution role pulling the image) is granted on *: it has no resource-level permissions.',
    });
    acknowledgeHipaaAndNist(
      this.taskDefinition,
      'IAMNoInlinePolicy',
      "The inline default policies belong to this task's own task and execution roles and are built from grants on named resources; they are deleted with the roles.",
    );
  }
}

/**
 * A given cluster must be in the stack's account and region (the state machine calls RunTask in its own region with
 * this stack's task role, image and log group), and made with the construct's VPC: the run-task step picks the task's
 * subnets from the cluster's VPC, while the security group is the construct's, so another VPC would fail at run time.
 * Decided only where both sides are known.
 */
function checkClusterPlacement(scope: Construct, cluster: ecs.ICluster, vpc: ec2.IVpc): void {
  const stack = Stack.of(scope);
  // An imported cluster's env is the importing stack's; only its ARN tells where it is.
  const where = Token.isUnresolved(cluster.clusterArn) ? cluster.env : Arn.split(cluster.clusterArn, ArnFormat.SLASH_RESOURCE_NAME);
  const fields: ReadonlyArray<readonly [string, string, string]> = [
    ['region', where.region ?? '', stack.region],
    ['account', where.account ?? '', stack.account],
    ['VPC', cluster.vpc.vpcId, vpc.vpcId],
  ];
  for (const [field, theirs, ours] of fields) {
    if (Token.isUnresolved(theirs) || Token.isUnresolved(ours) || theirs === ours) continue;
    throw new ConfigurationError(
      `the cluster ${cluster.node.path} is in ${field} ${theirs}, but this construct's tasks run in ${field} ${ours}; ` +
        `pass a cluster of ${ours}, or leave cluster out to create one.`,
      scope,
      { subject: 'BackupRunner.fargate' },
    );
  }
  if (cluster.vpc !== vpc && Token.isUnresolved(cluster.vpc.vpcId) && Token.isUnresolved(vpc.vpcId) && cluster.vpc.vpcId !== vpc.vpcId) {
    throw new ConfigurationError(
      `the cluster ${cluster.node.path} was made with VPC ${cluster.vpc.node.path}, but this construct's tasks run in ${vpc.node.path}; ` +
        'pass a cluster of that VPC, or leave cluster out to create one.',
      scope,
      { subject: 'BackupRunner.fargate' },
    );
  }
}
