import { InvalidInput, MissingConfiguration } from '../../../lambda/common/errors';
import {
  describeRepointProgress,
  formatEndpoint,
  mergeEndpointIntoSecret,
  normalizeRecordName,
  parseEndpoint,
  parseRepointTargets,
  secretRequestToken,
} from '../../../lambda/failover/repoint';

const endpoint = { host: 'cdkbdr-fo-x-1a2b3c4d.abc.us-west-2.rds.amazonaws.com', port: 5432 };

describe('repoint targets (configuration)', () => {
  it('parses what the construct writes', () => {
    expect(
      parseRepointTargets(
        JSON.stringify([
          { type: 'ssm-parameter', name: '/app/db', format: '{host}:{port}' },
          { type: 'secret', secretId: 'arn:aws:secretsmanager:us-west-2:1:secret:app', hostField: 'host', portField: 'port' },
          { type: 'cname', hostedZoneId: 'Z1', recordName: 'db.example.internal', ttlSeconds: 60 },
        ]),
      ),
    ).toHaveLength(3);
    expect(parseRepointTargets(undefined)).toEqual([]);
  });

  it.each([
    ['not JSON', '{', /REPOINT_TARGETS is not JSON/],
    ['not an array', '{}', /must be a JSON array/],
    ['unknown type', '[{"type":"dynamodb"}]', /REPOINT_TARGETS\[0\]\.type must be ssm-parameter, secret or cname/],
    ['format without host', '[{"type":"ssm-parameter","name":"/a","format":"{port}"}]', /format must contain \{host\}/],
    ['bad parameter name', '[{"type":"ssm-parameter","name":"a b","format":"{host}"}]', /is not an SSM parameter name/],
    ['negative TTL', '[{"type":"cname","hostedZoneId":"Z","recordName":"db.x","ttlSeconds":-1}]', /ttlSeconds must be a whole number/],
  ])('refuses %s as a deployment error', (_name, text, message) => {
    expect(() => parseRepointTargets(text)).toThrow(MissingConfiguration);
    expect(() => parseRepointTargets(text)).toThrow(message);
  });
});

describe('repoint values (pure)', () => {
  it('formats an SSM value from the endpoint', () => {
    expect(formatEndpoint('{host}:{port}', endpoint)).toBe(`${endpoint.host}:5432`);
    expect(formatEndpoint('postgres://{host}:{port}/app?host={host}', endpoint)).toBe(`postgres://${endpoint.host}:5432/app?host=${endpoint.host}`);
  });

  it('merges host and port into a secret, keeps every other field, and reports only host and port', () => {
    const before = JSON.stringify({ username: 'app', password: 's3cret', host: 'old.example.com', port: 5432, dbname: 'app', engine: 'postgres' });
    const merge = mergeEndpointIntoSecret(before, 'app-secret', endpoint, 'host', 'port');
    expect(merge.changed).toBe(true);
    expect(JSON.parse(merge.next)).toEqual({ username: 'app', password: 's3cret', host: endpoint.host, port: 5432, dbname: 'app', engine: 'postgres' });
    expect(merge.previous).toBe('{"host":"old.example.com","port":5432}');
    expect(merge.current).toBe(`{"host":"${endpoint.host}","port":5432}`);
    expect(`${merge.previous}${merge.current}`).not.toContain('s3cret');
  });

  it('finds a secret already pointing at the endpoint unchanged (idempotence), and normalizes a port stored as text', () => {
    const done = JSON.stringify({ username: 'app', password: 'p', host: endpoint.host, port: 5432 });
    expect(mergeEndpointIntoSecret(done, 's', endpoint, 'host', 'port')).toMatchObject({ changed: false, next: done });
    const textPort = JSON.stringify({ username: 'app', password: 'p', host: endpoint.host, port: '5432' });
    const merged = mergeEndpointIntoSecret(textPort, 's', endpoint, 'host', 'port');
    expect(merged.changed).toBe(true);
    expect(JSON.parse(merged.next).port).toBe(5432);
  });

  it('uses configured field names, and refuses a secret that is not a JSON object without showing it', () => {
    const merged = mergeEndpointIntoSecret('{"DB_HOST":"a","DB_PORT":1}', 's', endpoint, 'DB_HOST', 'DB_PORT');
    expect(JSON.parse(merged.next)).toEqual({ DB_HOST: endpoint.host, DB_PORT: 5432 });
    expect(() => mergeEndpointIntoSecret('hunter2', 'app-secret', endpoint, 'host', 'port')).toThrow(InvalidInput);
    expect(() => mergeEndpointIntoSecret('hunter2', 'app-secret', endpoint, 'host', 'port')).toThrow(/^secret app-secret does not hold a JSON object/);
    expect(() => mergeEndpointIntoSecret('hunter2', 'app-secret', endpoint, 'host', 'port')).not.toThrow(/hunter2/);
  });

  it('derives the same PutSecretValue token for a retried write, another for another value or execution', () => {
    const token = secretRequestToken('exec-1', 'secret', 'v');
    expect(token).toMatch(/^[0-9a-f]{64}$/);
    expect(secretRequestToken('exec-1', 'secret', 'v')).toBe(token);
    expect(secretRequestToken('exec-2', 'secret', 'v')).not.toBe(token);
    expect(secretRequestToken('exec-1', 'secret', 'w')).not.toBe(token);
  });

  it('normalizes record names as Route 53 returns them', () => {
    expect(normalizeRecordName('DB.Example.internal')).toBe('db.example.internal.');
    expect(normalizeRecordName('db.example.internal.')).toBe('db.example.internal.');
  });

  it('validates the endpoint it is given', () => {
    expect(parseEndpoint(endpoint)).toEqual(endpoint);
    expect(() => parseEndpoint({ host: 'a b', port: 5432 })).toThrow(/endpoint.host must be a DNS name or IP address/);
    expect(() => parseEndpoint({ host: 'a', port: 70000 })).toThrow(/endpoint.port must be a whole number from 1 to 65535/);
    expect(() => parseEndpoint('a:5432')).toThrow(/endpoint must be an object \{ host, port \}/);
  });
});

describe('repoint progress (the message of a repoint that stopped)', () => {
  const parameter = { type: 'ssm-parameter', name: '/app/db', format: '{host}:{port}' } as const;
  const secret = { type: 'secret', secretId: 'app-secret', hostField: 'host', portField: 'port' } as const;
  const cname = { type: 'cname', hostedZoneId: 'Z1', recordName: 'DB.example.internal.', ttlSeconds: 60 } as const;

  it('names what was repointed with the value to put back, the failed target and what was not attempted', () => {
    const done = [{ type: 'ssm-parameter' as const, name: '/app/db', previous: 'old:5432', current: 'new:5432', action: 'updated' as const }];
    expect(describeRepointProgress(done, secret, [cname])).toBe(
      'repoint stopped at secret app-secret; already repointed: ssm-parameter /app/db (updated; was "old:5432"); ' +
      'not attempted: cname db.example.internal.');
  });

  it('says when nothing was repointed, and a created target was missing before', () => {
    expect(describeRepointProgress([], parameter, [])).toBe('repoint stopped at ssm-parameter /app/db; no target was repointed');
    const created = [{ type: 'ssm-parameter' as const, name: '/app/db', previous: null, current: 'new:5432', action: 'created' as const }];
    expect(describeRepointProgress(created, cname, [])).toBe(
      'repoint stopped at cname db.example.internal.; already repointed: ssm-parameter /app/db (created; was missing)');
  });
});

