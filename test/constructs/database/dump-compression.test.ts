/**
 * DumpCompression: the value object's synth-time checks, and the compression reaching the dump task's input from
 * PostgresBackup and from PostgresDisasterRecovery.
 */
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as rds from 'aws-cdk-lib/aws-rds';
import { BackupSource, ConfigurationError, DumpCompression, PostgresBackup, PostgresDisasterRecovery, type PostgresBackupProps } from '../../../lib';
import { BackupBucket } from '../../../lib/storage';
import { allStates, definitionOf } from '../../support/template-inspection';
import { threeTierVpc } from '../../support/vpc';

const ENV = { account: '111111111111', region: 'us-east-1' };

function database(stack: Stack, vpc: ec2.IVpc): rds.DatabaseInstance {
  return new rds.DatabaseInstance(stack, 'Db', {
    engine: rds.DatabaseInstanceEngine.postgres({ version: rds.PostgresEngineVersion.VER_15 }),
    vpc,
    vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED },
    instanceIdentifier: 'orders-db',
  });
}

/** A PostgresBackup with a given layer (no bundling), and its synthesized dump task's parameters. */
function dumpParameters(props: Partial<PostgresBackupProps>): Record<string, unknown> {
  const stack = new Stack(new App(), 'Primary', { env: ENV });
  const vpc = threeTierVpc(stack);
  const db = database(stack, vpc);
  new PostgresBackup(stack, 'Backup', {
    source: BackupSource.fromInstance(db, { secret: db.secret! }),
    databases: ['orders'],
    vpc,
    bucket: new BackupBucket(stack, 'Backups'),
    postgresVersion: 15,
    pgToolsLayer: lambda.LayerVersion.fromLayerVersionArn(stack, 'Layer', 'arn:aws:lambda:us-east-1:111111111111:layer:pg:1'),
    ...props,
  });
  return allStates(definitionOf(Template.fromStack(stack))).Dump.Parameters as Record<string, unknown>;
}

function configurationError(build: () => unknown): ConfigurationError {
  try {
    build();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigurationError);
    return error as ConfigurationError;
  }
  throw new Error('expected a ConfigurationError');
}

describe('DumpCompression', () => {
  it('writes itself as the dump handler reads it', () => {
    expect([DumpCompression.DEFAULT, DumpCompression.gzip(1), DumpCompression.none(), DumpCompression.zstd(19), DumpCompression.lz4(1)].map(String))
      .toEqual(['gzip:3', 'gzip:1', 'none', 'zstd:19', 'lz4:1']);
  });

  it.each([
    [() => DumpCompression.gzip(10), 'DumpCompression.gzip: level must be a whole number from 0 to 9; got 10.'],
    [() => DumpCompression.gzip(2.5), 'DumpCompression.gzip: level must be a whole number from 0 to 9; got 2.5.'],
    [() => DumpCompression.zstd(0), 'DumpCompression.zstd: level must be a whole number from 1 to 22; got 0.'],
    [() => DumpCompression.lz4(13), 'DumpCompression.lz4: level must be a whole number from 1 to 12; got 13.'],
  ])('refuses a level out of range, saying the range (%#)', (build, message) => {
    expect(configurationError(build).message).toBe(message);
  });
});

describe('PostgresBackup dumpCompression', () => {
  it('passes gzip:3 to every dump by default', () => {
    expect(dumpParameters({})).toMatchObject({ compression: 'gzip:3', 'database.$': '$.database' });
  });

  it('passes the chosen compression', () => {
    expect(dumpParameters({ dumpCompression: DumpCompression.gzip(1) }).compression).toBe('gzip:1');
    expect(dumpParameters({ dumpCompression: DumpCompression.none() }).compression).toBe('none');
    expect(dumpParameters({ postgresVersion: 16, dumpCompression: DumpCompression.zstd(3) }).compression).toBe('zstd:3');
  });

  it('refuses zstd and lz4 with a pg_dump before 16, with the construct path and what to change', () => {
    const error = configurationError(() => dumpParameters({ postgresVersion: 15, dumpCompression: DumpCompression.lz4(1) }));
    expect(error.message).toContain('Primary/Backup');
    expect(error.message).toContain(
      'dumpCompression lz4:1 needs postgresVersion 16 or newer (pg_dump 15 has no lz4); use DumpCompression.gzip(level), or raise postgresVersion.',
    );
  });
});

describe('PostgresDisasterRecovery dumpCompression', () => {
  it('passes it to its PostgresBackup', () => {
    const app = new App();
    const dr = new Stack(app, 'Dr', { env: { ...ENV, region: 'us-west-2' } });
    const primary = new Stack(app, 'Primary', { env: ENV });
    const vpc = threeTierVpc(primary);
    const db = database(primary, vpc);
    new PostgresDisasterRecovery(primary, 'Orders', {
      source: BackupSource.fromInstance(db, { secret: db.secret! }),
      databases: ['orders'],
      postgresVersion: 15,
      vpc,
      drStack: dr,
      drVpc: threeTierVpc(dr),
      dumpCompression: DumpCompression.gzip(6),
    });
    const machines = Object.values(Template.fromStack(primary).findResources('AWS::StepFunctions::StateMachine'));
    // The literal parts of each definition (tokens left out): the backup workflow's is the one with a Dump state.
    const texts = machines.map((m) => JSON.stringify((m as { Properties: { DefinitionString: unknown } }).Properties.DefinitionString));
    const backupWorkflow = texts.filter((t) => t.includes('\\"Dump\\":'));
    expect(backupWorkflow).toHaveLength(1);
    expect(backupWorkflow[0]).toContain('\\"compression\\":\\"gzip:6\\"');
  });
});
