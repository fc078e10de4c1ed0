import { App, Stack, TimeZone } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as rds from 'aws-cdk-lib/aws-rds';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { BackupSchedule, BackupSource, PostgresBackup, PostgresBackupProps } from '../../../lib';
import { BackupBucket } from '../../../lib/storage';
import { nagFindingsBeyondBaseline } from '../../support/nag';
import { allStates, definitionOf, statementsOf, unreportedEndAlert } from '../../support/template-inspection';

const ACCOUNT = '111111111111';

interface Fixture {
  readonly app: App;
  readonly stack: Stack;
  readonly vpc: ec2.Vpc;
  readonly bucket: BackupBucket;
  readonly instance: rds.DatabaseInstance;
}

function fixture(): Fixture {
  const app = new App();
  const stack = new Stack(app, 'Primary', { env: { account: ACCOUNT, region: 'us-east-1' } });
  const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 2, natGateways: 1 });
  const bucket = new BackupBucket(stack, 'Backups');
  const instance = new rds.DatabaseInstance(stack, 'Db', {
    engine: rds.DatabaseInstanceEngine.postgres({ version: rds.PostgresEngineVersion.VER_15 }),
    vpc,
    vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
    instanceIdentifier: 'orders-db',
    storageEncrypted: true,
  });
  return { app, stack, vpc, bucket, instance };
}

function backup(f: Fixture, props: Partial<PostgresBackupProps> = {}): PostgresBackup {
  return new PostgresBackup(f.stack, 'Backup', {
    source: BackupSource.fromInstance(f.instance, { secret: f.instance.secret! }),
    databases: ['orders', 'billing'],
    vpc: f.vpc,
    bucket: f.bucket,
    postgresVersion: 15,
    sourceName: 'orders-db',
    ...props,
  });
}

type Json = Record<string, unknown>;

