/**
 * The one formatter of every message this package publishes to its operations topic: what a person needs at 3 a.m.
 * (a subject that says what failed and where; a body with the cause, the report's S3 key, the execution's console
 * link and what to do next) and the same facts for machines (a JSON body for HTTPS, chat, SQS and Lambda subscribers,
 * and SNS message attributes for filter policies). Pure and dependency-free: `lib/` imports the attribute names.
 *
 * The message is published with `MessageStructure: json`, one body per protocol: `default` (email, SMS, anything not
 * listed) is the text; `https` is an AWS Chatbot custom notification (Slack, Microsoft Teams), whose
 * `metadata.additionalContext` carries the facts for a plain webhook too; `sqs` and `lambda` are the facts as JSON.
 *
 * Secrets never reach a message: every free text (causes, details) goes through {@link maskSecrets}, whose patterns
 * run in linear time, before it is cut; every text is cut so that the whole publish stays within SNS's limits.
 */

/** SNS's limit of a whole publish (message, subject and attributes), bytes. */
export const SNS_MAX_PUBLISH_BYTES = 262_144;

/** What this formatter lets the message itself take: the rest is left for the subject and the attributes. */
export const MAX_MESSAGE_BYTES = 240_000;

/** Longest subject (SNS accepts 100 characters; kept under). */
export const MAX_SUBJECT_LENGTH = 99;

/** Longest cause a message carries, characters (the report keeps the whole cause). */
export const MAX_CAUSE_LENGTH = 4000;

/** Message attributes of every notification, in this order; each is a String attribute, never empty. */
export const NOTIFICATION_ATTRIBUTES = ['workflow', 'status', 'source', 'region', 'execution', 'reportKey', 'failedAt'] as const;

/** The name of one message attribute. */
export type NotificationAttribute = (typeof NOTIFICATION_ATTRIBUTES)[number];

/** The value of an attribute that does not apply (SNS refuses empty strings). */
export const NOT_APPLICABLE = 'none';

/** A fact of the details: text, number, boolean, or a list or record of them (the text body writes those as JSON). */
export type NotificationDetail = string | number | boolean | readonly NotificationDetail[] | { readonly [name: string]: NotificationDetail };

/** What a notification is about. */
export interface NotificationFacts {
  /** `backup`, `recovery-test`, `failover`, `cleanup`: the `workflow` attribute. */
  readonly workflow: string;
  /** The workflow as a person reads it: `backup`, `recovery test`, `failover rehearsal`, `FAILOVER`. */
  readonly what: string;
  readonly status: 'SUCCEEDED' | 'FAILED' | 'TIMED_OUT' | 'ABORTED';
  /** The source name (`postgres/<source>/…`). */
  readonly source: string;
  /** The execution's ARN; its region and account say where the run was, and give the console link. */
  readonly executionId: string;
  /** Where the run's report is, when it was written. */
  readonly report?: { readonly bucket: string; readonly key: string };
  /** The step the run stopped at, e.g. `restore`. */
  readonly failedAt?: string;
  /** Why it failed (any length; masked and cut here). */
  readonly cause?: string;
  /** What to do next, one sentence or a few. */
  readonly nextStep: string;
  /** The workflow's own facts (data age, RTO, endpoint, …), in this order. */
  readonly details?: Readonly<Record<string, NotificationDetail | undefined>>;
}

/** What to publish: the subject, the message (a `MessageStructure: json` document) and the message attributes. */
export interface FormattedNotification {
  readonly subject: string;
  /** JSON text: `{ default, https, sqs, lambda }`. */
  readonly message: string;
  readonly attributes: Readonly<Record<NotificationAttribute, string>>;
}

/** Where an execution ran, from its ARN `arn:<partition>:states:<region>:<account>:execution:<machine>:<name>`. */
export interface ExecutionPlace {
  readonly partition: string;
  readonly region: string;
  readonly account: string;
}

/** The partition, region and account of an execution ARN; undefined when it is not one. */
export function executionPlace(executionId: string): ExecutionPlace | undefined {
  const parts = executionId.split(':');
  if (parts.length < 8 || parts[0] !== 'arn' || parts[2] !== 'states' || parts[3] === '' || parts[4] === '') return undefined;
  return { partition: parts[1], region: parts[3], account: parts[4] };
}

/** The Step Functions console page of an execution; undefined when `executionId` is not an execution ARN. */
export function executionConsoleUrl(executionId: string): string | undefined {
  const place = executionPlace(executionId);
  if (!place) return undefined;
  const host =
    place.partition === 'aws-cn'
      ? 'console.amazonaws.cn'
      : place.partition === 'aws-us-gov'
        ? 'console.amazonaws-us-gov.com'
        : `${place.region}.console.aws.amazon.com`;
  return `https://${host}/states/home?region=${place.region}#/v2/executions/details/${encodeURIComponent(executionId)}`;
}

