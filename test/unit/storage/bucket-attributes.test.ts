/**
 * The rules of an imported backup bucket's attributes (lib/storage/bucket-attributes.ts): S3 bucket names and ARNs,
 * KMS key and alias ARNs, region codes; each refusal says what to pass instead.
 */
import { bucketNameProblem, parseBucketArn, parseKmsArn, regionProblem } from '../../../lib/storage/bucket-attributes';

const KEY_ID = '1234abcd-12ab-34cd-56ef-1234567890ab';
const MRK_ID = 'mrk-1234abcd12ab34cd56ef1234567890ab';

describe('bucketNameProblem', () => {
  it.each(['abc', 'orders-backups-123456789012-us-west-2', 'a.b-c', 'x'.repeat(63), '1bucket9'])('accepts %s', (name) => {
    expect(bucketNameProblem(name)).toBeUndefined();
  });

  it.each([
    ['ab', 'too short'],
    ['x'.repeat(64), 'too long'],
    ['Orders', 'upper case'],
    ['orders_backups', 'underscore'],
    ['-orders', 'leading hyphen'],
    ['orders.', 'trailing dot'],
    ['a..b', 'two adjacent dots'],
    ['192.168.1.10', 'an IP address'],
    ['s3://orders', 'a URL'],
    ['orders/postgres', 'a key'],
  ])('refuses %s (%s) and says what a name is', (name) => {
    expect(bucketNameProblem(name)).toMatch(/is not a bucket name \(an S3 bucket name is 3-63 lowercase letters.*aws s3api list-buckets/);
  });
});

describe('parseBucketArn', () => {
  it.each([
    ['arn:aws:s3:::orders-backups', 'orders-backups'],
    ['arn:aws-cn:s3:::orders.backups', 'orders.backups'],
    ['arn:aws-us-gov:s3:::a1b', 'a1b'],
  ])('reads the name of %s', (arn, name) => {
    expect(parseBucketArn(arn)).toEqual({ bucketName: name });
  });

  it.each([
    ['orders-backups', /is not an S3 ARN; an S3 bucket ARN is arn:<partition>:s3:::<bucket-name>/],
    ['arn:aws:kms:us-east-1:111111111111:key/abc', /is not an S3 ARN/],
    ['arn:aws:s3:us-east-1::orders', /has a region or account; .* with both left empty/],
    ['arn:aws:s3::111111111111:orders', /has a region or account/],
    ['arn:aws:s3:::orders/postgres/*', /names objects in a bucket, not the bucket; .*drop everything from the first "\/"/],
    ['arn:aws:s3:::Orders', /is not a bucket name/],
  ])('refuses %s', (arn, message) => {
    const parsed = parseBucketArn(arn);
    expect('problem' in parsed && parsed.problem).toMatch(message);
  });
});

describe('parseKmsArn', () => {
  it.each([
    [`arn:aws:kms:us-east-1:111111111111:key/${KEY_ID}`, { partition: 'aws', region: 'us-east-1', account: '111111111111', type: 'key', id: KEY_ID }],
    [`arn:aws-cn:kms:cn-north-1:222222222222:key/${MRK_ID}`, { partition: 'aws-cn', region: 'cn-north-1', account: '222222222222', type: 'key', id: MRK_ID }],
    [`arn:aws:kms:ap-southeast-2:111111111111:key/${KEY_ID}`, { region: 'ap-southeast-2', type: 'key' }],
  ])('reads the parts of %s', (arn, parts) => {
    expect(parseKmsArn(arn, false)).toMatchObject(parts);
    expect(parseKmsArn(arn, true)).toMatchObject(parts);
  });

  it('reads an alias ARN only where an alias is accepted, and says to pass the key ARN where it is not', () => {
    const arn = 'arn:aws:kms:us-west-2:111111111111:alias/cdk-backup-dr/DrReplicaA1B2C3D4';
    expect(parseKmsArn(arn, true)).toEqual({ partition: 'aws', region: 'us-west-2', account: '111111111111', type: 'alias', id: 'alias/cdk-backup-dr/DrReplicaA1B2C3D4' });
    const refused = parseKmsArn(arn, false);
    expect('problem' in refused && refused.problem).toMatch(
      /is an alias ARN; pass the key ARN \(a key ARN is arn:<partition>:kms:<region>:<account>:key\/<key-id>; `aws kms describe-key --key-id arn:aws:kms:.*` prints it\): the bucket policy/,
    );
  });

  it.each([
    [KEY_ID, /is a key id; pass the full ARN: .*`aws kms describe-key --key-id 1234abcd/],
    ['alias/backups', /is an alias name; pass the ARN of its key/],
    ['arn:aws:s3:::orders', /is not a KMS ARN; a key ARN is arn:<partition>:kms:<region>:<account>:key\/<key-id>\.$/],
    [`arn:aws:kms::111111111111:key/${KEY_ID}`, /has no valid region \(""\)/],
    [`arn:aws:kms:us-east-1:1111:key/${KEY_ID}`, /has no 12-digit account \("1111"\)/],
    ['arn:aws:kms:us-east-1:111111111111:key/not-a-key', /ends in "not-a-key", which is not a key id/],
    [`arn:aws:kms:us-east-1:111111111111:key/${KEY_ID.toUpperCase()}`, /which is not a key id/],
  ])('refuses %s', (arn, message) => {
    const parsed = parseKmsArn(arn, false);
    expect('problem' in parsed && parsed.problem).toMatch(message);
  });

  it('refuses the AWS managed aliases (alias/aws/…), which cannot encrypt a replica with a customer key', () => {
    const parsed = parseKmsArn('arn:aws:kms:us-west-2:111111111111:alias/aws/s3', true);
    expect('problem' in parsed && parsed.problem).toMatch(/does not name a customer alias/);
  });
});

describe('regionProblem', () => {
  it.each(['us-east-1', 'eu-central-2', 'us-gov-west-1', 'ap-southeast-5'])('accepts %s', (region) => {
    expect(regionProblem(region, 'region')).toBeUndefined();
  });

  it.each(['US-EAST-1', 'us-east', 'useast1', 'us-east-1a', ''])('refuses %s', (region) => {
    expect(regionProblem(region, 'replica.region')).toBe(`replica.region ${JSON.stringify(region)} is not a region code (e.g. us-east-1).`);
  });
});
