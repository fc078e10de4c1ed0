/**
 * PostgresDisasterRecovery: one construct wires the bucket and its replica, PostgresBackup with snapshot copies under
 * a DR key and retention, RecoveryTest and a Failover in the DR stack; its synth errors say what to change; and it
 * adds no unacknowledged cdk-nag finding over both stacks.
 */
import { App, Duration, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as rds from 'aws-cdk-lib/aws-rds';
import { BackupSchedule, BackupSource, ConfigurationError, PostgresDisasterRecovery, RecoveryTestSchedule, RetentionPolicy, type PostgresDisasterRecoveryProps } from '../../../lib';
import { nagFindingsBeyondBaseline } from '../../support/nag';
import { threeTierVpc } from '../../support/vpc';

const ACCOUNT = '111111111111';

interface Fixture {
  readonly app: App;
  readonly primary: Stack;
  readonly dr: Stack;
  readonly dr2?: PostgresDisasterRecovery;
}

/** A primary stack with a VPC and an RDS for PostgreSQL 15 instance, a DR stack with a VPC; the construct when `with`. */
function fixture(overrides: Partial<PostgresDisasterRecoveryProps> = {}, options: { with?: boolean; drRegion?: string; instanceIdentifier?: string | null } = {}): Fixture {
  const app = new App();
  const dr = new Stack(app, 'Dr', { env: { account: ACCOUNT, region: options.drRegion ?? 'us-west-2' } });
  const primary = new Stack(app, 'Primary', { env: { account: ACCOUNT, region: 'us-east-1' } });
  const vpc = threeTierVpc(primary);
  const drVpc = threeTierVpc(dr);
  const db = new rds.DatabaseInstance(primary, 'Db', {
    engine: rds.DatabaseInstanceEngine.postgres({ version: rds.PostgresEngineVersion.VER_15 }),
    vpc,
    vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED },
    instanceIdentifier: options.instanceIdentifier === null ? undefined : (options.instanceIdentifier ?? 'orders-db'),
  });
  if (options.with === false) return { app, primary, dr };
  const dr2 = new PostgresDisasterRecovery(primary, 'Orders', {
    source: BackupSource.fromInstance(db, { secret: db.secret! }),
    databases: ['orders', 'billing'],
    postgresVersion: 15,
    vpc,
    drStack: dr,
    drVpc,
    ...overrides,
  });
  return { app, primary, dr, dr2 };
}

function refused(overrides: Partial<PostgresDisasterRecoveryProps>, options: { drRegion?: string; instanceIdentifier?: string | null } = {}): string {
  try {
    fixture(overrides, options);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigurationError);
    return (error as Error).message;
  }
  throw new Error('expected a ConfigurationError');
}