// Every pattern below is linear: each starts with a literal (or a bounded run) and each repetition is followed by a
// character its class excludes, so no attempt backtracks, and an attempt that fails has scanned only what a later
// attempt cannot start in. The global flag resumes after each match, so every character is scanned a bounded number
// of times whatever the input.
const SECRET_PATTERNS: ReadonlyArray<readonly [RegExp, string]> = [
  // Authorization: Bearer …
  [/(bearer\s)[A-Za-z0-9._~+/=-]+/gi, '$1***'],
  // user:password@ in a URL (postgres://app:secret@host/db)
  [/:\/\/([^\s:/@]*):[^\s/@]*@/g, '://$1:***@'],
  // password=…, "password": "…", PGPASSWORD=…, token: …, secret_access_key = …, api-key=…
  [
    /(secret[_-]?access[_-]?key|access[_-]?key[_-]?id|access[_-]?key|api[_-]?key|password|passwd|pwd|secret|token|authorization|credentials?)("?\s*[=:]\s*)(?:"[^"]*"?|'[^']*'?|[^\s,;&"'}]+)/gi,
    '$1$2***',
  ],
  // AWS access key ids
  [/\b(?:AKIA|ASIA)[A-Z0-9]{16}\b/g, '***'],
];

/**
 * `text` with what looks like a credential replaced by `***`: the password of a URL, the value after `password`,
 * `secret`, `token`, `api key`, `access key` (`=` or `:`, quoted or not), bearer tokens and AWS access key ids. Runs in
 * time linear in the length of `text`.
 */
export function maskSecrets(text: string): string {
  let masked = text;
  for (const [pattern, replacement] of SECRET_PATTERNS) masked = masked.replace(pattern, replacement);
  return masked;
}

/** `text` cut to `max` characters (never inside a surrogate pair), saying it was cut. */
export function cutText(text: string, max: number, where = 'the report has all of it'): string {
  if (text.length <= max) return text;
  const note = ` … (cut: ${where})`;
  let end = Math.max(0, max - note.length);
  const code = text.charCodeAt(end - 1);
  if (code >= 0xd800 && code <= 0xdbff) end -= 1;
  return `${text.slice(0, end)}${note}`;
}

/** Control characters other than newline and tab become spaces (they would only grow the JSON and garble mail). */
function printable(text: string): string {
  // eslint-disable-next-line no-control-regex -- matching control characters is the point
  return text.replace(/[\u0000-\u0008\u000b-\u001f\u007f]/g, ' ');
}

/** `text` as an SNS subject: printable ASCII (anything else becomes `?`), at most {@link MAX_SUBJECT_LENGTH} characters. */
export function asciiSubject(text: string): string {
  return text.replace(/[^\x20-\x7e]/g, '?').slice(0, MAX_SUBJECT_LENGTH);
}

/**
 * `cdk-backup-dr FAILED: recovery test of <source> in <region> at <step>`: the status and the workflow first, then
 * the source (shortened with `...` when the whole would not fit), the region, and the failed step when it fits.
 */
export function notificationSubject(facts: Pick<NotificationFacts, 'status' | 'what' | 'source' | 'executionId' | 'failedAt'>): string {
  const region = executionPlace(facts.executionId)?.region;
  const head = `cdk-backup-dr ${facts.status}: ${facts.what} of `;
  const where = region ? ` in ${region}` : '';
  const room = MAX_SUBJECT_LENGTH - head.length - where.length;
  const source = facts.source.length <= room ? facts.source : `${facts.source.slice(0, Math.max(1, room - 3))}...`;
  const base = `${head}${source}${where}`;
  const step = facts.failedAt ? ` at ${facts.failedAt}` : '';
  return asciiSubject(base.length + step.length <= MAX_SUBJECT_LENGTH ? `${base}${step}` : base);
}

function detailText(value: NotificationDetail): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/** Longest list a detail keeps (the report has every item). */
const MAX_DETAIL_ITEMS = 20;

/** `value` with every text masked, printable and cut to `maxText`, lists cut to {@link MAX_DETAIL_ITEMS}. */
function cleanDetail(value: NotificationDetail, maxText: number, depth = 0): NotificationDetail {
  if (typeof value === 'string') return cutText(printable(maskSecrets(value)), maxText);
  if (typeof value !== 'object' || value === null) return value;
  if (depth > 3) return cutText(printable(maskSecrets(JSON.stringify(value))), maxText);
  if (Array.isArray(value)) return (value as readonly NotificationDetail[]).slice(0, MAX_DETAIL_ITEMS).map((item) => cleanDetail(item, maxText, depth + 1));
  return Object.fromEntries(
    Object.entries(value as Record<string, NotificationDetail>)
      .slice(0, MAX_DETAIL_ITEMS)
      .map(([name, item]) => [name, cleanDetail(item, maxText, depth + 1)]),
  );
}

