/**
 * PostgresBackup dumpParallelism: validated at synth, passed to the dump task, the dump function's ephemeral storage
 * sized for a directory dump, and a warning when the function has one vCPU for several jobs.
 */
import { App, Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as rds from 'aws-cdk-lib/aws-rds';
import { BackupRunner, BackupSource, ConfigurationError, PostgresBackup, PostgresDisasterRecovery, type PostgresBackupProps } from '../../../lib';
import { BackupBucket } from '../../../lib/storage';
import { allStates, definitionOf } from '../../support/template-inspection';
import { threeTierVpc } from '../../support/vpc';

const ENV = { account: '111111111111', region: 'us-east-1' };

function synth(props: Partial<PostgresBackupProps>): { stack: Stack; template: Template; backup: PostgresBackup } {
  const stack = new Stack(new App(), 'Primary', { env: ENV });
  const vpc = threeTierVpc(stack);
  const db = new rds.DatabaseInstance(stack, 'Db', {
    engine: rds.DatabaseInstanceEngine.postgres({ version: rds.PostgresEngineVersion.VER_15 }),
    vpc,
    vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED },
  });
  const backup = new PostgresBackup(stack, 'Backup', {
    source: BackupSource.fromInstance(db, { secret: db.secret! }),
    databases: ['orders'],
    vpc,
    bucket: new BackupBucket(stack, 'Backups'),
    postgresVersion: 15,
    pgToolsLayer: lambda.LayerVersion.fromLayerVersionArn(stack, 'Layer', 'arn:aws:lambda:us-east-1:111111111111:layer:pg:1'),
    ...props,
  });
  return { stack, template: Template.fromStack(stack), backup };
}

function dumpParameters(template: Template): Record<string, unknown> {
  return allStates(definitionOf(template)).Dump.Parameters as Record<string, unknown>;
}

/** The Dump task's parameters, whichever runner: the Fargate task passes its input in a container override. */
function dumpTaskInput(template: Template): unknown {
  const states = allStates(definitionOf(template));
  return Object.entries(states).filter(([name]) => name.startsWith('Dump')).map(([, state]) => state);
}

function dumpFunction(template: Template, backup: PostgresBackup, stack: Stack): Record<string, unknown> {
  if (!backup.dumpFunction) throw new Error('the backup has no dump function (Fargate runner?)');
  const id = stack.getLogicalId(backup.dumpFunction.node.defaultChild as lambda.CfnFunction);
  return template.toJSON().Resources[id].Properties as Record<string, unknown>;
}

const WARNING = /dumpParallelism is 2 but dumpMemorySize 1769 MB gives the dump function one vCPU.*at least 3538 MB/;

it('by default: no parallelism in the dump input, Lambda default /tmp, no warning', () => {
  const { stack, template, backup } = synth({});
  expect(dumpParameters(template)).not.toHaveProperty('parallelism');
  expect(dumpFunction(template, backup, stack)).not.toHaveProperty('EphemeralStorage');
  Annotations.fromStack(stack).hasNoWarning('*', Match.stringLikeRegexp('dumpParallelism'));
});

it('with 2 on 2 vCPUs: passes parallelism 2 and gives the dump function 10240 MiB of /tmp', () => {
  const { stack, template, backup } = synth({ dumpParallelism: 2, dumpMemorySize: 3538 });
  expect(dumpParameters(template)).toMatchObject({ parallelism: 2 });
  expect(dumpFunction(template, backup, stack)).toMatchObject({ EphemeralStorage: { Size: 10240 }, MemorySize: 3538 });
  Annotations.fromStack(stack).hasNoWarning('*', Match.stringLikeRegexp('dumpParallelism'));
});

it('takes a chosen /tmp size', () => {
  const { stack, template, backup } = synth({ dumpParallelism: 2, dumpMemorySize: 4096, dumpEphemeralStorageSize: 2048 });
  expect(dumpFunction(template, backup, stack)).toMatchObject({ EphemeralStorage: { Size: 2048 } });
});

