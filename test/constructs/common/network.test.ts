/**
 * What the Lambdas of PostgresBackup, RecoveryTest and Failover need from their VPC (lib/common/network.ts): the VPC
 * endpoints `vpcEndpoints` creates (once per VPC), the synth error when a function calls an API outside its region
 * from subnets without a NAT route, and the warnings where that cannot be known or endpoints are missing.
 */
import { App, Duration, Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as rds from 'aws-cdk-lib/aws-rds';
import * as route53 from 'aws-cdk-lib/aws-route53';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { AwsSolutionsChecks, HIPAASecurityChecks, NIST80053R5Checks } from 'cdk-nag';
import { BackupSource, PostgresBackup, PostgresBackupProps, RecoveryTest, RecoveryTestProps } from '../../../lib';
import { ConfigurationError } from '../../../lib/common/errors';
import { NETWORK_WARNINGS } from '../../../lib/common/network';
import { Failover, FailoverProps } from '../../../lib/failover/failover';
import { RepointTarget } from '../../../lib/failover/failover-repoint';
import { FailoverSource, FailoverStrategy } from '../../../lib/failover/failover-strategy';
import { BackupBucket } from '../../../lib/storage';
import { threeTierVpc } from '../../support/vpc';

const ACCOUNT = '111111111111';
const DR_KEY = `arn:aws:kms:us-west-2:${ACCOUNT}:alias/dr-snapshots`;
const ISOLATED = { subnetType: ec2.SubnetType.PRIVATE_ISOLATED };
type Json = Record<string, unknown>;

function primaryStack(app = new App()): Stack {
  return new Stack(app, 'Primary', { env: { account: ACCOUNT, region: 'us-east-1' } });
}

function backup(stack: Stack, vpc: ec2.IVpc, props: Partial<PostgresBackupProps> = {}, bucket = new BackupBucket(stack, 'Backups')): PostgresBackup {
  const instance = rds.DatabaseInstance.fromDatabaseInstanceAttributes(stack, 'Db', {
    instanceIdentifier: 'orders-db',
    instanceEndpointAddress: 'orders-db.abc.us-east-1.rds.amazonaws.com',
    port: 5432,
    securityGroups: [],
  });
  const secret = secretsmanager.Secret.fromSecretCompleteArn(stack, 'DbSecret', `arn:aws:secretsmanager:us-east-1:${ACCOUNT}:secret:orders-db-AbCdEf`);
  return new PostgresBackup(stack, 'Backup', {
    source: BackupSource.fromInstance(instance, { secret }),
    databases: ['orders'],
    vpc,
    bucket,
    postgresVersion: 15,
    sourceName: 'orders-db',
    ...props,
  });
}

function recoveryTest(stack: Stack, vpc: ec2.IVpc, bucket: BackupBucket, props: Partial<RecoveryTestProps> = {}): RecoveryTest {
  return new RecoveryTest(stack, 'RecoveryTest', {
    bucket,
    sourceName: 'orders-db',
    vpc,
    pgToolsLayer: lambda.LayerVersion.fromLayerVersionArn(stack, 'PgTools', `arn:aws:lambda:us-east-1:${ACCOUNT}:layer:pg-tools:3`),
    postgresVersion: 16,
    ...props,
  });
}

function failover(props: Partial<FailoverProps> | ((stack: Stack) => Partial<FailoverProps>) = {}): { stack: Stack; failover: Failover } {
  const stack = new Stack(new App(), 'Dr', { env: { account: ACCOUNT, region: 'us-west-2' } });
  const fo = new Failover(stack, 'Failover', {
    source: FailoverSource.instance('orders-db'),
    primaryRegion: 'us-east-1',
    database: 'orders',
    strategies: [FailoverStrategy.restoreSnapshot({ instanceType: ec2.InstanceType.of(ec2.InstanceClass.T4G, ec2.InstanceSize.MICRO) })],
    rpo: Duration.hours(24),
    bucket: new BackupBucket(stack, 'ReplicaBackups'),
    vpc: threeTierVpc(stack),
    repoint: [RepointTarget.ssmParameter('/orders/db/endpoint')],
    ...(typeof props === 'function' ? props(stack) : props),
  });
  return { stack, failover: fo };
}

/** The VPC endpoints of a template by service (the last part of the service name), with their properties. */
function endpointsByService(template: Template): Record<string, Json> {
  const out: Record<string, Json> = {};
  for (const r of Object.values(template.findResources('AWS::EC2::VPCEndpoint')) as Array<{ Properties: Json }>) {
    const name = JSON.stringify(r.Properties.ServiceName);
    const service = /\.([a-z0-9-]+)"*\]*\]*\}*$/.exec(name.replace(/\\"/g, ''))?.[1] ?? name;
    expect(out[service]).toBeUndefined();
    out[service] = r.Properties;
  }
  return out;
}

