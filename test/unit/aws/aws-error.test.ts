import { S3ServiceException } from '@aws-sdk/client-s3';
import { awsErrorInfo, describeAwsError } from '../../../lambda/aws/aws-error';

const s3Error = (name: string, status: number, message: string, fault: 'client' | 'server' = 'client') =>
  new S3ServiceException({ name, $fault: fault, $metadata: { httpStatusCode: status }, message });

describe('awsErrorInfo / describeAwsError', () => {
  it('names the code, the status and AWS words of an error with a body', () => {
    const error = s3Error('AccessDenied', 403, 'Access Denied');
    expect(describeAwsError(error)).toBe('AccessDenied (HTTP 403): Access Denied');
    expect(awsErrorInfo(error)).toMatchObject({ code: 'AccessDenied', accessDenied: true, transient: false });
  });

  it('gives a bodiless HEAD error (named "UnknownError" or by its status) the code S3 means', () => {
    expect(describeAwsError(s3Error('UnknownError', 400, 'UnknownError'))).toBe('BadRequest (HTTP 400)');
    expect(describeAwsError(s3Error('403', 403, 'UnknownError'))).toBe('AccessDenied (HTTP 403)');
    expect(describeAwsError(s3Error('Forbidden', 403, 'UnknownError'))).toBe('Forbidden (HTTP 403)');
  });

  it('marks server faults and throttling as transient', () => {
    expect(awsErrorInfo(s3Error('InternalError', 500, 'We encountered an internal error.', 'server')).transient).toBe(true);
    expect(awsErrorInfo(s3Error('SlowDown', 503, 'Please reduce your request rate.', 'server')).transient).toBe(true);
    expect(awsErrorInfo(s3Error('NoSuchBucket', 404, 'The specified bucket does not exist')).transient).toBe(false);
  });

  it('describes errors that are not AWS errors by their name and message', () => {
    expect(describeAwsError(new TypeError('socket hang up'))).toBe('TypeError: socket hang up');
    expect(describeAwsError('plain text')).toBe('Error: plain text');
  });
});
