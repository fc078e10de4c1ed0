import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { App, Duration, Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as rds from 'aws-cdk-lib/aws-rds';
import { BackupRunner, BackupSource, PostgresBackup, RetentionPolicy, type PostgresBackupProps } from '../../../lib';
import { BackupBucket } from '../../../lib/storage';
import { nagFindingsBeyondBaseline } from '../../support/nag';
import { allStates, definitionOf, type Json } from '../../support/template-inspection';

function fixture() {
  const app = new App();
  const stack = new Stack(app, 'Primary', { env: { account: '111111111111', region: 'us-east-1' } });
  const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 2, natGateways: 1 });
  const bucket = new BackupBucket(stack, 'Backups');
  const instance = new rds.DatabaseInstance(stack, 'Db', {
    engine: rds.DatabaseInstanceEngine.postgres({ version: rds.PostgresEngineVersion.VER_16 }),
    vpc,
    vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
    instanceIdentifier: 'orders-db',
    storageEncrypted: true,
  });
  return { app, stack, vpc, bucket, instance };
}

function backup(f: ReturnType<typeof fixture>, props: Partial<PostgresBackupProps> = {}): PostgresBackup {
  return new PostgresBackup(f.stack, 'Backup', {
    source: BackupSource.fromInstance(f.instance, { secret: f.instance.secret! }),
    databases: ['orders', 'billing'],
    vpc: f.vpc,
    bucket: f.bucket,
    postgresVersion: 16,
    sourceName: 'orders-db',
    snapshots: false,
    ...props,
  });
}

describe('BackupRunner', () => {
  it('accepts the Fargate sizes AWS accepts and says what to change otherwise', () => {
    expect(BackupRunner.fargate({ cpu: 2048, memoryLimitMiB: 16384 }).fargateSettings).toMatchObject({ cpu: 2048, memoryLimitMiB: 16384 });
    expect(BackupRunner.fargate({ cpu: 8192, memoryLimitMiB: 20480 }).fargateSettings?.memoryLimitMiB).toBe(20480);
    expect(() => BackupRunner.fargate({ cpu: 8192, memoryLimitMiB: 17408 })).toThrow(/with cpu 8192 use 16384 to 61440 in steps of 4096 MiB/);
    expect(() => BackupRunner.fargate({ cpu: 256, memoryLimitMiB: 4096 })).toThrow(/with cpu 256 use 512, 1024, 2048 MiB/);
    expect(() => BackupRunner.fargate({ cpu: 3000 })).toThrow(/cpu must be one of 256, 512, 1024, 2048, 4096, 8192, 16384/);
    expect(() => BackupRunner.fargate({ ephemeralStorageGiB: 20 })).toThrow(/ephemeralStorageGiB must be a whole number from 21 to 200/);
    expect(() => BackupRunner.fargate({ ephemeralStorageGiB: 201 })).toThrow(/from 21 to 200/);
    expect(() => BackupRunner.fargate({ timeout: Duration.minutes(1) })).toThrow(/timeout must be from 5 minutes to 7 days/);
    expect(() => BackupRunner.lambda({ memorySize: 128 })).toThrow(/memorySize must be a whole number of MB from 256 to 10240/);
  });

  it('refuses Lambda-only props with the Fargate runner', () => {
    expect(() => backup(fixture(), { runner: BackupRunner.fargate(), dumpMemorySize: 3008 })).toThrow(/remove dumpMemorySize and size the task with BackupRunner.fargate/);
    const f = fixture();
    const layer = lambda.LayerVersion.fromLayerVersionArn(f.stack, 'L', 'arn:aws:lambda:us-east-1:111111111111:layer:pg:1');
    expect(() => backup(f, { runner: BackupRunner.fargate(), pgToolsLayer: layer })).toThrow(/remove pgToolsLayer/);
  });

  it('with the Lambda runner sizes the dump function from memorySize', () => {
    const f = fixture();
    const layer = lambda.LayerVersion.fromLayerVersionArn(f.stack, 'L', 'arn:aws:lambda:us-east-1:111111111111:layer:pg:1');
    backup(f, { runner: BackupRunner.lambda({ memorySize: 3008 }), pgToolsLayer: layer });
    Template.fromStack(f.stack).hasResourceProperties('AWS::Lambda::Function', { Description: Match.stringLikeRegexp('pg_dump streamed'), MemorySize: 3008 });
  });
});

