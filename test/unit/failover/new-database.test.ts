/**
 * The settings a failover's new database is created with: read from NEW_DATABASE_SETTINGS, turned into the RDS request
 * fields (Multi-AZ for a real failover only, minor version upgrades, the configured groups).
 */
import { MissingConfiguration } from '../../../lambda/common/errors';
import { readNewDatabaseSettings } from '../../../lambda/failover/config';
import { newDatabaseConfiguration } from '../../../lambda/failover/failover-act.handler';
import { newInstanceSettings } from '../../../lambda/rds/instances';

const settings = { instanceClass: 'db.r6g.large', multiAz: true, parameterGroupName: 'prod-pg16', optionGroupName: 'prod-og16', kmsKeyId: 'arn:aws:kms:us-west-2:111111111111:key/abc' };
const env = (value: unknown) => ({ NEW_DATABASE_SETTINGS: JSON.stringify(value) });
const placement = { subnetGroupName: 'dr-subnets', securityGroupIds: ['sg-1'], tags: [] };

describe('readNewDatabaseSettings', () => {
  it('reads the strategy\'s settings', () => {
    expect(readNewDatabaseSettings(env({ 'restore-dump': settings }), 'restore-dump')).toEqual(settings);
    expect(readNewDatabaseSettings(env({ 'point-in-time': { instanceClass: 'db.t4g.micro', multiAz: false } }), 'point-in-time')).toEqual({ instanceClass: 'db.t4g.micro', multiAz: false });
  });

  it('names what the deployment got wrong', () => {
    expect(() => readNewDatabaseSettings({}, 'restore-dump')).toThrow(/NEW_DATABASE_SETTINGS is not set/);
    expect(() => readNewDatabaseSettings({ NEW_DATABASE_SETTINGS: '{' }, 'restore-dump')).toThrow(MissingConfiguration);
    expect(() => readNewDatabaseSettings(env({ 'restore-dump': settings }), 'restore-snapshot')).toThrow(/no settings for strategy restore-snapshot/);
    expect(() => readNewDatabaseSettings(env({ 'restore-dump': { ...settings, instanceClass: 'r6g.large' } }), 'restore-dump')).toThrow(/instanceClass must be an RDS instance class/);
    expect(() => readNewDatabaseSettings(env({ 'restore-dump': { ...settings, multiAz: 'yes' } }), 'restore-dump')).toThrow(/multiAz must be true or false/);
    expect(() => readNewDatabaseSettings(env({ 'restore-dump': { ...settings, optionGroupName: '' } }), 'restore-dump')).toThrow(/optionGroupName must be a non-empty string/);
  });
});

describe('the request fields of a failover\'s new instance', () => {
  it('makes a real failover\'s instance a production primary: Multi-AZ, minor upgrades, the configured groups', () => {
    expect(newInstanceSettings({ ...placement, ...newDatabaseConfiguration(settings, false) })).toMatchObject({
      MultiAZ: true,
      AutoMinorVersionUpgrade: true,
      DBParameterGroupName: 'prod-pg16',
      OptionGroupName: 'prod-og16',
      PubliclyAccessible: false,
    });
  });

  it('keeps a rehearsal single-AZ, and Multi-AZ off when configured off', () => {
    expect(newInstanceSettings({ ...placement, ...newDatabaseConfiguration(settings, true) })).toMatchObject({ MultiAZ: false, AutoMinorVersionUpgrade: true });
    expect(newInstanceSettings({ ...placement, ...newDatabaseConfiguration({ ...settings, multiAz: false }, false) })).toMatchObject({ MultiAZ: false });
  });

  it('leaves a scratch instance single-AZ, without minor upgrades, on the default groups', () => {
    const scratch = newInstanceSettings(placement);
    expect(scratch).toMatchObject({ MultiAZ: false, AutoMinorVersionUpgrade: false });
    expect(scratch).not.toHaveProperty('DBParameterGroupName');
    expect(scratch).not.toHaveProperty('OptionGroupName');
  });
});