/** The details with masked, printable, cut texts; undefined ones left out. */
function cleanDetails(details: NotificationFacts['details'], maxEach: number): Array<[string, NotificationDetail]> {
  const out: Array<[string, NotificationDetail]> = [];
  for (const [name, value] of Object.entries(details ?? {})) {
    if (value !== undefined) out.push([name, cleanDetail(value, maxEach)]);
  }
  return out;
}

function build(facts: NotificationFacts, causeLength: number, detailLength: number): FormattedNotification {
  const place = executionPlace(facts.executionId);
  const subject = notificationSubject(facts);
  const cause = facts.cause !== undefined ? cutText(printable(maskSecrets(facts.cause)), causeLength) : undefined;
  const nextStep = cutText(printable(maskSecrets(facts.nextStep)), 2000);
  const details = cleanDetails(facts.details, detailLength);
  const console = executionConsoleUrl(facts.executionId);
  const report = facts.report ? `s3://${facts.report.bucket}/${facts.report.key}` : undefined;
  const where = place ? `${place.region} (account ${place.account})` : 'unknown region';

  const lines = [
    `${facts.status}: ${facts.what} of ${facts.source} in ${where}`,
    '',
    ...(facts.failedAt ? [`What failed: ${facts.failedAt}`] : []),
    ...(cause !== undefined ? [`Cause: ${cause}`] : []),
    `Report: ${report ?? 'none was written'}`,
    `Execution: ${console ?? facts.executionId}`,
    `Next step: ${nextStep}`,
    ...(details.length > 0 ? ['', 'Details:', ...details.map(([name, value]) => `  ${name}: ${detailText(value)}`)] : []),
  ];
  const text = lines.join('\n');

  const json = {
    workflow: facts.workflow,
    status: facts.status,
    what: facts.what,
    source: facts.source,
    ...(place ? { region: place.region, account: place.account } : {}),
    executionId: facts.executionId,
    ...(console ? { console } : {}),
    ...(report ? { report } : {}),
    ...(facts.failedAt ? { failedAt: facts.failedAt } : {}),
    ...(cause !== undefined ? { cause } : {}),
    nextStep,
    ...Object.fromEntries(details),
  };
  const chatbot = {
    version: '1.0',
    source: 'custom',
    content: {
      textType: 'client-markdown',
      title: subject,
      description: [
        ...(facts.failedAt ? [`*What failed:* ${facts.failedAt}`] : []),
        ...(cause !== undefined ? [`*Cause:* ${cause}`] : []),
        `*Report:* ${report ?? 'none was written'}`,
        `*Execution:* ${console ?? facts.executionId}`,
      ].join('\n'),
      nextSteps: [nextStep],
      keywords: [facts.workflow, facts.status, facts.source],
    },
    metadata: {
      summary: subject,
      eventType: `cdk-backup-dr:${facts.workflow}:${facts.status}`,
      additionalContext: Object.fromEntries(Object.entries(json).map(([name, value]) => [name, detailText(value as NotificationDetail)])),
    },
  };
  const factsJson = JSON.stringify(json);
  const message = JSON.stringify({ default: text, https: JSON.stringify(chatbot), sqs: factsJson, lambda: factsJson });
  const attributes: Record<NotificationAttribute, string> = {
    workflow: facts.workflow,
    status: facts.status,
    source: facts.source,
    region: place?.region ?? NOT_APPLICABLE,
    execution: facts.executionId,
    reportKey: facts.report?.key ?? NOT_APPLICABLE,
    failedAt: facts.failedAt ?? NOT_APPLICABLE,
  };
  return { subject, message, attributes };
}

/** UTF-8 bytes of `text`. */
function utf8Bytes(text: string): number {
  return Buffer.byteLength(text, 'utf8');
}

/**
 * The notification of `facts`. The cause is masked and cut to {@link MAX_CAUSE_LENGTH} characters (each detail text to
 * 1000); when the message would still exceed {@link MAX_MESSAGE_BYTES} (many multi-byte or escaped characters) they
 * are cut further until it fits.
 */
export function formatNotification(facts: NotificationFacts): FormattedNotification {
  let causeLength = MAX_CAUSE_LENGTH;
  let detailLength = 1000;
  for (;;) {
    const formatted = build(facts, causeLength, detailLength);
    if (utf8Bytes(formatted.message) <= MAX_MESSAGE_BYTES || (causeLength <= 100 && detailLength <= 100)) return formatted;
    causeLength = Math.max(100, Math.floor(causeLength / 2));
    detailLength = Math.max(100, Math.floor(detailLength / 2));
  }
}

/** The text body (`default`) of a formatted message: what email subscribers read. */
export function notificationText(formatted: Pick<FormattedNotification, 'message'>): string {
  return (JSON.parse(formatted.message) as { default: string }).default;
}

/** The facts (`sqs` / `lambda` body) of a formatted message, parsed: what machines read. */
export function notificationJson(formatted: Pick<FormattedNotification, 'message'>): Record<string, unknown> {
  return JSON.parse((JSON.parse(formatted.message) as { sqs: string }).sqs) as Record<string, unknown>;
}