describe('PostgresBackup with an RDS instance', () => {
  const f = fixture();
  const b = backup(f, {
    snapshotCopy: { region: 'us-west-2', encryptionKeyArn: 'arn:aws:kms:us-west-2:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab' },
    schedules: [BackupSchedule.daily({ hour: 2, timeZone: TimeZone.EUROPE_BERLIN }), BackupSchedule.monthly({ day: 1 })],
  });
  const template = Template.fromStack(f.stack);
  const states = allStates(definitionOf(template));

  it('runs the dump, verify, report and snapshot Lambdas on the newest Node.js runtime inside the VPC', () => {
    // The stack's unreported-end notifier (one per stack, outside the VPC) is tested with the workflows' alerts.
    const functions = Object.entries(template.findResources('AWS::Lambda::Function')) as Array<[string, { Properties: Json }]>;
    const ours = functions.filter(([id, fn]) => String(fn.Properties.Description ?? '').startsWith('cdk-backup-dr') && !id.startsWith('CdkBackupDrUnreportedEnd')).map(([, fn]) => fn);
    expect(ours).toHaveLength(4);
    for (const fn of ours) {
      expect(fn.Properties.Runtime).toBe('nodejs24.x');
      expect(fn.Properties.VpcConfig).toEqual(
        expect.objectContaining({ SecurityGroupIds: [{ 'Fn::GetAtt': [expect.stringMatching(/^BackupSecurityGroup/), 'GroupId'] }] }),
      );
      expect(fn.Properties.TracingConfig).toEqual({ Mode: 'Active' });
    }
  });

  it('gives the dump Lambda the pg tools layer, the bucket and source id, and no secret in its environment', () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      Description: Match.stringLikeRegexp('pg_dump streamed'),
      Layers: [{ Ref: Match.stringLikeRegexp('^BackupPgTools') }],
      Timeout: 900,
      MemorySize: 1769,
      Environment: {
        Variables: Match.objectLike({ SOURCE_ID: 'orders-db', PG_DUMP_PATH: '/opt/bin/pg_dump', PG_DUMPALL_PATH: '/opt/bin/pg_dumpall', BUCKET_NAME: Match.anyValue() }),
      },
    });
    const text = JSON.stringify(template.findResources('AWS::Lambda::Function'));
    expect(text).not.toMatch(/PASSWORD|SecretString/i);
  });

  it('lets the dump Lambda into the database security group on the database port', () => {
    template.hasResourceProperties('AWS::EC2::SecurityGroupIngress', {
      IpProtocol: 'tcp',
      SourceSecurityGroupId: { 'Fn::GetAtt': [Match.stringLikeRegexp('^BackupSecurityGroup'), 'GroupId'] },
      GroupId: { 'Fn::GetAtt': [Match.stringLikeRegexp('^DbSecurityGroup'), 'GroupId'] },
      FromPort: { 'Fn::GetAtt': [Match.stringLikeRegexp('^Db'), 'Endpoint.Port'] },
    });
  });

  it('scopes dump writes to this source prefix and snapshot permissions to cdkbdr- snapshots', () => {
    const policies = JSON.stringify(template.findResources('AWS::IAM::Policy'));
    expect(policies).toContain('/postgres/orders-db/*');
    expect(policies).toContain(':snapshot:cdkbdr-*');
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Sid: 'CopyOwnSnapshotsToDrRegion',
            Action: 'rds:CopyDBSnapshot',
            Resource: Match.arrayWith([
              { 'Fn::Join': ['', Match.arrayWith([':rds:us-west-2:111111111111:snapshot:cdkbdr-*'])] },
            ]),
          }),
          Match.objectLike({
            Sid: 'EncryptCopiesWithDrKeyGrant',
            Action: 'kms:CreateGrant',
            Resource: 'arn:aws:kms:us-west-2:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab',
          }),
        ]),
      },
    });
    const statements = Object.values(template.findResources('AWS::IAM::Policy')).flatMap(
      (p) => ((p as { Properties: { PolicyDocument: { Statement: Json[] } } }).Properties.PolicyDocument.Statement),
    );
    const wildcardRds = statements.filter((s) => String(s.Action).startsWith('rds:') && s.Resource === '*');
    expect(wildcardRds).toEqual([]);
  });

  it('schedules each tier with its time zone and passes the tiers to the state machine', () => {
    template.resourceCountIs('AWS::Scheduler::Schedule', 2);
    template.hasResourceProperties('AWS::Scheduler::Schedule', {
      ScheduleExpression: 'cron(0 2 * * ? *)',
      ScheduleExpressionTimezone: 'Europe/Berlin',
      Target: Match.objectLike({ Input: JSON.stringify({ tiers: ['daily'] }) }),
    });
    template.hasResourceProperties('AWS::Scheduler::Schedule', {
      ScheduleExpression: 'cron(0 3 1 * ? *)',
      ScheduleExpressionTimezone: 'Etc/UTC',
      Target: Match.objectLike({ Input: JSON.stringify({ tiers: ['daily', 'weekly', 'monthly'] }) }),
    });
  });

  it('logs every execution (ALL, with data) to a KMS-encrypted log group and traces with X-Ray', () => {
    template.hasResourceProperties('AWS::StepFunctions::StateMachine', {
      TracingConfiguration: { Enabled: true },
      LoggingConfiguration: Match.objectLike({ Level: 'ALL', IncludeExecutionData: true }),
    });
    const groups = Object.values(template.findResources('AWS::Logs::LogGroup')) as Array<{ Properties: Json }>;
    expect(groups.length).toBeGreaterThanOrEqual(5);
    for (const g of groups) {
      expect(g.Properties.KmsKeyId).toBeDefined();
      expect(g.Properties.RetentionInDays).toBe(365);
    }
  });

  it('dumps each database in its own invocation (a Map, 2 at a time), retries it once, then verifies it; a failed database is caught into its result', () => {
    expect(states.Databases).toMatchObject({ Type: 'Pass', Result: ['orders', 'billing'], ResultPath: '$.databases', Next: 'Back up each database' });
    const map = states['Back up each database'];
    expect(map).toMatchObject({
      Type: 'Map',
      ItemsPath: '$.databases',
      MaxConcurrency: 2,
      ItemSelector: { 'database.$': '$$.Map.Item.Value', 'tiers.$': '$.tiers' },
      ResultPath: '$.databaseResults',
      Next: 'Dump result',
    });
    expect(states.Dump.Parameters).toEqual(expect.objectContaining({ 'database.$': '$.database', 'tiers.$': '$.tiers' }));
    expect(states.Dump.Retry).toEqual(expect.arrayContaining([{ ErrorEquals: ['DumpFailed'], IntervalSeconds: 60, MaxAttempts: 1 }]));
    expect(states.Dump.Next).toBe('Verify');
    expect(states.Verify.Parameters).toEqual({ 'manifestKey.$': '$.dump.backup.manifestKey' });
    expect(states.Verify.Next).toBe('Database backed up');
    for (const name of ['Dump', 'Verify']) {
      expect(states[name].Catch).toEqual([{ ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'Database failed' }]);
    }
    expect(states['Database failed'].Parameters).toEqual({ 'database.$': '$.database', status: 'FAILED', 'error.$': '$.error' });
    expect(states['Database backed up'].Parameters).toMatchObject({ status: 'SUCCEEDED' });
  });

  it('the report decides the outcome: a FAILED report (a database failed) notifies and fails with its failure', () => {
    expect(states['Report success'].Next).toBe('Report outcome');
    expect(states['Report outcome'].Choices).toEqual([{ Variable: '$.report.status', StringEquals: 'SUCCEEDED', Next: 'Backup succeeded' }]);
    expect(states['Report outcome'].Default).toBe('Databases failed');
    expect(states['Databases failed']).toMatchObject({ Type: 'Pass', InputPath: '$.report.failure', ResultPath: '$.error', Next: 'Notify failure' });
  });

  it('retries a snapshot refused because the instance is busy (NotReady), every 5 minutes for at most an hour', () => {
    expect(states['Create snapshot'].Retry).toEqual(
      expect.arrayContaining([{ ErrorEquals: ['NotReady'], IntervalSeconds: 300, MaxAttempts: 12, BackoffRate: 1 }]),
    );
  });

  it('polls the snapshot and its DR copy with Retry on NotReady, not a loop', () => {
    for (const name of ['Wait for snapshot', 'Wait for DR copy']) {
      const retry = states[name].Retry as Json[];
      expect(retry).toEqual(expect.arrayContaining([expect.objectContaining({ ErrorEquals: ['NotReady'], IntervalSeconds: 60, BackoffRate: 1 })]));
    }
    expect(states['Create snapshot'].Next).toBe('Wait for snapshot');
    expect(states['Wait for snapshot'].Next).toBe('Copy snapshot to DR region');
  });

  it('on any failure reports, notifies SNS (the report\'s notification, or the state\'s own without a report) and ends in a Fail state', () => {
    expect(states['Back up'].Catch).toEqual([{ ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'Report failure' }]);
    expect(states['Report failure'].Next).toBe('Notify failure');
    expect(states['Report failure'].Catch).toEqual([expect.objectContaining({ ErrorEquals: ['States.ALL'], Next: 'Notify failure (no report)' })]);
    expect(states['Report success'].Catch).toEqual([expect.objectContaining({ ErrorEquals: ['States.ALL'], Next: 'Notify failure (no report)' })]);
    expect(states['Notify failure'].Resource).toBe('arn:<AWS::Partition>:states:::sns:publish');
    // The report handler's formatted notification: subject, one body per protocol, the facts as message attributes.
    expect(states['Notify failure'].Parameters).toMatchObject({
      'Subject.$': '$.report.notification.subject',
      'Message.$': '$.report.notification.message',
      MessageStructure: 'json',
      MessageAttributes: {
        workflow: { DataType: 'String', 'StringValue.$': '$.report.notification.attributes.workflow' },
        reportKey: { DataType: 'String', 'StringValue.$': '$.report.notification.attributes.reportKey' },
        failedAt: { DataType: 'String', 'StringValue.$': '$.report.notification.attributes.failedAt' },
      },
    });
    expect(states['Notify failure'].Next).toBe('Backup failed');
    expect(states['Notify failure (no report)'].Next).toBe('Backup failed');
    expect(states['Backup failed'].Type).toBe('Fail');
  });

  it('times out after an hour for a busy source, both snapshot waits, plus an hour, and notifies timed-out or aborted runs via EventBridge', () => {
    const [machine] = Object.values(template.findResources('AWS::StepFunctions::StateMachine')) as Array<{ Properties: Json }>;
    const parts = (machine.Properties.DefinitionString as { 'Fn::Join': [string, unknown[]] })['Fn::Join'][1];
    expect(parts.filter((p) => typeof p === 'string').join('')).toContain('"TimeoutSeconds":36000');
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: {
        source: ['aws.states'],
        'detail-type': ['Step Functions Execution Status Change'],
        detail: { status: ['TIMED_OUT', 'ABORTED'], stateMachineArn: [{ Ref: Match.stringLikeRegexp('^BackupWorkflowStateMachine') }] },
      },
      Targets: [Match.objectLike({ Arn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^CdkBackupDrUnreportedEndFunction'), 'Arn'] } })],
    });
    const alert = unreportedEndAlert(template, 'backup');
    expect(alert.input).toMatchObject({ topicArn: expect.stringMatching(/^\$\{BackupNotifications/), facts: { workflow: 'backup', what: 'backup', source: 'orders-db' }, detail: '<detail>' });
  });

  it('passes the execution id to the snapshot so two runs in one second get two snapshots', () => {
    expect(states['Create snapshot'].Parameters).toEqual(
      expect.objectContaining({ Payload: expect.objectContaining({ 'runId.$': '$.executionId', 'requestedAt.$': '$.startedAt' }) }),
    );
  });

  it('exposes metrics from the report Lambda namespace with the source dimension', () => {
    const metric = b.metricLastSuccessTimestamp();
    expect(metric.namespace).toBe('CdkBackupDr');
    expect(metric.metricName).toBe('LastSuccessTimestamp');
    expect(metric.dimensions).toEqual({ Source: 'orders-db' });
    expect(b.metricBackupSucceeded().statistic).toBe('Minimum');
  });
});

