#!/usr/bin/env node
/**
 * The example deployment: a primary stack (VPC, an RDS for PostgreSQL 15 instance or an imported one, the backups and
 * the recovery test) and a DR stack (VPC, replica bucket, Failover), wired by PostgresDisasterRecovery. Configured by
 * context only, so `cdk synth` needs no AWS credentials:
 *
 *   -c primaryRegion=us-east-1 -c drRegion=us-west-2 -c alarmEmail=oncall@example.com
 *   -c databaseInstanceId=… -c databaseSecretArn=… (plus the settings in EXISTING_DATABASE_CONTEXT) to protect an
 *   existing instance instead of creating one.
 */
import { App, Duration, RemovalPolicy, Stack, StackProps, Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as rds from 'aws-cdk-lib/aws-rds';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { AwsSolutionsChecks, HIPAASecurityChecks, NIST80053R5Checks } from 'cdk-nag';
import { Construct, IConstruct } from 'constructs';
import { BackupSource, PostgresDisasterRecovery, RepointTarget } from '../lib';

/** An existing RDS for PostgreSQL instance to protect, and the VPC it is in (given by id: no context lookups). */
export interface ExistingDatabaseSettings {
  readonly instanceId: string;
  readonly secretArn: string;
  readonly endpoint: string;
  readonly port: number;
  readonly securityGroupId: string;
  readonly vpcId: string;
  readonly availabilityZones: string[];
  /** Subnets routed to a NAT gateway, for the backup and recovery-test functions. */
  readonly privateSubnetIds: string[];
}

/** Settings of the example deployment, read from CDK context. */
export interface ExampleAppSettings {
  readonly primaryRegion: string;
  readonly drRegion: string;
  readonly account?: string;
  /** Where the alarms go (confirm the subscription email after the deployment). */
  readonly alarmEmail?: string;
  /** When set, this instance is protected instead of a new one. */
  readonly existingDatabase?: ExistingDatabaseSettings;
}

/** The SSM parameter a real failover writes the new endpoint to (`host:port`), in the DR region. */
export const EXAMPLE_ENDPOINT_PARAMETER = '/cdk-backup-dr-example/database-endpoint';

/** The context keys of an existing database, and what each one is. */
export const EXISTING_DATABASE_CONTEXT: Readonly<Record<string, string>> = {
  databaseInstanceId: 'the instance identifier',
  databaseSecretArn: 'the ARN of its Secrets Manager secret (JSON with username and password)',
  databaseEndpoint: 'its endpoint address',
  databaseSecurityGroupId: 'a security group of the instance (the functions are allowed into it)',
  vpcId: 'the id of its VPC',
  availabilityZones: 'the VPC\'s availability zones, comma-separated',
  privateSubnetIds: 'subnets of that VPC routed to a NAT gateway, comma-separated, one per availability zone',
};

/** Reads the example app's settings from context, with the documented defaults; throws saying what to pass. */
export function exampleAppSettings(app: App): ExampleAppSettings {
  const context = (key: string): string | undefined => {
    const value = app.node.tryGetContext(key) as unknown;
    return value === undefined || value === null || value === '' ? undefined : String(value);
  };
  const primaryRegion = context('primaryRegion') ?? 'us-east-1';
  const drRegion = context('drRegion') ?? 'us-west-2';
  if (primaryRegion === drRegion) {
    throw new Error(`primaryRegion and drRegion are both '${primaryRegion}': pass a different DR region, e.g. -c drRegion=us-west-2.`);
  }
  const alarmEmail = context('alarmEmail');
  if (alarmEmail !== undefined && !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(alarmEmail)) {
    throw new Error(`alarmEmail '${alarmEmail}' is not an email address: pass -c alarmEmail=oncall@example.com.`);
  }
  return {
    primaryRegion,
    drRegion,
    account: process.env.CDK_DEFAULT_ACCOUNT,
    alarmEmail,
    existingDatabase: existingDatabaseSettings(context),
  };
}

function existingDatabaseSettings(context: (key: string) => string | undefined): ExistingDatabaseSettings | undefined {
  const keys = Object.keys(EXISTING_DATABASE_CONTEXT);
  const given = keys.filter((key) => context(key) !== undefined);
  if (given.length === 0) return undefined;
  const missing = keys.filter((key) => context(key) === undefined);
  if (missing.length > 0) {
    throw new Error(
      `To protect an existing database, pass all of its settings; missing: ${missing.map((key) => `-c ${key}=… (${EXISTING_DATABASE_CONTEXT[key]})`).join(', ')}.`,
    );
  }
  const list = (key: string): string[] => context(key)!.split(',').map((item) => item.trim()).filter(Boolean);
  const port = Number(context('databasePort') ?? '5432');
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new Error(`databasePort '${context('databasePort')}' is not a port: pass -c databasePort=5432.`);
  }
  const settings: ExistingDatabaseSettings = {
    instanceId: context('databaseInstanceId')!,
    secretArn: context('databaseSecretArn')!,
    endpoint: context('databaseEndpoint')!,
    port,
    securityGroupId: context('databaseSecurityGroupId')!,
    vpcId: context('vpcId')!,
    availabilityZones: list('availabilityZones'),
    privateSubnetIds: list('privateSubnetIds'),
  };
  if (!/^arn:aws[a-z-]*:secretsmanager:/.test(settings.secretArn)) {
    throw new Error(`databaseSecretArn '${settings.secretArn}' is not a Secrets Manager secret ARN (arn:aws:secretsmanager:<region>:<account>:secret:<name>).`);
  }
  if (settings.privateSubnetIds.length !== settings.availabilityZones.length) {
    throw new Error(
      `privateSubnetIds has ${settings.privateSubnetIds.length} subnets for ${settings.availabilityZones.length} availability zones: give one subnet per zone, in the same order.`,
    );
  }
  return settings;
}

