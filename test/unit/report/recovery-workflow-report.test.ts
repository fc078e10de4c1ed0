import { InvalidInput } from '../../../lambda/common/errors';
import {
  CollectedRunState,
  parseCollectedState,
  parseEmulated,
  reportChecks,
  reportHandlerResult,
  secondsBetween,
  stepFailureReason,
  verificationFailure,
} from '../../../lambda/reporting/recovery-workflow-report';
import { executionFields, parseReportEnvelope, reportedError } from '../../../lambda/reporting/run-report';
import { asciiSubject } from '../../../lambda/reporting/notification';

const EXECUTION = 'arn:aws:states:us-east-1:111111111111:execution:RecoveryTest:weekly-2024-05-05';
const envelope = { workflow: 'recovery-test', executionId: EXECUTION, startedAt: '2024-05-05T05:00:00Z' };

function refuses(parse: () => unknown, message: RegExp): void {
  expect(parse).toThrow(InvalidInput);
  expect(parse).toThrow(message);
}

describe('parseReportEnvelope', () => {
  it('names the execution from its ARN unless given, and normalizes the start', () => {
    const { input, execution } = parseReportEnvelope({ ...envelope, kind: 'dump' }, 'recovery-test');
    expect(execution).toEqual({ executionId: EXECUTION, executionName: 'weekly-2024-05-05', startedAt: '2024-05-05T05:00:00.000Z' });
    expect(input.kind).toBe('dump');
    expect(parseReportEnvelope({ ...envelope, executionName: 'given' }, 'recovery-test').execution.executionName).toBe('given');
  });

  it.each<[unknown, RegExp]>([
    [[], /^event must be an object; got an array$/],
    [{ ...envelope, workflow: 'backup' }, /^workflow must be one of 'recovery-test'; got "backup"$/],
    [{ ...envelope, executionId: undefined }, /^executionId must be a non-empty string; got nothing$/],
    [{ ...envelope, executionName: '' }, /^executionName must be a non-empty string; got ""$/],
    [{ ...envelope, startedAt: 'yesterday' }, /^startedAt must be an ISO-8601 timestamp such as 2024-01-31T02:00:00Z; got "yesterday"$/],
  ])('refuses %j', (event, message) => {
    refuses(() => parseReportEnvelope(event, 'recovery-test'), message);
  });
});

describe('parseCollectedState', () => {
  const parse = (state: unknown) => parseCollectedState<CollectedRunState>(state, ['plan', 'verify']);

  it('keeps every field, drops null step results and reads the errors and the cleanup', () => {
    const state = parse({
      input: 'as given',
      plan: { dryRun: true },
      verify: null,
      error: { Error: 'States.TaskFailed', Cause: 'c' },
      cleanup: [{ what: 'database', status: 'gone' }],
      cleanupError: { Error: 'States.Timeout' },
    });
    expect(state).toEqual({
      input: 'as given',
      plan: { dryRun: true },
      error: { Error: 'States.TaskFailed', Cause: 'c' },
      cleanup: [{ what: 'database', status: 'gone' }],
      cleanupError: { Error: 'States.Timeout' },
    });
    expect(state.verify).toBeUndefined();
    expect(parse({ error: null, cleanupError: null })).toEqual({});
  });

  it('checks only the step results it is given', () => {
    expect(parse({ selection: 'latest' }).selection).toBe('latest');
  });

  it.each<[unknown, RegExp]>([
    ['x', /^state must be an object; got "x"$/],
    [{ cleanup: {} }, /^state.cleanup must be the array the cleanup Parallel returns$/],
    [{ cleanup: [{}, 'gone'] }, /^state.cleanup\[1\] must be an object; got "gone"$/],
    [{ plan: 'x' }, /^state.plan must be an object; got "x"$/],
    [{ verify: [] }, /^state.verify must be an object; got an array$/],
    [{ error: 'boom' }, /^state.error must be an object; got "boom"$/],
    [{ error: { Cause: 'x' } }, /^state.error.Error must be a non-empty string; got nothing$/],
    [{ error: { Error: 'E', Cause: 42 } }, /^state.error.Cause must be a string$/],
    [{ cleanupError: { Error: '' } }, /^state.cleanupError.Error must be a non-empty string; got ""$/],
    [{ cleanupError: { Error: 'E', Cause: {} } }, /^state.cleanupError.Cause must be a string$/],
  ])('refuses %j', (state, message) => {
    refuses(() => parse(state), message);
  });

  it('refuses a bad cleanup before a bad step result, as the event reads', () => {
    refuses(() => parse({ plan: 'x', cleanup: 'y' }), /^state.cleanup must be the array/);
  });
});