describe('PostgresBackup of an RDS instance with its own CA (caCertificate)', () => {
  it('gives the dump the CA secret in its target and lets the dump role read that secret', () => {
    const f = fixture();
    const caCertificate = new secretsmanager.Secret(f.stack, 'ServerCa');
    const b = backup(f, { source: BackupSource.fromInstance(f.instance, { secret: f.instance.secret!, caCertificate }) });
    const template = Template.fromStack(f.stack);
    const caId = f.stack.getLogicalId(caCertificate.node.defaultChild as secretsmanager.CfnSecret);
    const dump = allStates(definitionOf(template)).Dump as { Parameters: { target: Json } };
    expect(dump.Parameters.target).toMatchObject({ sslRootCertSecretArn: `<${caId}>` });
    expect(statementsOf(template, b.dumpFunction!)).toContainEqual(
      expect.objectContaining({ Effect: 'Allow', Action: expect.arrayContaining(['secretsmanager:GetSecretValue']), Resource: { Ref: caId } }),
    );
  });
});

describe('PostgresBackup with an endpoint', () => {
  it('dumps only (no snapshot branch) and opens the given security group', () => {
    const f = fixture();
    const serverSg = new ec2.SecurityGroup(f.stack, 'ServerSg', { vpc: f.vpc });
    const secret = new secretsmanager.Secret(f.stack, 'Creds');
    new PostgresBackup(f.stack, 'Backup', {
      source: BackupSource.fromEndpoint({ host: 'pg.internal', port: 6432, secret, securityGroup: serverSg, name: 'legacy-pg' }),
      databases: ['app'],
      vpc: f.vpc,
      bucket: f.bucket,
      postgresVersion: 15,
    });
    const template = Template.fromStack(f.stack);
    const states = allStates(definitionOf(template));
    expect(states['Create snapshot']).toBeUndefined();
    expect(states.Dump).toBeDefined();
    template.hasResourceProperties('AWS::EC2::SecurityGroupIngress', { FromPort: 6432, ToPort: 6432, IpProtocol: 'tcp' });
    template.resourceCountIs('AWS::Scheduler::Schedule', 1);
  });
});

