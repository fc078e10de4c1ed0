/**
 * What an AWS SDK error says, read by its shape (no SDK import, so cores that load the SDK lazily can use it): the
 * error code AWS returned, the HTTP status, and whether it is worth retrying.
 */

/** The parts of an AWS SDK v3 service error that matter for a message. */
export interface AwsErrorInfo {
  /** AWS's error code (`AccessDenied`, `NoSuchBucket`, `InternalError`), or the error's name when it is not AWS's. */
  readonly code: string;
  readonly httpStatus?: number;
  /** AWS's own words (empty when the response had no body, as for a HEAD). */
  readonly text: string;
  /** A server-side or throttling fault: the same request may succeed later. */
  readonly transient: boolean;
  readonly accessDenied: boolean;
}

interface SdkErrorShape {
  readonly name?: unknown;
  readonly Code?: unknown;
  readonly message?: unknown;
  readonly $fault?: unknown;
  readonly $retryable?: unknown;
  readonly $metadata?: { readonly httpStatusCode?: unknown };
}

/** Reads the code, HTTP status and words of an error (any thrown value). */
export function awsErrorInfo(error: unknown): AwsErrorInfo {
  const shape: SdkErrorShape = typeof error === 'object' && error !== null ? (error as SdkErrorShape) : {};
  const status = typeof shape.$metadata?.httpStatusCode === 'number' ? shape.$metadata.httpStatusCode : undefined;
  const named = typeof shape.Code === 'string' ? shape.Code : typeof shape.name === 'string' ? shape.name : '';
  // A HEAD error has no body: the SDK then names it "Unknown"/"UnknownError" or by the bare status ("403").
  const unhelpful = named === '' || named === 'Error' || /^Unknown(Error)?$/.test(named) || /^\d+$/.test(named);
  const code = unhelpful && status !== undefined ? (STATUS_CODES[status] ?? `HTTP${status}`) : named || 'Error';
  const rawText = error instanceof Error ? error.message : typeof shape.message === 'string' ? shape.message : String(error);
  const text = rawText === named || /^Unknown(Error)?$/.test(rawText) ? '' : rawText;
  return {
    code,
    httpStatus: status,
    text,
    transient: shape.$fault === 'server' || shape.$retryable !== undefined || status === 429 || (status !== undefined && status >= 500),
    accessDenied: status === 403 || code === 'AccessDenied',
  };
}

/** How S3 names the errors of bodiless responses (a HEAD) by their status. */
const STATUS_CODES: Readonly<Record<number, string>> = {
  400: 'BadRequest',
  403: 'AccessDenied',
  404: 'NotFound',
  409: 'Conflict',
  500: 'InternalError',
  503: 'ServiceUnavailable',
};

/** `AccessDenied (HTTP 403): Access Denied` — the code, the status and AWS's words, for a message. */
export function describeAwsError(error: unknown): string {
  const info = awsErrorInfo(error);
  const status = info.httpStatus === undefined ? '' : ` (HTTP ${info.httpStatus})`;
  return `${info.code}${status}${info.text ? `: ${info.text}` : ''}`;
}
