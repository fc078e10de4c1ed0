/**
 * The repoint handler against moto's SSM, Secrets Manager and Route 53: it updates (or creates) every configured
 * target, records the previous values, and a second run with the same endpoint changes nothing.
 */
import { randomBytes } from 'node:crypto';
import { GetParameterCommand, PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { CreateSecretCommand, GetSecretValueCommand, ListSecretVersionIdsCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { ChangeResourceRecordSetsCommand, CreateHostedZoneCommand, ListResourceRecordSetsCommand, Route53Client } from '@aws-sdk/client-route-53';
import { handler } from '../../../lambda/failover/repoint.handler';
import { InvalidInput } from '../../../lambda/common/errors';
import type { RepointTarget } from '../../../lambda/failover/repoint';

const suffix = randomBytes(3).toString('hex');
const ssm = new SSMClient({});
const secrets = new SecretsManagerClient({});
const route53 = new Route53Client({});
const EXECUTION = `arn:aws:states:us-east-1:123456789012:execution:Failover:repoint-${suffix}`;
const NEW = { host: `cdkbdr-fo-x-${suffix}.abc.us-east-1.rds.amazonaws.com`, port: 5432 };
const PARAMETER = `/repoint-${suffix}/db`;
const URL_PARAMETER = `/repoint-${suffix}/db-url`;
const ZONE = `repoint${suffix}.internal`;
let secretArn: string;
let zoneId: string;
let targets: RepointTarget[];

async function secretVersions(): Promise<number> {
  return (await secrets.send(new ListSecretVersionIdsCommand({ SecretId: secretArn }))).Versions?.length ?? 0;
}

async function record(name: string): Promise<{ value?: string; ttl?: number }> {
  const out = await route53.send(new ListResourceRecordSetsCommand({ HostedZoneId: zoneId, StartRecordName: name, StartRecordType: 'CNAME', MaxItems: 1 }));
  const found = out.ResourceRecordSets?.find((r) => r.Name === name && r.Type === 'CNAME');
  return { value: found?.ResourceRecords?.[0]?.Value, ttl: found?.TTL };
}

function run(endpoint = NEW, executionId = EXECUTION) {
  return handler({ endpoint, executionId });
}

beforeAll(async () => {
  await ssm.send(new PutParameterCommand({ Name: PARAMETER, Value: 'old.example.com:5432', Type: 'String' }));
  secretArn =
    (await secrets.send(
      new CreateSecretCommand({
        Name: `repoint-app-${suffix}`,
        SecretString: JSON.stringify({ username: 'app', password: 'app-pw-not-in-results', host: 'old.example.com', port: 5432, dbname: 'app' }),
      }),
    )).ARN ?? '';
  const zone = await route53.send(new CreateHostedZoneCommand({ Name: ZONE, CallerReference: `repoint-${suffix}` }));
  zoneId = (zone.HostedZone?.Id ?? '').replace('/hostedzone/', '');
  await route53.send(
    new ChangeResourceRecordSetsCommand({
      HostedZoneId: zoneId,
      ChangeBatch: { Changes: [{ Action: 'UPSERT', ResourceRecordSet: { Name: `db.${ZONE}.`, Type: 'CNAME', TTL: 300, ResourceRecords: [{ Value: 'old.example.com' }] } }] },
    }),
  );
  targets = [
    { type: 'ssm-parameter', name: PARAMETER, format: '{host}:{port}' },
    { type: 'ssm-parameter', name: URL_PARAMETER, format: 'postgres://{host}:{port}/app' },
    { type: 'secret', secretId: secretArn, hostField: 'host', portField: 'port' },
    { type: 'cname', hostedZoneId: zoneId, recordName: `db.${ZONE}`, ttlSeconds: 30 },
    { type: 'cname', hostedZoneId: zoneId, recordName: `reporting.${ZONE}`, ttlSeconds: 60 },
  ];
  process.env.REPOINT_TARGETS = JSON.stringify(targets);
});

afterAll(() => {
  delete process.env.REPOINT_TARGETS;
  for (const client of [ssm, secrets, route53]) client.destroy();
});

describe('repoint handler against moto', () => {
  it('repoints every target, creating what is missing, and returns the previous values (credentials excluded)', async () => {
    const versionsBefore = await secretVersions();
    const out = await run();

    expect(out.changes).toEqual([
      { type: 'ssm-parameter', name: PARAMETER, previous: 'old.example.com:5432', current: `${NEW.host}:5432`, action: 'updated' },
      { type: 'ssm-parameter', name: URL_PARAMETER, previous: null, current: `postgres://${NEW.host}:5432/app`, action: 'created' },
      { type: 'secret', name: secretArn, previous: '{"host":"old.example.com","port":5432}', current: `{"host":"${NEW.host}","port":5432}`, action: 'updated' },
      { type: 'cname', name: `db.${ZONE}.`, previous: 'old.example.com (TTL 300)', current: `${NEW.host} (TTL 30)`, action: 'updated' },
      { type: 'cname', name: `reporting.${ZONE}.`, previous: null, current: `${NEW.host} (TTL 60)`, action: 'created' },
    ]);
    expect(JSON.stringify(out)).not.toContain('app-pw-not-in-results');
    expect((await ssm.send(new GetParameterCommand({ Name: PARAMETER }))).Parameter?.Value).toBe(`${NEW.host}:5432`);
    expect((await ssm.send(new GetParameterCommand({ Name: URL_PARAMETER }))).Parameter).toMatchObject({ Value: `postgres://${NEW.host}:5432/app`, Type: 'String' });
    const secret = JSON.parse((await secrets.send(new GetSecretValueCommand({ SecretId: secretArn }))).SecretString ?? '{}');
    expect(secret).toEqual({ username: 'app', password: 'app-pw-not-in-results', host: NEW.host, port: 5432, dbname: 'app' });
    expect(await secretVersions()).toBe(versionsBefore + 1);
    expect(await record(`db.${ZONE}.`)).toEqual({ value: NEW.host, ttl: 30 });
    expect(await record(`reporting.${ZONE}.`)).toEqual({ value: NEW.host, ttl: 60 });
  });

  it('changes nothing when run again with the same endpoint (idempotent): same values, no new secret version', async () => {
    const versionsBefore = await secretVersions();
    const parameterVersion = (await ssm.send(new GetParameterCommand({ Name: PARAMETER }))).Parameter?.Version;
    const out = await run(NEW, `${EXECUTION}-retry`);

    expect(out.changes.map((c) => c.action)).toEqual(['unchanged', 'unchanged', 'unchanged', 'unchanged', 'unchanged']);
    expect(out.changes.every((c) => c.previous === c.current)).toBe(true);
    expect(await secretVersions()).toBe(versionsBefore);
    expect((await ssm.send(new GetParameterCommand({ Name: PARAMETER }))).Parameter?.Version).toBe(parameterVersion);
    expect(await record(`db.${ZONE}.`)).toEqual({ value: NEW.host, ttl: 30 });
  });

  it('fails back with the same handler: the previous values from the report put the original endpoint back', async () => {
    const out = await run({ host: 'old.example.com', port: 5432 }, `${EXECUTION}-failback`);

    expect(out.changes.find((c) => c.name === PARAMETER)).toMatchObject({ previous: `${NEW.host}:5432`, current: 'old.example.com:5432', action: 'updated' });
    expect((await ssm.send(new GetParameterCommand({ Name: PARAMETER }))).Parameter?.Value).toBe('old.example.com:5432');
    expect(JSON.parse((await secrets.send(new GetSecretValueCommand({ SecretId: secretArn }))).SecretString ?? '{}')).toMatchObject({ host: 'old.example.com', password: 'app-pw-not-in-results' });
    expect((await record(`db.${ZONE}.`)).value).toBe('old.example.com');
  });

  it('refuses a secret that is not a JSON object, after repointing the targets before it (a retry finds those unchanged)', async () => {
    const broken = (await secrets.send(new CreateSecretCommand({ Name: `repoint-broken-${suffix}`, SecretString: 'host=old' }))).ARN ?? '';
    const saved = process.env.REPOINT_TARGETS;
    process.env.REPOINT_TARGETS = JSON.stringify([targets[0], { type: 'secret', secretId: broken, hostField: 'host', portField: 'port' }]);
    try {
      await expect(run(NEW, `${EXECUTION}-broken`)).rejects.toThrow(InvalidInput);
      await expect(run(NEW, `${EXECUTION}-broken`)).rejects.toThrow(/does not hold a JSON object/);
      // The message (the cause the report shows) says what was already done: the retry found the parameter unchanged.
      await expect(run(NEW, `${EXECUTION}-broken`)).rejects.toThrow(
        `(repoint stopped at secret ${broken}; already repointed: ssm-parameter ${PARAMETER} (unchanged; was "${NEW.host}:5432"))`);
      expect((await ssm.send(new GetParameterCommand({ Name: PARAMETER }))).Parameter?.Value).toBe(`${NEW.host}:5432`);
    } finally {
      process.env.REPOINT_TARGETS = saved;
    }
  });

  it('validates its input and needs configured targets', async () => {
    await expect(handler({ endpoint: { host: NEW.host }, executionId: EXECUTION })).rejects.toThrow(/endpoint.port must be a whole number/);
    const saved = process.env.REPOINT_TARGETS;
    process.env.REPOINT_TARGETS = '[]';
    try {
      await expect(run()).rejects.toThrow(/no repoint targets are configured/);
    } finally {
      process.env.REPOINT_TARGETS = saved;
    }
  });
});
