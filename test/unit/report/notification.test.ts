import {
  MAX_CAUSE_LENGTH,
  MAX_MESSAGE_BYTES,
  NOTIFICATION_ATTRIBUTES,
  SNS_MAX_PUBLISH_BYTES,
  cutText,
  executionConsoleUrl,
  formatNotification,
  maskSecrets,
  notificationJson,
  notificationText,
  type NotificationFacts,
} from '../../../lambda/reporting/notification';
import { judgeRto, parseRtoTarget } from '../../../lambda/reporting/recovery-workflow-report';

const EXECUTION = 'arn:aws:states:eu-west-1:111111111111:execution:RecoveryTest:weekly-2026-12-06';

const facts: NotificationFacts = {
  workflow: 'recovery-test',
  what: 'recovery test',
  status: 'FAILED',
  source: 'orders-db',
  executionId: EXECUTION,
  report: { bucket: 'backups-1', key: 'reports/recovery-test/2026/12/06/20261206T050000.000Z-weekly.json' },
  failedAt: 'restore',
  cause: 'restore failed with RestoreFailed: pg_restore exited with 1',
  nextStep: 'Read the pg_restore error in the report.',
  details: { rtoSeconds: 612.5, cleanup: 'done', checks: { total: 3, failed: 1 }, failureReasons: ['restore failed'] },
};

/** Bytes SNS counts for a publish: message, subject and attribute names and values. */
function publishBytes(n: ReturnType<typeof formatNotification>): number {
  const attributes = Object.entries(n.attributes).reduce((sum, [name, value]) => sum + Buffer.byteLength(name) + Buffer.byteLength(value) + 'String'.length, 0);
  return Buffer.byteLength(n.message) + Buffer.byteLength(n.subject) + attributes;
}