describe('PostgresDisasterRecovery wiring', () => {
  let f: Fixture;
  let primary: Template;
  let dr: Template;

  beforeAll(() => {
    f = fixture();
    primary = Template.fromStack(f.primary);
    dr = Template.fromStack(f.dr);
  });

  it('puts the replica bucket, the snapshot key and the Failover in the DR stack; bucket, backups and recovery test in the primary', () => {
    const dr2 = f.dr2!;
    expect(Stack.of(dr2.replica)).toBe(f.dr);
    expect(Stack.of(dr2.snapshotKey!)).toBe(f.dr);
    expect(Stack.of(dr2.failover)).toBe(f.dr);
    expect(Stack.of(dr2.bucket)).toBe(f.primary);
    expect(Stack.of(dr2.backup)).toBe(f.primary);
    expect(Stack.of(dr2.recoveryTest)).toBe(f.primary);
    // backup, retention, recovery test in the primary; failover and the replica's retention run... in the DR stack only the failover
    expect(Object.keys(primary.findResources('AWS::StepFunctions::StateMachine')).length).toBe(3);
    expect(Object.keys(dr.findResources('AWS::StepFunctions::StateMachine')).length).toBe(1);
  });

  it('replicates the bucket to the replica and copies snapshots to the DR region under the DR key, named by its alias', () => {
    // The replica lives in another region, so CDK gives it a physical name that the primary's rule spells out.
    const replicaName = Object.values(dr.findResources('AWS::S3::Bucket'))
      .map((b) => (b as { Properties: { BucketName?: string } }).Properties.BucketName)
      .find((name) => typeof name === 'string' && name.includes('replica'));
    expect(replicaName).toBeDefined();
    primary.hasResourceProperties('AWS::S3::Bucket', {
      ReplicationConfiguration: { Rules: [{ Destination: { Bucket: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, `:s3:::${replicaName}`]] } } }] },
    });
    const aliases = dr.findResources('AWS::KMS::Alias');
    const snapshotAlias = Object.values(aliases)
      .map((a) => (a as { Properties: { AliasName: string } }).Properties.AliasName)
      .find((name) => name.endsWith('-snapshots'));
    expect(snapshotAlias).toMatch(/^alias\/cdk-backup-dr\/.+-snapshots$/);
    const snapshotFunction = f.dr2!.backup.snapshotFunction!;
    const env = Template.fromStack(f.primary).toJSON().Resources[f.primary.getLogicalId(snapshotFunction.node.defaultChild as never)].Properties.Environment.Variables;
    expect(JSON.stringify(env)).toContain('us-west-2');
    expect(JSON.stringify(env)).toContain(snapshotAlias);
  });

  it('backs up daily at 03:00 UTC, keeps 7 daily, 4 weekly and 12 monthly backups, and tests weekly', () => {
    primary.hasResourceProperties('AWS::Scheduler::Schedule', { ScheduleExpression: 'cron(0 3 * * ? *)' });
    expect(f.dr2!.backup.retention).toBeDefined();
    primary.hasResourceProperties('AWS::Scheduler::Schedule', { ScheduleExpression: 'cron(0 5 ? * SUN *)' });
    expect(f.dr2!.rpo.toHours()).toBe(26);
    expect(f.dr2!.failover.strategyNames).toEqual(['restore-snapshot', 'restore-dump']);
  });

  it('adds no unacknowledged AwsSolutions, HIPAA or NIST 800-53 R5 finding in either stack', () => {
    expect(nagFindingsBeyondBaseline(fixture({}, { with: false }).app, fixture().app)).toEqual([]);
  });
});

describe('PostgresDisasterRecovery synth errors', () => {
  it.each<[string, Partial<PostgresDisasterRecoveryProps>, RegExp, { drRegion?: string; instanceIdentifier?: string | null }]>([
    ['a DR stack in the primary region', {}, /drStack is in us-east-1, the region of the primary stack: .* Pass a stack of another region/, { drRegion: 'us-east-1' }],
    ['an RPO shorter than the backup interval', { rpo: Duration.hours(12) }, /rpo is 12 hours, but backups run only every 24 hours: .* raise rpo to at least 26 hours/, {}],
    [
      'a recovery test rarer than the retention keeps backups',
      { retention: RetentionPolicy.gfs({ daily: 3 }), recoveryTest: { schedule: RecoveryTestSchedule.cron({ expression: 'cron(0 6 1 * ? *)' }) } },
      /the recovery test runs about every 30 days, but the retention deletes .* after 3 days: .* Keep at least 30 daily backups/,
      {},
    ],
    ['a tested database that is not dumped', { recoveryTest: { database: 'crm' } }, /recoveryTest.database 'crm' is not one of databases \(orders, billing\)/, {}],
    ['no database', { databases: [] }, /databases is empty/, {}],
    ['an instance without an explicit identifier', {}, /instance has no explicit identifier.*Give it one: instanceIdentifier: 'orders-db'/, { instanceIdentifier: null }],
  ])('refuses %s, saying what to change', (_, overrides, message, options) => {
    const text = refused(overrides, options);
    expect(text).toMatch(/PostgresDisasterRecovery/);
    expect(text).toMatch(message);
  });

  it('accepts hourly-enough schedules for a short RPO: weekly backups need an RPO of at least 7 days', () => {
    expect(refused({ schedules: [BackupSchedule.weekly()], rpo: Duration.days(3) })).toMatch(/every 168 hours/);
    expect(() => fixture({ schedules: [BackupSchedule.weekly()], rpo: Duration.days(8) })).not.toThrow();
  });
});
