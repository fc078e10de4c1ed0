/**
 * The cleanup handler's input and configuration are parsed and checked before anything is listed or deleted, and
 * every refusal says what to change.
 */
import { InvalidInput, MissingConfiguration } from '../../../lambda/common/errors';
import { parseCleanupEvent, readCleanupConfig } from '../../../lambda/retention/cleanup-input';

const ENV = {
  AWS_REGION: 'us-east-1',
  BUCKET_NAME: 'backups',
  BUCKET_KMS_KEY_ARN: 'arn:aws:kms:us-east-1:111111111111:key/abc',
  SOURCE_ID: 'orders-db',
  RETENTION_POLICY: JSON.stringify({ daily: 7, minimumKeep: 1, timeZone: 'Etc/UTC' }),
  REPLICA_BUCKET_NAME: 'replica',
  DR_REGION: 'us-west-2',
  SNAPSHOT_KIND: 'instance',
  SNAPSHOT_SOURCE: 'orders-db',
};

describe('parseCleanupEvent', () => {
  it('takes the state machine event (the execution input as given) and the hand-made event alike; dryRun defaults to false', () => {
    expect(parseCleanupEvent({ request: { target: 'primary' }, executionName: 'run-1' })).toEqual({ target: 'primary', dryRun: false, executionName: 'run-1' });
    expect(parseCleanupEvent({ request: { target: 'replica', dryRun: true }, executionName: 'run-2' })).toEqual({ target: 'replica', dryRun: true, executionName: 'run-2' });
    expect(parseCleanupEvent({ target: 'primary', dryRun: true })).toEqual({ target: 'primary', dryRun: true });
  });

  it.each([
    ['not an object', 'primary', /^event must be an object; got "primary"/],
    ['no target', { dryRun: true }, /^target must be one of 'primary', 'replica'; got nothing/],
    ['an unknown target', { target: 'dr' }, /^target must be one of 'primary', 'replica'; got "dr"/],
    ['a misspelt dryRun', { target: 'primary', dryrun: true }, /^unknown field "dryrun": a cleanup request takes target \("primary" or "replica"\) and dryRun \(true or false\)/],
    ['a misspelt field in the execution input', { request: { target: 'primary', dry_run: true }, executionName: 'x' }, /^unknown field "dry_run": a cleanup request takes target/],
    ['dryRun as a string', { target: 'primary', dryRun: 'true' }, /^dryRun must be true or false \(a JSON boolean\); got "true"/],
    ['an execution input that is not an object', { request: ['primary'], executionName: 'x' }, /^the execution input must be an object; got an array/],
    ['an empty executionName', { target: 'primary', executionName: '' }, /^executionName must be a string of 1 to 80 characters/],
  ])('refuses %s', (_what, event, message) => {
    expect(() => parseCleanupEvent(event)).toThrow(InvalidInput);
    expect(() => parseCleanupEvent(event)).toThrow(message);
  });
});

describe('readCleanupConfig', () => {
  it('reads the primary and the replica target', () => {
    expect(readCleanupConfig(ENV, 'primary')).toMatchObject({
      home: 'us-east-1',
      region: 'us-east-1',
      bucket: 'backups',
      reportBucket: 'backups',
      objectLock: false,
      removeVersions: false,
      orphanGraceSeconds: 86_400,
      snapshots: { kind: 'instance', source: 'orders-db' },
      inUseStateMachines: [],
    });
    expect(readCleanupConfig({ ...ENV, REPLICA_OBJECT_LOCK: 'true' }, 'replica')).toMatchObject({ region: 'us-west-2', bucket: 'replica', reportBucket: 'backups', objectLock: true });
  });

  it('refuses target replica when the bucket does not replicate, saying to start it with target primary', () => {
    const withoutReplica = { ...ENV, REPLICA_BUCKET_NAME: undefined };
    expect(() => readCleanupConfig(withoutReplica, 'replica')).toThrow(InvalidInput);
    expect(() => readCleanupConfig(withoutReplica, 'replica')).toThrow(/this cleanup has no replica bucket .*start it with target "primary"/);
  });

  it.each([
    ['a missing variable', { BUCKET_NAME: undefined }, /environment variable BUCKET_NAME is not set/],
    ['a policy that keeps nothing', { RETENTION_POLICY: JSON.stringify({ minimumKeep: 3, timeZone: 'UTC' }) }, /RETENTION_POLICY: the policy keeps nothing/],
    ['a policy that is not JSON', { RETENTION_POLICY: '{daily: 7}' }, /RETENTION_POLICY is not JSON/],
    ['an unknown snapshot kind', { SNAPSHOT_KIND: 'aurora' }, /SNAPSHOT_KIND must be "instance" or "cluster"; got "aurora"/],
    ['a snapshot kind without a source', { SNAPSHOT_SOURCE: undefined }, /SNAPSHOT_SOURCE is not set/],
    ['a flag that is not true or false', { OBJECT_LOCK: 'yes' }, /OBJECT_LOCK must be "true" or "false"; got "yes"/],
    ['a grace period under an hour', { ORPHAN_GRACE_SECONDS: '60' }, /ORPHAN_GRACE_SECONDS must be a whole number of seconds from 3600/],
    ['a source name with a slash', { SOURCE_ID: 'a/b' }, /SOURCE_ID must be 1-128 characters/],
    ['a state machine that is not an ARN', { IN_USE_STATE_MACHINES: 'RecoveryTest' }, /IN_USE_STATE_MACHINES must list state machine ARNs separated by commas; got "RecoveryTest"/],
  ])('refuses %s as a deployment error', (_what, change, message) => {
    const env = { ...ENV, ...change };
    expect(() => readCleanupConfig(env, 'primary')).toThrow(MissingConfiguration);
    expect(() => readCleanupConfig(env, 'primary')).toThrow(message);
  });
});
