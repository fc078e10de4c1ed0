import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Writable } from 'node:stream';
import { InvalidInput } from '../../../lambda/common/errors';
import { digestStream, HashTap } from '../../../lambda/common/hash';
import { parseDatabaseSecret, parsePort } from '../../../lambda/aws/secrets';

const ARN = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:db';

describe('parseDatabaseSecret', () => {
  it('reads an RDS-style secret', () => {
    const secret = JSON.stringify({ username: 'u', password: 'pw', host: 'h', port: 5432, dbname: 'app', engine: 'postgres' });
    expect(parseDatabaseSecret(secret, ARN)).toEqual({ username: 'u', password: 'pw', host: 'h', port: 5432, dbname: 'app', engine: 'postgres' });
    expect(parseDatabaseSecret(JSON.stringify({ username: 'u', password: 'pw', port: '6432' }), ARN).port).toBe(6432);
  });

  it.each([
    [undefined, /has no SecretString/],
    ['hunter2-not-json', /is not JSON/],
    ['[]', /must hold a JSON object/],
    [JSON.stringify({ password: 'hunter2' }), /has no "username"/],
    [JSON.stringify({ username: 'u' }), /has no "password"/],
    [JSON.stringify({ username: 'u', password: 'hunter2', port: 'x' }), /"port" that is not a number/],
  ])('refuses %j naming the secret, never the value', (text, message) => {
    expect(() => parseDatabaseSecret(text, ARN)).toThrow(InvalidInput);
    expect(() => parseDatabaseSecret(text, ARN)).toThrow(message);
    expect(() => parseDatabaseSecret(text, ARN)).not.toThrow(/hunter2/);
  });

  it('parses ports strictly', () => {
    expect(parsePort(5432)).toBe(5432);
    expect(parsePort('5432')).toBe(5432);
    expect(parsePort('54x')).toBeUndefined();
    expect(parsePort(0)).toBeUndefined();
    expect(parsePort(65536)).toBeUndefined();
  });
});

describe('HashTap', () => {
  const sink = (): Writable => new Writable({ write: (_chunk, _enc, cb) => cb() });

  it('passes bytes through and hashes them', async () => {
    const data = randomBytes(300_000);
    const tap = new HashTap();
    const seen: number[] = [];
    const counting = new HashTap({ onBytes: (n) => seen.push(n) });
    await pipeline(Readable.from([data.subarray(0, 1000), data.subarray(1000)]), tap, counting, sink());
    const expected = createHash('sha256').update(data).digest('hex');
    expect(tap.digest()).toEqual({ bytes: data.length, sha256: expected });
    expect(counting.digest().sha256).toBe(expected);
    expect(seen[seen.length - 1]).toBe(data.length);
  });

  it('errors instead of ending when beforeEnd rejects', async () => {
    const tap = new HashTap({ beforeEnd: () => Promise.reject(new Error('pg_dump exited with code 1')) });
    await expect(pipeline(Readable.from([Buffer.from('partial')]), tap, sink())).rejects.toThrow('pg_dump exited with code 1');
    expect(() => tap.digest()).toThrow(/has not ended cleanly/);
  });

  it('waits for beforeEnd before ending', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const tap = new HashTap({ beforeEnd: () => gate });
    let ended = false;
    const done = pipeline(Readable.from([Buffer.from('x')]), tap, sink()).then(() => (ended = true));
    await new Promise((resolve) => setImmediate(resolve));
    expect(ended).toBe(false);
    release();
    await done;
    expect(ended).toBe(true);
  });

  it('digestStream hashes a stream', async () => {
    const data = randomBytes(70_000);
    expect(await digestStream(Readable.from([data]))).toEqual({ bytes: data.length, sha256: createHash('sha256').update(data).digest('hex') });
  });
});