function networkWarnings(stack: Stack): string[] {
  return Annotations.fromStack(stack)
    .findWarning('*', Match.stringLikeRegexp('.*'))
    .map((w) => String(w.entry.data))
    .filter((text) => text.includes('VPC endpoints') || text.includes('routes cannot be checked'));
}

describe('vpcEndpoints', () => {
  it('creates the S3 gateway endpoint and interface endpoints (private DNS) for the same-region APIs, open on 443 to the Lambdas only', () => {
    const stack = primaryStack();
    const vpc = threeTierVpc(stack);
    const b = backup(stack, vpc, { vpcEndpoints: true });
    const template = Template.fromStack(stack);
    const endpoints = endpointsByService(template);
    expect(Object.keys(endpoints).sort()).toEqual(['rds', 's3', 'secretsmanager']);
    expect(endpoints.s3.VpcEndpointType).toBe('Gateway');
    for (const service of ['rds', 'secretsmanager']) {
      expect(endpoints[service]).toMatchObject({ VpcEndpointType: 'Interface', PrivateDnsEnabled: true });
    }
    const sgId = (endpoints.rds.SecurityGroupIds as Array<{ 'Fn::GetAtt': string[] }>)[0]['Fn::GetAtt'][0];
    expect(endpoints.secretsmanager.SecurityGroupIds).toEqual(endpoints.rds.SecurityGroupIds);
    const ingress = template.findResources('AWS::EC2::SecurityGroupIngress', { Properties: { GroupId: { 'Fn::GetAtt': [sgId, 'GroupId'] } } });
    expect(Object.values(ingress).map((r) => (r as { Properties: Json }).Properties)).toEqual([
      expect.objectContaining({
        IpProtocol: 'tcp',
        FromPort: 443,
        ToPort: 443,
        SourceSecurityGroupId: { 'Fn::GetAtt': [stack.getLogicalId(b.securityGroup.node.defaultChild as ec2.CfnSecurityGroup), 'GroupId'] },
      }),
    ]);
    // No CIDR range is let in (open: false), and the group sends nothing.
    template.hasResourceProperties('AWS::EC2::SecurityGroup', {
      GroupDescription: Match.stringLikeRegexp('VPC interface endpoints'),
      SecurityGroupIngress: Match.absent(),
      SecurityGroupEgress: [Match.objectLike({ CidrIp: '255.255.255.255/32' })],
    });
  });

  it('creates none by default', () => {
    const stack = primaryStack();
    backup(stack, threeTierVpc(stack));
    Template.fromStack(stack).resourceCountIs('AWS::EC2::VPCEndpoint', 0);
  });

  it('creates each endpoint once per VPC when several constructs ask, and lets each construct\'s Lambdas in', () => {
    const stack = primaryStack();
    const vpc = threeTierVpc(stack);
    const b = backup(stack, vpc, { vpcEndpoints: true });
    const t = recoveryTest(stack, vpc, b.node.scope!.node.tryFindChild('Backups') as BackupBucket, { vpcEndpoints: true });
    const template = Template.fromStack(stack);
    expect(Object.keys(endpointsByService(template)).sort()).toEqual(['rds', 's3', 'secretsmanager']);
    const sources = Object.values(template.findResources('AWS::EC2::SecurityGroupIngress', { Properties: { FromPort: 443 } })).map(
      (r) => ((r as { Properties: Json }).Properties.SourceSecurityGroupId as { 'Fn::GetAtt': string[] })['Fn::GetAtt'][0],
    );
    const logicalId = (sg: ec2.SecurityGroup) => stack.getLogicalId(sg.node.defaultChild as ec2.CfnSecurityGroup);
    expect(sources.sort()).toEqual([logicalId(b.securityGroup), logicalId(t.lambdaSecurityGroup)].sort());
  });

  it('reuses an S3 gateway endpoint the VPC already has', () => {
    const stack = primaryStack();
    const vpc = threeTierVpc(stack, { gatewayEndpoints: { S3: { service: ec2.GatewayVpcEndpointAwsService.S3 } } });
    backup(stack, vpc, { vpcEndpoints: true });
    expect(Object.keys(endpointsByService(Template.fromStack(stack))).sort()).toEqual(['rds', 's3', 'secretsmanager']);
  });

  it('adds SSM for an SSM repoint target, and lets same-region-only Lambdas run in isolated subnets', () => {
    const { stack } = failover({ vpcEndpoints: true, lambdaSubnets: ISOLATED });
    expect(Object.keys(endpointsByService(Template.fromStack(stack))).sort()).toEqual(['rds', 's3', 'secretsmanager', 'ssm']);
    expect(networkWarnings(stack)).toEqual([]);
  });
});