describe('formatNotification', () => {
  it('says what failed and where in a subject under 100 characters, and every fact in the text body', () => {
    const n = formatNotification(facts);
    expect(n.subject).toBe('cdk-backup-dr FAILED: recovery test of orders-db in eu-west-1 at restore');
    const text = notificationText(n);
    expect(text.split('\n')).toEqual([
      'FAILED: recovery test of orders-db in eu-west-1 (account 111111111111)',
      '',
      'What failed: restore',
      'Cause: restore failed with RestoreFailed: pg_restore exited with 1',
      'Report: s3://backups-1/reports/recovery-test/2026/12/06/20261206T050000.000Z-weekly.json',
      `Execution: https://eu-west-1.console.aws.amazon.com/states/home?region=eu-west-1#/v2/executions/details/${encodeURIComponent(EXECUTION)}`,
      'Next step: Read the pg_restore error in the report.',
      '',
      'Details:',
      '  rtoSeconds: 612.5',
      '  cleanup: done',
      '  checks: {"total":3,"failed":1}',
      '  failureReasons: ["restore failed"]',
    ]);
  });

  it('gives machines the same facts as JSON (SQS, Lambda), an AWS Chatbot notification (HTTPS) and message attributes', () => {
    const n = formatNotification(facts);
    const bodies = JSON.parse(n.message) as Record<string, string>;
    expect(Object.keys(bodies).sort()).toEqual(['default', 'https', 'lambda', 'sqs']);
    expect(bodies.lambda).toBe(bodies.sqs);
    expect(notificationJson(n)).toEqual({
      workflow: 'recovery-test',
      status: 'FAILED',
      what: 'recovery test',
      source: 'orders-db',
      region: 'eu-west-1',
      account: '111111111111',
      executionId: EXECUTION,
      console: executionConsoleUrl(EXECUTION),
      report: 's3://backups-1/reports/recovery-test/2026/12/06/20261206T050000.000Z-weekly.json',
      failedAt: 'restore',
      cause: facts.cause,
      nextStep: facts.nextStep,
      rtoSeconds: 612.5,
      cleanup: 'done',
      checks: { total: 3, failed: 1 },
      failureReasons: ['restore failed'],
    });
    const chat = JSON.parse(bodies.https) as { version: string; source: string; content: { title: string; description: string; nextSteps: string[] }; metadata: { additionalContext: Record<string, string> } };
    expect(chat).toMatchObject({ version: '1.0', source: 'custom', content: { title: n.subject, nextSteps: [facts.nextStep] } });
    expect(chat.content.description).toContain('*Report:* s3://backups-1/reports/recovery-test/');
    expect(chat.metadata.additionalContext).toMatchObject({ status: 'FAILED', failedAt: 'restore', rtoSeconds: '612.5' });
    expect(Object.keys(n.attributes)).toEqual([...NOTIFICATION_ATTRIBUTES]);
    expect(n.attributes).toEqual({
      workflow: 'recovery-test',
      status: 'FAILED',
      source: 'orders-db',
      region: 'eu-west-1',
      execution: EXECUTION,
      reportKey: facts.report?.key,
      failedAt: 'restore',
    });
  });

  it('fills attributes that do not apply (SNS refuses empty values) and shortens a long source, keeping the region', () => {
    const n = formatNotification({ ...facts, source: `very-long-source-${'x'.repeat(150)}`, report: undefined, failedAt: undefined, status: 'SUCCEEDED' });
    expect(n.attributes).toMatchObject({ reportKey: 'none', failedAt: 'none' });
    expect(n.subject.length).toBeLessThan(100);
    expect(n.subject).toMatch(/^cdk-backup-dr SUCCEEDED: recovery test of very-long-source-x+\.\.\. in eu-west-1$/);
    expect(notificationText(n)).toContain('Report: none was written');
    const unicode = formatNotification({ ...facts, source: 'bäckups-ü' });
    expect(unicode.subject).toMatch(/^[\x20-\x7e]+$/);
  });

  it('cuts a long cause (the report keeps it whole) and stays within the SNS limits, whatever the characters', () => {
    for (const filler of ['x', 'é', '😀', '"', '\u0001', '\\']) {
      const n = formatNotification({ ...facts, cause: filler.repeat(300_000), details: { huge: filler.repeat(300_000), list: Array.from({ length: 500 }, () => filler.repeat(2000)) } });
      expect(Buffer.byteLength(n.message)).toBeLessThanOrEqual(MAX_MESSAGE_BYTES);
      expect(publishBytes(n)).toBeLessThan(SNS_MAX_PUBLISH_BYTES);
      const cause = String(notificationJson(n).cause);
      expect(cause.length).toBeLessThanOrEqual(MAX_CAUSE_LENGTH);
      expect(cause).toMatch(/ … \(cut: the report has all of it\)$/);
      expect(cause).not.toMatch(/[\ud800-\udbff]$|[\ud800-\udbff] …/);
      expect(notificationText(n)).toMatch(/^Next step: Read the pg_restore error in the report\.$/m);
    }
  });

  it('never carries a secret: URL passwords, password/secret/token values, bearer tokens and access keys are masked', () => {
    const secrets = ['hunter2-Pa55', 's3cr3t!value', 'tok-123456', 'AKIAIOSFODNN7EXAMPLE', 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY', 'eyJhbGciOiJIUzI1NiJ9.e30.sig'];
    const cause = [
      `could not connect to postgres://app:${secrets[0]}@db.internal:5432/orders`,
      `PGPASSWORD=${secrets[0]} pg_dump`,
      `secret string {"username":"app","password":"${secrets[1]}"}`,
      `token: ${secrets[2]}; api_key='${secrets[2]}'`,
      `credentials ${secrets[3]} / aws_secret_access_key = ${secrets[4]}`,
      `Authorization: Bearer ${secrets[5]}`,
    ].join('\n');
    const n = formatNotification({ ...facts, cause, nextStep: `never print password=${secrets[1]}`, details: { reason: `password: ${secrets[0]}`, nested: { list: [`secret=${secrets[1]}`] } } });
    const everything = JSON.stringify(n);
    for (const secret of secrets) expect(everything).not.toContain(secret);
    const text = notificationText(n);
    expect(text).toContain('postgres://app:***@db.internal:5432/orders');
    expect(text).toContain('PGPASSWORD=***');
    expect(text).toContain('"password":***');
    expect(text).toContain('could not connect');
  });

  it('masks in linear time: adversarial inputs of 2 MB finish (each pattern backtracks over nothing)', () => {
    // Inputs that make backtracking patterns quadratic or worse: long runs after a keyword or a scheme, unclosed quotes.
    const inputs = [
      'password'.repeat(250_000),
      `password=${'"'.repeat(2_000_000)}`,
      '://'.repeat(700_000),
      `://${'a'.repeat(2_000_000)}`,
      `://a:${'b'.repeat(2_000_000)}`,
      `token${' '.repeat(2_000_000)}`,
      'Bearer '.repeat(300_000),
      'AKIA'.repeat(500_000),
    ];
    for (const input of inputs) {
      const masked = maskSecrets(input);
      expect(masked.length).toBeLessThanOrEqual(input.length + 8);
    }
  });
});

describe('cutText and executionConsoleUrl', () => {
  it('cuts with a note, never inside a surrogate pair', () => {
    expect(cutText('abc', 10)).toBe('abc');
    const cut = cutText(`${'a'.repeat(60)}😀${'b'.repeat(100)}`, 100);
    expect(cut.length).toBeLessThanOrEqual(100);
    expect(cut).toMatch(/ … \(cut: the report has all of it\)$/);
  });

  it('links the execution in its partition\'s console, and nothing for what is not an execution ARN', () => {
    expect(executionConsoleUrl('arn:aws-cn:states:cn-north-1:111111111111:execution:M:run')).toMatch(/^https:\/\/console\.amazonaws\.cn\/states\/home\?region=cn-north-1#/);
    expect(executionConsoleUrl('arn:aws-us-gov:states:us-gov-west-1:111111111111:execution:M:run')).toMatch(/^https:\/\/console\.amazonaws-us-gov\.com\//);
    expect(executionConsoleUrl('run-1')).toBeUndefined();
  });
});

describe('RTO target', () => {
  it('reads the target from the environment, enforced unless RTO_ENFORCED is false', () => {
    expect(parseRtoTarget(undefined, undefined)).toBeUndefined();
    expect(parseRtoTarget('900', undefined)).toEqual({ seconds: 900, enforced: true });
    expect(parseRtoTarget('900', 'false')).toEqual({ seconds: 900, enforced: false });
    expect(() => parseRtoTarget('soon', undefined)).toThrow(/RTO_SECONDS must be a positive number/);
    expect(() => parseRtoTarget('900', 'yes')).toThrow(/RTO_ENFORCED must be "true" or "false"/);
  });

  it('a measured RTO above the target is a failed check, and a failure reason only when enforced', () => {
    expect(judgeRto(600, { seconds: 900, enforced: true })).toEqual({
      check: { name: 'RTO within target', passed: true, expected: '<= 900 s', actual: 600, detail: 'recovered in 600 s' },
    });
    expect(judgeRto(1200, { seconds: 900, enforced: true })).toEqual({
      check: expect.objectContaining({ passed: false, actual: 1200 }),
      reason: 'the measured RTO of 1200 s exceeds the target of 900 s',
    });
    const notEnforced = judgeRto(1200, { seconds: 900, enforced: false });
    expect(notEnforced.check).toMatchObject({ passed: false, detail: expect.stringContaining('not enforced') });
    expect(notEnforced.reason).toBeUndefined();
    expect(judgeRto(undefined, { seconds: 900, enforced: true })).toEqual({});
    expect(judgeRto(1200, undefined)).toEqual({});
  });
});