describe('a given ECS cluster', () => {
  it('is used when it is in the construct\'s VPC, region and account', () => {
    const f = fixture();
    const cluster = new ecs.Cluster(f.stack, 'Shared', { vpc: f.vpc });
    const b = backup(f, { runner: BackupRunner.fargate({ cluster }) });
    expect(b.dumpTask!.cluster).toBe(cluster);
    Template.fromStack(f.stack).resourceCountIs('AWS::ECS::Cluster', 1);
  });

  it('is refused, saying which, when its VPC, region or account is another', () => {
    const f = fixture();
    const otherVpc = new ec2.Vpc(f.stack, 'OtherVpc', { maxAzs: 1, natGateways: 0 });
    const ofOtherVpc = new ecs.Cluster(f.stack, 'OfOtherVpc', { vpc: otherVpc });
    expect(() => backup(f, { runner: BackupRunner.fargate({ cluster: ofOtherVpc }) })).toThrow(
      /^BackupRunner\.fargate Primary\/Backup\/.*: the cluster Primary\/OfOtherVpc was made with VPC Primary\/OtherVpc, but this construct's tasks run in Primary\/Vpc; pass a cluster of that VPC/,
    );
    const g = fixture();
    const elsewhere = ecs.Cluster.fromClusterAttributes(g.stack, 'Elsewhere', {
      clusterName: 'shared',
      clusterArn: 'arn:aws:ecs:eu-west-1:111111111111:cluster/shared',
      vpc: g.vpc,
    });
    expect(() => backup(g, { runner: BackupRunner.fargate({ cluster: elsewhere }) })).toThrow(
      /the cluster Primary\/Elsewhere is in region eu-west-1, but this construct's tasks run in region us-east-1; pass a cluster of us-east-1/,
    );
    const h = fixture();
    const imported = ecs.Cluster.fromClusterAttributes(h.stack, 'Imported', {
      clusterName: 'shared',
      vpc: ec2.Vpc.fromVpcAttributes(h.stack, 'Looked', { vpcId: 'vpc-0123', availabilityZones: ['us-east-1a'], privateSubnetIds: ['subnet-1'] }),
    });
    const known = ec2.Vpc.fromVpcAttributes(h.stack, 'Known', { vpcId: 'vpc-9999', availabilityZones: ['us-east-1a'], privateSubnetIds: ['subnet-2'] });
    expect(() => new PostgresBackup(h.stack, 'Backup', {
      source: BackupSource.fromEndpoint({ host: 'db.internal', secret: h.instance.secret!, name: 'db' }),
      databases: ['orders'],
      vpc: known,
      bucket: h.bucket,
      postgresVersion: 16,
      runner: BackupRunner.fargate({ cluster: imported }),
    })).toThrow(/is in VPC vpc-0123, but this construct's tasks run in VPC vpc-9999/);
  });
});

describe('retention of a backup, by runner: dumps without a manifest are swept only after the longest dump', () => {
  const graceOf = (runner?: BackupRunner): string => {
    const f = fixture();
    const layer = runner ? {} : { pgToolsLayer: lambda.LayerVersion.fromLayerVersionArn(f.stack, 'Layer', 'arn:aws:lambda:us-east-1:111111111111:layer:pg:1') };
    backup(f, { runner, retention: RetentionPolicy.gfs({ daily: 7 }), ...layer });
    const cleanup = Object.values(Template.fromStack(f.stack).findResources('AWS::Lambda::Function'))
      .map((r) => (r as { Properties: { Environment?: { Variables?: Record<string, string> } } }).Properties.Environment?.Variables ?? {})
      .find((vars) => vars.ORPHAN_GRACE_SECONDS !== undefined);
    return cleanup?.ORPHAN_GRACE_SECONDS ?? 'no cleanup function';
  };

  it('a day on Lambda (a dump ends within 15 minutes), the task timeout plus an hour on Fargate when longer', () => {
    expect(graceOf()).toBe('86400');
    expect(graceOf(BackupRunner.fargate({ timeout: Duration.hours(8) }))).toBe('86400');
    expect(graceOf(BackupRunner.fargate({ timeout: Duration.days(3) }))).toBe(String(3 * 86400 + 3600));
  });
});

describe('the Fargate task\'s routes', () => {
  it('with vpcEndpoints: the endpoints to pull its image, write its logs and answer Step Functions, besides S3 and Secrets Manager', () => {
    const f = fixture();
    backup(f, { runner: BackupRunner.fargate(), vpcEndpoints: true });
    // ServiceName is a plain string for S3's gateway and a Fn::Join ending in '.<service>' for interface endpoints.
    const services = Object.values(Template.fromStack(f.stack).findResources('AWS::EC2::VPCEndpoint'))
      .map((r) => JSON.stringify((r as { Properties: { ServiceName: unknown } }).Properties.ServiceName));
    for (const service of ['ecr.api', 'ecr.dkr', 'logs', 'states', 'secretsmanager', 's3']) {
      expect(services.filter((name) => name.includes(`.${service}"`))).toHaveLength(1);
    }
  });
});

describe('PostgresBackup on the Fargate runner', () => {
  const f = fixture();
  const b = backup(f, { runner: BackupRunner.fargate({ cpu: 2048, memoryLimitMiB: 4096, ephemeralStorageGiB: 50, timeout: Duration.hours(3) }) });
  const template = Template.fromStack(f.stack);
  const json = template.toJSON() as { Resources: Record<string, { Type: string; Properties: Json }> };
  const id = (c: { node: { defaultChild?: unknown } }) => f.stack.getLogicalId(c.node.defaultChild as never);
  const states = allStates(definitionOf(template));

  it('has no dump Lambda and no pg tools layer, and a task definition of the size asked for', () => {
    expect(b.dumpFunction).toBeUndefined();
    expect(Object.values(json.Resources).filter((r) => r.Type === 'AWS::Lambda::Function' && String(r.Properties.Description ?? '').includes('pg_dump'))).toEqual([]);
    template.resourceCountIs('AWS::Lambda::LayerVersion', 0);
    template.hasResourceProperties('AWS::ECS::TaskDefinition', {
      Cpu: '2048',
      Memory: '4096',
      EphemeralStorage: { SizeInGiB: 50 },
      NetworkMode: 'awsvpc',
      RequiresCompatibilities: ['FARGATE'],
    });
  });

  it('builds the image from the shipped Dockerfile with the PostgreSQL major as build argument (no Docker at synth)', () => {
    const container = (json.Resources[id(b.dumpTask!.taskDefinition)].Properties.ContainerDefinitions as Json[])[0];
    expect(JSON.stringify(container.Image)).toMatch(/cdk-hnb659fds-container-assets/);
    const manifest = JSON.parse(readFileSync(join(f.app.outdir, 'Primary.assets.json'), 'utf8')) as { dockerImages: Record<string, { source: Json }> };
    const images = Object.values(manifest.dockerImages);
    expect(images).toHaveLength(1);
    expect(images[0].source).toMatchObject({ dockerBuildArgs: { POSTGRES_MAJOR: '16' }, platform: 'linux/amd64' });
    const dockerfile = readFileSync(join(f.app.outdir, String(images[0].source.directory), 'Dockerfile'), 'utf8');
    expect(dockerfile).toMatch(/^FROM public\.ecr\.aws\/lambda\/nodejs:24$/m);
    expect(dockerfile).toMatch(/dnf install -y postgresql\$\{POSTGRES_MAJOR\}/);
    expect(dockerfile).toMatch(/^RUN chmod 1777 \/tmp$/m);
    expect(dockerfile).toMatch(/ENTRYPOINT \["node", "\/opt\/cdk-backup-dr\/task-entrypoint\.js"\]/);
    expect(readFileSync(join(f.app.outdir, String(images[0].source.directory), 'task-entrypoint.js'), 'utf8')).toContain('SendTaskSuccess');
  });

  it('gives the container the handler environment (no secret) and a KMS-encrypted log group', () => {
    const container = (json.Resources[id(b.dumpTask!.taskDefinition)].Properties.ContainerDefinitions as Json[])[0];
    const env = Object.fromEntries((container.Environment as Array<{ Name: string; Value: unknown }>).map((e) => [e.Name, e.Value]));
    expect(env).toMatchObject({ RUNNER_HANDLER: 'dump', SOURCE_ID: 'orders-db', RUNNER_TIMEOUT_SECONDS: '10800', RUNNER_HEARTBEAT_SECONDS: '60' });
    expect(Object.keys(env)).not.toEqual(expect.arrayContaining(['PG_DUMP_PATH']));
    expect(JSON.stringify(env)).not.toMatch(/[Pp]assword|SecretString/);
    expect(container.LogConfiguration).toMatchObject({ LogDriver: 'awslogs', Options: { 'awslogs-group': { Ref: id(b.dumpTask!.logGroup) } } });
    template.hasResourceProperties('AWS::Logs::LogGroup', { KmsKeyId: { 'Fn::GetAtt': [id(b.operationsKey), 'Arn'] } });
  });

  it('verifies each dump on the same runner: a task of the verify handler in the dump task\'s cluster, reading but never writing the backups', () => {
    expect(b.verifyFunction).toBeUndefined();
    const verifyTask = b.verifyTask ?? fail('no verify task');
    expect(verifyTask.cluster).toBe(b.dumpTask!.cluster);
    template.resourceCountIs('AWS::ECS::Cluster', 1);
    expect(states['Verify input']).toMatchObject({ Type: 'Pass', ResultPath: '$.runnerInput', Parameters: { 'manifestKey.$': '$.dump.backup.manifestKey' }, Next: 'Verify' });
    const verify = states.Verify as Json;
    expect(verify.Resource).toBe('arn:<AWS::Partition>:states:::ecs:runTask.waitForTaskToken');
    expect(verify).toMatchObject({ HeartbeatSeconds: 300, TimeoutSeconds: 10800, ResultPath: '$.verification', Next: 'Database backed up' });
    expect((verify.Retry as Json[]).map((r) => r.ErrorEquals)).toEqual([['NotReady']]);
    const container = (json.Resources[id(verifyTask.taskDefinition)].Properties.ContainerDefinitions as Json[])[0];
    const env = Object.fromEntries((container.Environment as Array<{ Name: string; Value: unknown }>).map((e) => [e.Name, e.Value]));
    expect(env).toMatchObject({ RUNNER_HANDLER: 'verify', SOURCE_ID: 'orders-db' });
    const role = json.Resources[id(verifyTask.taskDefinition)].Properties.TaskRoleArn as { 'Fn::GetAtt': [string, string] };
    const policy = Object.values(json.Resources).find(
      (r) => r.Type === 'AWS::IAM::Policy' && JSON.stringify(r.Properties.Roles) === JSON.stringify([{ Ref: role['Fn::GetAtt'][0] }]),
    );
    const actions = JSON.stringify((policy?.Properties.PolicyDocument as { Statement: Json[] }).Statement.map((st) => st.Action));
    expect(actions).toContain('s3:GetObject');
    expect(actions).not.toMatch(/s3:PutObject|s3:DeleteObject/);
    expect(actions).toContain('states:SendTaskSuccess');
  });

  it('runs the dump with ecs:runTask.waitForTaskToken: token and event in the overrides, heartbeat and timeout, same subnets and security group', () => {
    const input = states['Dump input'];
    expect(input).toMatchObject({ Type: 'Pass', ResultPath: '$.runnerInput', Parameters: { 'database.$': '$.database', 'tiers.$': '$.tiers' }, Next: 'Dump' });
    const dump = states.Dump;
    expect(dump.Resource).toBe('arn:<AWS::Partition>:states:::ecs:runTask.waitForTaskToken');
    expect(dump).toMatchObject({ HeartbeatSeconds: 300, TimeoutSeconds: 10800, ResultPath: '$.dump', Next: 'Verify input' });
    const params = dump.Parameters as Json;
    expect(params).toMatchObject({ LaunchType: 'FARGATE', PlatformVersion: '1.4.0' });
    const network = (params.NetworkConfiguration as { AwsvpcConfiguration: Json }).AwsvpcConfiguration;
    // Absent means DISABLED (RunTask's default): the task gets no public address.
    expect(network.AssignPublicIp).toBeUndefined();
    expect(network.SecurityGroups).toEqual([`<${id(b.securityGroup)}.GroupId>`]);
    const overrides = (params.Overrides as { ContainerOverrides: Array<{ Environment: Json[] }> }).ContainerOverrides[0].Environment;
    expect(overrides).toEqual([
      { Name: 'TASK_TOKEN', 'Value.$': '$$.Task.Token' },
      { Name: 'TASK_INPUT', 'Value.$': 'States.JsonToString($.runnerInput)' },
    ]);
    // The same Retry and Catch as on the Lambda: the task answers with the handler's error names.
    expect(dump.Retry).toEqual(expect.arrayContaining([expect.objectContaining({ ErrorEquals: ['DumpFailed'], MaxAttempts: 1 })]));
    expect(dump.Catch).toEqual([expect.objectContaining({ ErrorEquals: ['States.ALL'], Next: 'Database failed', ResultPath: '$.error' })]);
  });

  it('grants the task role what the dump Lambda had, plus answering its own state machine only', () => {
    const roleId = id(b.dumpTask!.taskDefinition.taskRole as never);
    const statements = Object.values(json.Resources)
      .filter((r) => r.Type === 'AWS::IAM::Policy' && JSON.stringify(r.Properties.Roles).includes(roleId))
      .flatMap((r) => (r.Properties.PolicyDocument as { Statement: Json[] }).Statement);
    const actions = statements.flatMap((s) => [s.Action].flat());
    expect(actions).toEqual(expect.arrayContaining(['s3:PutObject', 's3:DeleteObject', 's3:ListBucketMultipartUploads', 'secretsmanager:GetSecretValue']));
    const answer = statements.find((s) => [s.Action].flat().includes('states:SendTaskSuccess'));
    expect(answer).toMatchObject({ Action: ['states:SendTaskSuccess', 'states:SendTaskFailure', 'states:SendTaskHeartbeat'], Resource: { Ref: id(b.stateMachine) } });
  });

  it('gives the workflow room for the tasks: busy source, snapshot waits, and per round of 2 databases the dump and its retry up to the task timeout each and the verification (its wait and its task), plus an hour', () => {
    const machine = Object.values(json.Resources).find((r) => r.Type === 'AWS::StepFunctions::StateMachine')!;
    // 60 busy source + 2 x 240 snapshot and copy + one round: 2 x 180 (dump, retried once) + 1 (retry interval) + 21 (the
    // verifier's wait for the replica) + 180 (the verify task) + 60.
    expect(JSON.stringify(machine.Properties.DefinitionString)).toContain('"TimeoutSeconds\\":' + (60 + 2 * 240 + 2 * 180 + 1 + 21 + 180 + 60) * 60);
  });

  it('has no Lambda-timeout alarm to raise and no error annotation', () => {
    Annotations.fromStack(f.stack).hasNoError('*', Match.anyValue());
  });

  it('causes no unacknowledged AwsSolutions, HIPAA or NIST 800-53 R5 finding anywhere in the stack', () => {
    const g = fixture();
    backup(g, { runner: BackupRunner.fargate() });
    expect(nagFindingsBeyondBaseline(fixture().app, g.app)).toEqual([]);
  });
});

function fail(message: string): never {
  throw new Error(message);
}