describe('PostgresBackup schedules that would start together', () => {
  const schedulesOf = (template: Template) =>
    Object.entries(template.findResources('AWS::Scheduler::Schedule')).map(([logicalId, r]) => {
      const p = (r as { Properties: { ScheduleExpression: string; Target: { Input: string } } }).Properties;
      return { logicalId, expression: p.ScheduleExpression, tiers: (JSON.parse(p.Target.Input) as { tiers: string[] }).tiers };
    });

  it('daily() and monthly() at 03:00 become two schedules that never fire together, the monthly run carrying the daily tiers', () => {
    const alone = fixture();
    backup(alone, { schedules: [BackupSchedule.daily()] });
    const f = fixture();
    backup(f, { schedules: [BackupSchedule.daily(), BackupSchedule.monthly()] });
    const [daily, monthly] = schedulesOf(Template.fromStack(f.stack));
    expect(daily).toEqual({ logicalId: schedulesOf(Template.fromStack(alone.stack))[0].logicalId, expression: 'cron(0 3 2-31 * ? *)', tiers: ['daily'] });
    expect(monthly).toMatchObject({ expression: 'cron(0 3 1 * ? *)', tiers: ['daily', 'weekly', 'monthly'] });
    expect(monthly.logicalId).toMatch(/^BackupSchedulemonthly1/);
  });

  it('refuses weekly() and monthly() at the same time, with the construct path and what to change', () => {
    expect(() => backup(fixture(), { schedules: [BackupSchedule.weekly(), BackupSchedule.monthly()] })).toThrow(
      /^Primary\/Backup: BackupSchedule.weekly\(\{ weekDay: 'SUN' \}\) and BackupSchedule.monthly\(\{ day: 1 \}\) both start at 03:00 Etc\/UTC, .* e\.g\. BackupSchedule.monthly\(\{ day: 1, hour: 4 \}\)\.$/,
    );
  });

  it('warns when a custom cron starts at the same minute and hour as another schedule', () => {
    const f = fixture();
    backup(f, { schedules: [BackupSchedule.daily(), BackupSchedule.cron({ expression: 'cron(0 3 L * ? *)', tiers: ['monthly'] })] });
    Annotations.fromStack(f.stack).hasWarning(
      '/Primary/Backup',
      Match.stringLikeRegexp("BackupSchedule.daily\\(\\) and BackupSchedule.cron\\(\\{ expression: 'cron\\(0 3 L \\* \\? \\*\\)' \\}\\) both start at minute '0' of hour '3'.*cdk-backup-dr:schedules-may-coincide"),
    );
  });
});