describe('subnets without a NAT route', () => {
  it('fail synth when the snapshot copy (RDS in the DR region) runs from isolated subnets, even with endpoints', () => {
    const stack = primaryStack();
    backup(stack, threeTierVpc(stack), { vpcEndpoints: true, vpcSubnets: ISOLATED, snapshotCopy: { region: 'us-west-2', encryptionKeyArn: DR_KEY } });
    expect(() => Template.fromStack(stack)).toThrow(ConfigurationError);
    expect(() => Template.fromStack(stack)).toThrow(
      /PostgresBackup Primary\/Backup: the functions' subnets are isolated .* SnapshotFunction calls RDS in us-west-2.*PRIVATE_WITH_EGRESS subnets routed to a NAT gateway/,
    );
  });

  it('fail synth when the VPC has no NAT gateway', () => {
    const stack = primaryStack();
    backup(stack, threeTierVpc(stack, { natGateways: 0 }), { snapshotCopy: { region: 'us-west-2', encryptionKeyArn: DR_KEY } });
    expect(() => Template.fromStack(stack)).toThrow(/no default route \(the VPC has no NAT gateway\).*SnapshotFunction calls RDS in us-west-2/);
  });

  it('fail synth when replication is turned on after the PostgresBackup (the verify function then reads the DR replica)', () => {
    for (const replicated of [false, true]) {
      const app = new App();
      const drStack = new Stack(app, 'Dr', { env: { account: ACCOUNT, region: 'us-west-2' } });
      const stack = primaryStack(app);
      const bucket = new BackupBucket(stack, 'Backups');
      const replica = new BackupBucket(drStack, 'Replica');
      backup(stack, threeTierVpc(stack), { vpcEndpoints: true, vpcSubnets: ISOLATED, snapshots: false }, bucket);
      if (!replicated) {
        expect(() => app.synth()).not.toThrow();
        continue;
      }
      bucket.replicateTo(replica);
      expect(() => app.synth()).toThrow(/VerifyFunction calls S3 in us-west-2/);
    }
  });

  it('fail synth for a Route 53 repoint target (a global API) in isolated subnets', () => {
    const { stack } = failover((drStack) => ({
      vpcEndpoints: true,
      lambdaSubnets: ISOLATED,
      repoint: [
        RepointTarget.cnameRecord(route53.HostedZone.fromHostedZoneAttributes(drStack, 'Zone', { hostedZoneId: 'Z0123456789ABC', zoneName: 'example.internal' }), 'db.example.internal'),
      ],
    }));
    expect(() => Template.fromStack(stack)).toThrow(/Failover Dr\/Failover: .*RepointFunction calls Route 53 \(global\)/);
  });

  it('warn, for same-region-only Lambdas, that they need the endpoints when vpcEndpoints is off', () => {
    const stack = primaryStack();
    recoveryTest(stack, threeTierVpc(stack), new BackupBucket(stack, 'Backups'), { lambdaSubnets: ISOLATED });
    expect(networkWarnings(stack)).toEqual([expect.stringMatching(/RecoveryTest: the functions' subnets are isolated .* call S3, RDS, Secrets Manager .*Set vpcEndpoints: true/)]);
  });
});

describe('an imported VPC', () => {
  function importedVpc(stack: Stack): ec2.IVpc {
    return ec2.Vpc.fromVpcAttributes(stack, 'Imported', {
      vpcId: 'vpc-0123456789abcdef0',
      availabilityZones: ['us-east-1a', 'us-east-1b'],
      privateSubnetIds: ['subnet-0a', 'subnet-0b'],
      privateSubnetRouteTableIds: ['rtb-0a', 'rtb-0b'],
    });
  }

  it('warns (acknowledgeably) that a cross-region call needs a NAT route it cannot check', () => {
    const stack = primaryStack();
    backup(stack, importedVpc(stack), { snapshotCopy: { region: 'us-west-2', encryptionKeyArn: DR_KEY } });
    const warnings = Annotations.fromStack(stack).findWarning('/Primary/Backup', Match.stringLikeRegexp('routes cannot be checked'));
    expect(warnings.map((w) => String(w.entry.data))).toEqual([
      expect.stringMatching(new RegExp(`SnapshotFunction calls RDS in us-west-2.*route to a NAT gateway.*\\[ack: ${NETWORK_WARNINGS.routesUnknown}\\]`)),
    ]);
  });

  it('does not warn when every call stays in the region', () => {
    const stack = primaryStack();
    backup(stack, importedVpc(stack));
    expect(networkWarnings(stack)).toEqual([]);
  });
});

describe('the test VPC fixture (private subnets with a NAT gateway)', () => {
  it('has no network error or warning for any of the three constructs, with or without endpoints', () => {
    for (const vpcEndpoints of [false, true]) {
      const stack = primaryStack();
      const vpc = threeTierVpc(stack);
      const b = backup(stack, vpc, { vpcEndpoints, snapshotCopy: { region: 'us-west-2', encryptionKeyArn: DR_KEY } });
      recoveryTest(stack, vpc, b.node.scope!.node.tryFindChild('Backups') as BackupBucket, { vpcEndpoints });
      expect(networkWarnings(stack)).toEqual([]);
      const dr = failover({ vpcEndpoints });
      expect(networkWarnings(dr.stack)).toEqual([]);
    }
  });
});

describe('cdk-nag on the endpoints', () => {
  it('reports no finding on the endpoints or their security group (AwsSolutions, HIPAA Security, NIST 800-53 R5)', () => {
    const app = new App();
    const stack = primaryStack(app);
    backup(stack, threeTierVpc(stack), { vpcEndpoints: true });
    app.synth();
    const packs = [new AwsSolutionsChecks(app), new HIPAASecurityChecks(app), new NIST80053R5Checks(app)];
    const findings = packs.flatMap((pack) => pack.validateScope(app).violations.flatMap((v) => v.violatingResources.map((r) => `${v.ruleName} at ${r.constructPath}`)));
    expect(findings.filter((line) => line.includes('/CdkBackupDr'))).toEqual([]);
  });
});