it('warns, saying the memory to set, when several jobs would share one vCPU', () => {
  const { stack } = synth({ dumpParallelism: 2 });
  Annotations.fromStack(stack).hasWarning('*', Match.stringLikeRegexp(WARNING.source));
});

it.each([
  [{ dumpParallelism: 0 }, /dumpParallelism must be a whole number from 1 .* to 64 .*, got 0\./],
  [{ dumpParallelism: 1.5 }, /dumpParallelism must be a whole number .*got 1\.5\./],
  [{ dumpParallelism: 65 }, /got 65\./],
  [{ dumpEphemeralStorageSize: 100 }, /dumpEphemeralStorageSize must be a whole number of MiB from 512 to 10240, got 100\./],
  [{ dumpEphemeralStorageSize: 20000 }, /got 20000\./],
])('refuses %j at synth, saying what to change', (props, message) => {
  let error: unknown;
  try {
    synth(props);
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(ConfigurationError);
  expect((error as Error).message).toMatch(message);
});

it('on the Fargate runner: parallelism passed to the task, a warning when the task has fewer vCPUs than jobs, no Lambda /tmp size', () => {
  const fargate = (cpu: number) => ({ runner: BackupRunner.fargate({ cpu, memoryLimitMiB: cpu * 2 }), pgToolsLayer: undefined });
  const { template, stack } = synth({ dumpParallelism: 2, ...fargate(1024) });
  expect(JSON.stringify(dumpTaskInput(template))).toContain('"parallelism":2');
  Annotations.fromStack(stack).hasWarning('*', Match.stringLikeRegexp('dumpParallelism is 2 but the Fargate task has 1 vCPU.*at least 2048 cpu'));
  const twoVcpus = synth({ dumpParallelism: 2, ...fargate(2048) });
  expect(Annotations.fromStack(twoVcpus.stack).findWarning('*', Match.stringLikeRegexp('dumpParallelism'))).toHaveLength(0);
  expect(() => synth({ dumpParallelism: 2, dumpEphemeralStorageSize: 10240, ...fargate(2048) }))
    .toThrow(/dumpEphemeralStorageSize sizes the dump Lambda's \/tmp, but runner is BackupRunner.fargate.*ephemeralStorageGiB/);
});

it('PostgresDisasterRecovery passes dumpParallelism and dumpMemorySize to its PostgresBackup', () => {
  const app = new App();
  const dr = new Stack(app, 'Dr', { env: { ...ENV, region: 'us-west-2' } });
  const primary = new Stack(app, 'Primary', { env: ENV });
  const vpc = threeTierVpc(primary);
  const db = new rds.DatabaseInstance(primary, 'Db', {
    engine: rds.DatabaseInstanceEngine.postgres({ version: rds.PostgresEngineVersion.VER_15 }),
    vpc,
    vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED },
    instanceIdentifier: 'orders-db',
  });
  const orders = new PostgresDisasterRecovery(primary, 'Orders', {
    source: BackupSource.fromInstance(db, { secret: db.secret! }),
    databases: ['orders'],
    postgresVersion: 15,
    vpc,
    drStack: dr,
    drVpc: threeTierVpc(dr),
    dumpParallelism: 3,
    dumpMemorySize: 5307,
  });
  const template = Template.fromStack(primary);
  const texts = Object.values(template.findResources('AWS::StepFunctions::StateMachine')).map((m) =>
    JSON.stringify((m as { Properties: { DefinitionString: unknown } }).Properties.DefinitionString),
  );
  expect(texts.filter((t) => t.includes('\\"parallelism\\":3'))).toHaveLength(1);
  expect(dumpFunction(template, orders.backup, primary)).toMatchObject({ MemorySize: 5307, EphemeralStorage: { Size: 10240 } });
});