describe('PostgresBackup validation', () => {
  const cases: Array<[string, Partial<PostgresBackupProps>, RegExp]> = [
    ['no databases', { databases: [] }, /databases is empty; name at least one database/],
    ['duplicate databases', { databases: ['a', 'a'] }, /listed twice; name each once/],
    ['invalid database name', { databases: ['bad name;'] }, /database name 'bad name;' is not valid/],
    ['bad source name', { sourceName: 'bad/name' }, /not usable in S3 keys/],
    ['copy to own region', { snapshotCopy: { region: 'us-east-1', encryptionKeyArn: 'arn:aws:kms:us-east-1:1:key/x' } }, /copy snapshots to a different \(DR\) region/],
    ['copy without snapshots', { snapshots: false, snapshotCopy: { region: 'us-west-2', encryptionKeyArn: 'arn:aws:kms:us-west-2:1:key/x' } }, /snapshotCopy is set but no snapshots are taken/],
    ['fractional version', { postgresVersion: 15.2 }, /postgresVersion must be a major version number/],
    ['memory too small', { dumpMemorySize: 128 }, /dumpMemorySize must be between 256 and 10240/],
  ];
  test.each(cases)('%s', (_name, props, message) => {
    const f = fixture();
    expect(() => backup(f, props)).toThrow(message);
  });

  it('refuses snapshots of an endpoint', () => {
    const f = fixture();
    const secret = new secretsmanager.Secret(f.stack, 'Creds');
    expect(
      () =>
        new PostgresBackup(f.stack, 'Backup', {
          source: BackupSource.fromEndpoint({ host: 'h', secret, name: 'x' }),
          databases: ['app'],
          vpc: f.vpc,
          bucket: f.bucket,
          postgresVersion: 15,
          snapshots: true,
        }),
    ).toThrow(/snapshots are on but the source is an endpoint/);
  });
});

describe('PostgresBackup and cdk-nag', () => {
  it('causes no unacknowledged AwsSolutions, HIPAA or NIST 800-53 R5 finding anywhere in the stack', () => {
    const f = fixture();
    backup(f, { snapshotCopy: { region: 'us-west-2', encryptionKeyArn: 'arn:aws:kms:us-west-2:111111111111:key/abc' } });
    expect(nagFindingsBeyondBaseline(fixture().app, f.app)).toEqual([]);
  });
});

describe('PostgresBackup snapshot-copy key', () => {
  const copyStatements = (encryptionKeyArn: string) => {
    const f = fixture();
    const b = backup(f, { snapshotCopy: { region: 'us-west-2', encryptionKeyArn } });
    return statementsOf(Template.fromStack(f.stack), b.snapshotFunction!).filter((st) => String(st.Sid ?? '').startsWith('EncryptCopiesWithDrKey'));
  };

  it('allows CreateGrant for RDS on the given key only, DescribeKey in its own statement', () => {
    const key = 'arn:aws:kms:us-west-2:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab';
    expect(copyStatements(key)).toEqual([
      { Sid: 'EncryptCopiesWithDrKeyGrant', Effect: 'Allow', Action: 'kms:CreateGrant', Resource: key, Condition: { Bool: { 'kms:GrantIsForAWSResource': 'true' } } },
      { Sid: 'EncryptCopiesWithDrKeyDescribe', Effect: 'Allow', Action: 'kms:DescribeKey', Resource: key },
    ]);
  });

  it('matches a key given by alias with kms:ResourceAliases, not every key of the region', () => {
    const [grant, describe] = copyStatements('arn:aws:kms:us-west-2:111111111111:alias/dr-snapshots');
    const alias = { 'ForAnyValue:StringEquals': { 'kms:ResourceAliases': 'alias/dr-snapshots' } };
    expect(grant).toMatchObject({ Action: 'kms:CreateGrant', Condition: { ...alias, Bool: { 'kms:GrantIsForAWSResource': 'true' } } });
    expect(describe).toMatchObject({ Action: 'kms:DescribeKey', Condition: alias });
    expect(JSON.stringify(describe)).not.toContain('GrantIsForAWSResource');
  });
});
