/**
 * The example app (bin/app.ts): synthesizes offline from context alone, wires PostgresDisasterRecovery over a new or an
 * imported RDS for PostgreSQL 15 instance, and leaves no unacknowledged cdk-nag finding anywhere in the app.
 */
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { buildExampleApp } from '../../../bin/app';
import { nagFindings } from '../../support/nag';

const EXISTING = {
  databaseInstanceId: 'orders-db',
  databaseSecretArn: 'arn:aws:secretsmanager:us-east-1:111111111111:secret:orders-db-master-AbCdEf',
  databaseEndpoint: 'orders-db.abcdefghijkl.us-east-1.rds.amazonaws.com',
  databaseSecurityGroupId: 'sg-0123456789abcdef0',
  vpcId: 'vpc-0123456789abcdef0',
  availabilityZones: 'us-east-1a,us-east-1b',
  privateSubnetIds: 'subnet-0123456789abcdef0,subnet-0123456789abcdef1',
};

function build(context: Record<string, string> = {}): { app: App; primary: Template; dr: Template } {
  const app = new App({ context });
  const stacks = buildExampleApp(app);
  return { app, primary: Template.fromStack(stacks.primary), dr: Template.fromStack(stacks.dr) };
}

describe('the example app with a new database', () => {
  let built: ReturnType<typeof build>;
  beforeAll(() => {
    built = build({ alarmEmail: 'oncall@example.com' });
  });

  it('creates an encrypted RDS for PostgreSQL 15 instance in isolated subnets, with deletion protection', () => {
    built.primary.hasResourceProperties('AWS::RDS::DBInstance', {
      Engine: 'postgres',
      EngineVersion: '15',
      DBInstanceClass: 'db.t4g.micro',
      StorageEncrypted: true,
      DeletionProtection: true,
    });
  });

  it('puts backups and the recovery test in the primary region, the replica and the Failover in the DR region', () => {
    expect(Object.keys(built.primary.findResources('AWS::StepFunctions::StateMachine')).length).toBeGreaterThanOrEqual(3);
    expect(Object.keys(built.dr.findResources('AWS::StepFunctions::StateMachine')).length).toBeGreaterThanOrEqual(1);
    expect(Object.keys(built.dr.findResources('AWS::S3::Bucket')).length).toBeGreaterThanOrEqual(1);
    built.primary.resourceCountIs('AWS::EC2::NatGateway', 1);
    built.dr.resourceCountIs('AWS::EC2::NatGateway', 1);
    built.primary.resourceCountIs('AWS::EC2::FlowLog', 1);
  });

  it('subscribes -c alarmEmail to the operations topic of each region, which the alarms of that region notify', () => {
    for (const template of [built.primary, built.dr]) {
      template.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'oncall@example.com' });
      template.resourceCountIs('AWS::SNS::Topic', 1);
      const topic = Object.keys(template.findResources('AWS::SNS::Topic'))[0];
      const alarms = Object.values(template.findResources('AWS::CloudWatch::Alarm')) as Array<{ Properties: { AlarmActions: unknown[] } }>;
      expect(alarms.length).toBeGreaterThan(0);
      for (const alarm of alarms) expect(alarm.Properties.AlarmActions).toEqual([{ Ref: topic }]);
    }
  });

  it('creates the VPC endpoints the functions use in their own region', () => {
    const services = Object.values(built.primary.findResources('AWS::EC2::VPCEndpoint')).map((e) => JSON.stringify((e as { Properties: { ServiceName: unknown } }).Properties.ServiceName));
    expect(services.some((s) => s.includes('secretsmanager'))).toBe(true);
    expect(services.some((s) => s.includes('.s3'))).toBe(true);
  });

  it('lets each region\'s sweeper into the interface endpoints (their private DNS answers for RDS, Secrets Manager and Step Functions)', () => {
    for (const template of [built.primary, built.dr]) {
      // The sweeper asks Step Functions whether a scratch database's execution still runs: without NAT it needs the endpoint.
      const services = Object.values(template.findResources('AWS::EC2::VPCEndpoint')).map((e) => JSON.stringify((e as { Properties: { ServiceName: unknown } }).Properties.ServiceName));
      expect(services.some((s) => s.includes('.states'))).toBe(true);
      const groups = template.findResources('AWS::EC2::SecurityGroup');
      const idOf = (description: string) => Object.entries(groups).find(([, g]) => JSON.stringify((g as { Properties: { GroupDescription: unknown } }).Properties.GroupDescription).includes(description))?.[0];
      const endpoints = idOf('VPC interface endpoints');
      const sweeper = idOf('the sweeper function');
      expect(endpoints).toEqual(expect.any(String));
      expect(sweeper).toEqual(expect.any(String));
      template.hasResourceProperties('AWS::EC2::SecurityGroupIngress', {
        GroupId: { 'Fn::GetAtt': [endpoints, 'GroupId'] },
        SourceSecurityGroupId: { 'Fn::GetAtt': [sweeper, 'GroupId'] },
        FromPort: 443,
      });
    }
  });

  it('leaves no unacknowledged AwsSolutions, HIPAA or NIST 800-53 R5 finding anywhere in the app', () => {
    expect(nagFindings(built.app)).toEqual([]);
  });
});

describe('the example app over an existing database', () => {
  it('imports the instance, its secret and its VPC by id and creates no database and no VPC', () => {
    const { primary, app } = build(EXISTING);
    primary.resourceCountIs('AWS::RDS::DBInstance', 0);
    primary.resourceCountIs('AWS::EC2::VPC', 0);
    expect(JSON.stringify(primary.toJSON())).toContain(EXISTING.databaseSecretArn);
    expect(nagFindings(app)).toEqual([]);
  });

  it('names every missing setting when only some are given', () => {
    expect(() => build({ databaseInstanceId: 'orders-db', databaseSecretArn: EXISTING.databaseSecretArn })).toThrow(
      /missing: -c databaseEndpoint=… .*-c databaseSecurityGroupId=….*-c vpcId=….*-c availabilityZones=….*-c privateSubnetIds=…/,
    );
  });

  it('refuses a secret that is not a Secrets Manager ARN and subnets that do not match the zones', () => {
    expect(() => build({ ...EXISTING, databaseSecretArn: 'orders-db-master' })).toThrow(/not a Secrets Manager secret ARN/);
    expect(() => build({ ...EXISTING, privateSubnetIds: 'subnet-0123456789abcdef0' })).toThrow(/one subnet per zone/);
  });
});

describe('example app settings', () => {
  it('refuses the same primary and DR region, and an alarm email that is not one', () => {
    expect(() => build({ primaryRegion: 'eu-west-1', drRegion: 'eu-west-1' })).toThrow(/pass a different DR region/);
    expect(() => build({ alarmEmail: 'oncall' })).toThrow(/not an email address/);
  });
});