/**
 * A VPC for the example: public subnets for one NAT gateway, private subnets with egress (the functions: they call
 * AWS APIs in the other region, which no VPC endpoint serves), isolated subnets (the databases), and flow logs to an
 * encrypted log group.
 */
export class ExampleVpc extends Construct {
  public readonly vpc: ec2.Vpc;

  constructor(scope: Construct, id: string) {
    super(scope, id);
    this.vpc = new ec2.Vpc(this, 'Vpc', {
      maxAzs: 2,
      natGateways: 1,
      subnetConfiguration: [
        // Only the NAT gateway lives here, on its Elastic IP: nothing launched in it gets a public address.
        { name: 'public', subnetType: ec2.SubnetType.PUBLIC, cidrMask: 24, mapPublicIpOnLaunch: false },
        { name: 'private', subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS, cidrMask: 22 },
        { name: 'isolated', subnetType: ec2.SubnetType.PRIVATE_ISOLATED, cidrMask: 24 },
      ],
    });
    const stack = Stack.of(this);
    const key = new kms.Key(this, 'FlowLogKey', {
      description: 'cdk-backup-dr example: VPC flow logs',
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    key.grantEncryptDecrypt(new iam.ServicePrincipal(`logs.${stack.region}.amazonaws.com`));
    const logGroup = new logs.LogGroup(this, 'FlowLogs', {
      encryptionKey: key,
      retention: logs.RetentionDays.ONE_YEAR,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    const flowLog = this.vpc.addFlowLog('FlowLog', { destination: ec2.FlowLogDestination.toCloudWatchLogs(logGroup) });
    acknowledge(flowLog, ['HIPAA.Security-IAMNoInlinePolicy', 'NIST.800.53.R5-IAMNoInlinePolicy'],
      'The role CDK creates for the flow log; its one inline policy allows writing to this log group only.');
    for (const subnet of this.vpc.publicSubnets) {
      acknowledge(subnet, ['HIPAA.Security-VPCNoUnrestrictedRouteToIGW', 'NIST.800.53.R5-VPCNoUnrestrictedRouteToIGW'],
        'The public subnets hold only the NAT gateway, which needs the route to the internet gateway; the functions call AWS APIs of the other region through it.');
    }
    acknowledge(this.vpc, ['HIPAA.Security-VPCDefaultSecurityGroupClosed', 'NIST.800.53.R5-VPCDefaultSecurityGroupClosed'],
      'Nothing uses the default security group: every function, endpoint and database of this app has its own. (restrictDefaultSecurityGroup would add a custom-resource Lambda for it.)');
  }
}

/** The DR-region stack: its VPC; PostgresDisasterRecovery adds the replica bucket, the snapshot key and the Failover. */
export class DisasterRecoveryStack extends Stack {
  public readonly vpc: ec2.Vpc;

  constructor(scope: Construct, id: string, props: StackProps) {
    super(scope, id, props);
    this.vpc = new ExampleVpc(this, 'Network').vpc;
  }
}

/** The primary-region stack: the database (created or imported) and PostgresDisasterRecovery for it. */
export class PrimaryStack extends Stack {
  public readonly vpc: ec2.IVpc;
  public readonly database: rds.IDatabaseInstance;
  public readonly disasterRecovery: PostgresDisasterRecovery;

  constructor(
    scope: Construct,
    id: string,
    props: StackProps & { readonly dr: DisasterRecoveryStack; readonly settings: ExampleAppSettings },
  ) {
    super(scope, id, props);
    const existing = props.settings.existingDatabase;
    let secret: secretsmanager.ISecret;
    if (existing) {
      this.vpc = ec2.Vpc.fromVpcAttributes(this, 'Vpc', {
        vpcId: existing.vpcId,
        availabilityZones: existing.availabilityZones,
        privateSubnetIds: existing.privateSubnetIds,
      });
      this.database = rds.DatabaseInstance.fromDatabaseInstanceAttributes(this, 'Database', {
        instanceIdentifier: existing.instanceId,
        instanceEndpointAddress: existing.endpoint,
        port: existing.port,
        securityGroups: [ec2.SecurityGroup.fromSecurityGroupId(this, 'DatabaseSecurityGroup', existing.securityGroupId)],
        engine: rds.DatabaseInstanceEngine.postgres({ version: rds.PostgresEngineVersion.VER_15 }),
      });
      secret = secretsmanager.Secret.fromSecretCompleteArn(this, 'DatabaseSecret', existing.secretArn);
    } else {
      const vpc = new ExampleVpc(this, 'Network').vpc;
      const instance = new ExampleDatabase(this, 'Database', { vpc }).instance;
      this.vpc = vpc;
      this.database = instance;
      secret = instance.secret!;
    }
    this.disasterRecovery = new PostgresDisasterRecovery(this, 'App', {
      source: BackupSource.fromInstance(this.database, { secret }),
      databases: ['app'],
      postgresVersion: 15,
      vpc: this.vpc,
      drStack: props.dr,
      drVpc: props.dr.vpc,
      vpcEndpoints: existing === undefined,
      // An imported VPC is known only by its private subnets: the scratch database of the recovery test goes there.
      ...(existing ? { scratchSubnets: { subnets: this.vpc.privateSubnets } } : {}),
      rpo: Duration.hours(26),
      rto: Duration.hours(2),
      // Alarms and run outcomes of both regions go to this address (confirm the two subscription emails, one per region).
      ...(props.settings.alarmEmail ? { notifications: { emails: [props.settings.alarmEmail] } } : {}),
      // The application reads its database endpoint from this parameter (in the DR region after a failover).
      repoint: [RepointTarget.ssmParameter(EXAMPLE_ENDPOINT_PARAMETER)],
    });
  }
}

/** The smallest RDS for PostgreSQL 15 instance a careful operator would still run: encrypted, logged, protected. */
export class ExampleDatabase extends Construct {
  public readonly instance: rds.DatabaseInstance;

  constructor(scope: Construct, id: string, props: { readonly vpc: ec2.IVpc }) {
    super(scope, id);
    const identifier = 'cdk-backup-dr-example';
    const key = new kms.Key(this, 'Key', {
      description: 'cdk-backup-dr example: the database storage, its credentials and its logs',
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    key.grantEncryptDecrypt(new iam.ServicePrincipal(`logs.${Stack.of(this).region}.amazonaws.com`));
    // The log groups RDS exports to, created here so that they are encrypted and kept a year (instead of a
    // log-retention custom resource).
    const logGroups = ['postgresql', 'upgrade'].map((log) => new logs.LogGroup(this, `${log}Logs`, {
      logGroupName: `/aws/rds/instance/${identifier}/${log}`,
      encryptionKey: key,
      retention: logs.RetentionDays.ONE_YEAR,
      removalPolicy: RemovalPolicy.DESTROY,
    }));
    this.instance = new rds.DatabaseInstance(this, 'Instance', {
      engine: rds.DatabaseInstanceEngine.postgres({ version: rds.PostgresEngineVersion.VER_15 }),
      instanceType: ec2.InstanceType.of(ec2.InstanceClass.T4G, ec2.InstanceSize.MICRO),
      vpc: props.vpc,
      vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED },
      instanceIdentifier: identifier,
      databaseName: 'app',
      credentials: rds.Credentials.fromGeneratedSecret('postgres', { encryptionKey: key }),
      allocatedStorage: 20,
      storageEncrypted: true,
      storageEncryptionKey: key,
      backupRetention: Duration.days(7),
      deletionProtection: true,
      cloudwatchLogsExports: ['postgresql', 'upgrade'],
      monitoringInterval: Duration.seconds(60),
      iamAuthentication: true,
      autoMinorVersionUpgrade: true,
      removalPolicy: RemovalPolicy.SNAPSHOT,
    });
    for (const logGroup of logGroups) this.instance.node.addDependency(logGroup);
    acknowledge(this.instance, ['AwsSolutions-RDS3', 'HIPAA.Security-RDSMultiAZSupport', 'NIST.800.53.R5-RDSMultiAZSupport'],
      'The example runs the smallest database to keep its cost low; its recovery is the point of the example (snapshots and dumps in a second region, a rehearsed failover). Set multiAz: true for production.');
    acknowledge(this.instance, ['AwsSolutions-RDS11'],
      'A non-default port hides nothing from a scan inside the VPC; the instance is in isolated subnets and its security group admits only the functions of this package.');
    acknowledge(this.instance, ['HIPAA.Security-RDSInBackupPlan', 'NIST.800.53.R5-RDSInBackupPlan'],
      'This package is the backup plan: daily dumps and snapshots, copied to the DR region, tested weekly by a restore; RDS automated backups are on for 7 days as well.');
    // (the instance's generated secret is a child of the instance)
    acknowledge(this.instance, ['AwsSolutions-SMG4', 'HIPAA.Security-SecretsManagerRotationEnabled', 'NIST.800.53.R5-SecretsManagerRotationEnabled'],
      'Rotation needs a rotation function with a route to the database (instance.addRotationSingleUser()); every function of this package reads the secret at each run, so turning rotation on needs no other change.');
    const monitoringRole = this.instance.node.tryFindChild('MonitoringRole');
    if (monitoringRole) {
      acknowledge(monitoringRole, ['AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole]'],
        'AmazonRDSEnhancedMonitoringRole is the AWS-managed policy RDS documents for Enhanced Monitoring; it writes only to the RDSOSMetrics log group.');
    }
  }
}

/** Acknowledges cdk-nag findings (by rule id) on `scope` and below, with the reason a reviewer reads. */
function acknowledge(scope: IConstruct, ids: string[], reason: string): void {
  for (const id of ids) Validations.of(scope).acknowledge({ id, reason });
}

/** Builds the example deployment (primary + DR region stacks) into `app`, with the cdk-nag rule packs applied. */
export function buildExampleApp(app: App): { primary: PrimaryStack; dr: DisasterRecoveryStack } {
  const settings = exampleAppSettings(app);
  const dr = new DisasterRecoveryStack(app, 'CdkBackupDr-Dr', {
    env: { account: settings.account, region: settings.drRegion },
    description: 'cdk-backup-dr example: DR region (replica of the backups, failover)',
  });
  const primary = new PrimaryStack(app, 'CdkBackupDr-Primary', {
    env: { account: settings.account, region: settings.primaryRegion },
    description: 'cdk-backup-dr example: primary region (database, backups, recovery test)',
    dr,
    settings,
  });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app), new HIPAASecurityChecks(app), new NIST80053R5Checks(app));
  return { primary, dr };
}

// Synthesizes when run by the CDK CLI; tests import buildExampleApp without synthesizing.
if (require.main === module) {
  const app = new App();
  buildExampleApp(app);
  app.synth();
}