describe('parseEmulated', () => {
  it('is empty when absent and the list when given', () => {
    expect(parseEmulated(undefined)).toEqual([]);
    expect(parseEmulated(['moto has no RDS waiters'])).toEqual(['moto has no RDS waiters']);
  });

  it.each<[unknown]>([['yes'], [[1]], [null]])('refuses %j', (value) => {
    refuses(() => parseEmulated(value), /^emulated must be an array of strings$/);
  });
});

describe('report fields', () => {
  it('cuts a long cause and leaves a short or absent one', () => {
    expect(reportedError({ Error: 'E', Cause: 'c'.repeat(9000) }).cause).toBe(`${'c'.repeat(8192)}… (truncated)`);
    expect(reportedError({ Error: 'E', Cause: 'short' })).toEqual({ error: 'E', cause: 'short' });
    expect(reportedError({ Error: 'E' })).toEqual({ error: 'E' });
  });

  it('says which step failed with what', () => {
    expect(stepFailureReason('restore', { Error: 'RestoreFailed', Cause: JSON.stringify({ errorMessage: 'pg_restore exited 1' }) })).toBe(
      'restore failed with RestoreFailed: pg_restore exited 1',
    );
    expect(stepFailureReason('wait', { Error: 'States.Timeout' })).toBe('wait failed with States.Timeout');
  });

  it('reads the checks and says why the verification fails the run', () => {
    const verify = { passed: false, checks: [{ name: 'rows', passed: false, detail: '3 != 4', expected: 4, actual: 3 }, 'junk', { name: 'q', passed: true }] };
    const checks = reportChecks(verify);
    expect(checks).toEqual([
      { name: 'rows', passed: false, expected: 4, actual: 3, detail: '3 != 4' },
      { name: 'q', passed: true },
    ]);
    expect(verificationFailure(verify, checks, false)).toBe('verification failed 1 of 2 checks: rows (3 != 4)');
    expect(verificationFailure({ passed: false }, [], false)).toBe('verification failed 0 of 0 checks: ');
    expect(verificationFailure({ passed: true, checks: [] }, [], false)).toBeUndefined();
    expect(verificationFailure(undefined, [], false)).toBe('the verification did not run');
    expect(verificationFailure(undefined, [], true)).toBeUndefined();
  });

  it('dates the run and measures it to the hundredth of a second', () => {
    const execution = { executionId: EXECUTION, executionName: 'weekly-2024-05-05', startedAt: '2024-05-05T05:00:00.000Z' };
    expect(executionFields(execution, new Date('2024-05-05T05:20:00.125Z'))).toEqual({
      ...execution,
      finishedAt: '2024-05-05T05:20:00.125Z',
      durationSeconds: 1200.13,
    });
    expect(secondsBetween('2024-05-05T05:00:00Z', '2024-05-05T05:00:01.5Z')).toBe(1.5);
    expect(secondsBetween('2024-05-05T05:00:01Z', '2024-05-05T05:00:00Z')).toBe(0);
    expect(secondsBetween(undefined, '2024-05-05T05:00:00Z')).toBeUndefined();
  });

  it('keeps an SNS subject printable ASCII and under 100 characters', () => {
    expect(asciiSubject('ok: ünï')).toBe('ok: ?n?');
    expect(asciiSubject('x'.repeat(150))).toHaveLength(99);
  });

  it('returns the handler result with the reasons as the Fail cause', () => {
    const attributes = { workflow: 'recovery-test', status: 'FAILED', source: 'prod', region: 'us-east-1', execution: EXECUTION, reportKey: 'k', failedAt: 'none' };
    const notification = { subject: 's', message: '{}', attributes };
    expect(reportHandlerResult({ status: 'FAILED', failureReasons: ['a', 'b'] }, { reportKey: 'k', versionId: 'v1' }, notification)).toEqual({
      status: 'FAILED',
      reportKey: 'k',
      versionId: 'v1',
      subject: 's',
      message: '{}',
      attributes,
      cause: 'a; b',
    });
    const long = reportHandlerResult({ status: 'FAILED', failureReasons: ['r'.repeat(40_000)] }, { reportKey: 'k' }, notification);
    expect(long.cause).toHaveLength(32_000);
    expect(long).not.toHaveProperty('versionId');
  });
});
