import { MAX_SUBJECT_LENGTH, notificationJson, notificationText } from '../../../lambda/reporting/notification';
import { parseUnreportedEnd, unreportedEndNotification } from '../../../lambda/reporting/unreported-end';

const EXECUTION = 'arn:aws:states:eu-west-1:111111111111:execution:RecoveryTestStateMachine1A2B:weekly-42';
const FACTS = {
  workflow: 'recovery-test',
  what: 'recovery test',
  source: 'orders-db',
  afterwards: 'A scratch database (cdkbdr-rt-…) and secret of this execution may remain: the ScratchSweeper deletes them, or delete them by hand.',
};

/** A "Step Functions Execution Status Change" event as EventBridge delivers it. */
function event(detail: Record<string, unknown>): unknown {
  return {
    version: '0',
    'detail-type': 'Step Functions Execution Status Change',
    source: 'aws.states',
    account: '111111111111',
    region: 'eu-west-1',
    detail: {
      executionArn: EXECUTION,
      stateMachineArn: 'arn:aws:states:eu-west-1:111111111111:stateMachine:RecoveryTestStateMachine1A2B',
      name: 'weekly-42',
      startDate: Date.parse('2026-03-01T03:00:00Z'),
      stopDate: Date.parse('2026-03-01T05:00:00Z'),
      input: '{"selection":{"latest":true}}',
      output: null,
      ...detail,
    },
  };
}

describe('timed-out and aborted runs, through the formatter', () => {
  it('TIMED_OUT: a readable subject with the region, the next step with what may remain, no report', () => {
    const n = unreportedEndNotification(parseUnreportedEnd(event({ status: 'TIMED_OUT', error: 'States.Timeout', cause: null })), FACTS);
    expect(n.subject).toBe('cdk-backup-dr TIMED_OUT: recovery test of orders-db in eu-west-1');
    expect(n.subject.length).toBeLessThanOrEqual(MAX_SUBJECT_LENGTH);
    const text = notificationText(n);
    expect(text).toContain('Cause: States.Timeout');
    expect(text).toContain('Report: none was written');
    expect(text).toContain(`Execution: https://eu-west-1.console.aws.amazon.com/states/home?region=eu-west-1#/v2/executions/details/${encodeURIComponent(EXECUTION)}`);
    expect(text).toMatch(/Next step: The recovery test run exceeded its state machine's timeout and was stopped: it wrote no report and did not clean up after itself\. A scratch database \(cdkbdr-rt-…\)/);
    const json = notificationJson(n);
    expect(json).toMatchObject({ workflow: 'recovery-test', status: 'TIMED_OUT', source: 'orders-db', region: 'eu-west-1', startedAt: '2026-03-01T03:00:00.000Z', stoppedAt: '2026-03-01T05:00:00.000Z', durationSeconds: 7200 });
    expect(n.attributes).toMatchObject({ workflow: 'recovery-test', status: 'TIMED_OUT', region: 'eu-west-1', execution: EXECUTION, reportKey: 'none', failedAt: 'none' });
  });

  it('ABORTED: says it was stopped by hand; the chat body carries the same subject and next step', () => {
    const n = unreportedEndNotification(parseUnreportedEnd(event({ status: 'ABORTED' })), { ...FACTS, workflow: 'backup', what: 'backup', afterwards: 'Nothing remains to delete.' });
    expect(n.subject).toBe('cdk-backup-dr ABORTED: backup of orders-db in eu-west-1');
    expect(notificationJson(n)).toMatchObject({ cause: 'stopped by hand (StopExecution)', nextStep: expect.stringMatching(/^The backup run was stopped by hand \(ABORTED\).*Nothing remains to delete\. Then start a new run/) });
    const chat = JSON.parse((JSON.parse(n.message) as { https: string }).https) as { content: { title: string; nextSteps: string[] } };
    expect(chat.content.title).toBe(n.subject);
    expect(chat.content.nextSteps[0]).toMatch(/stopped by hand/);
  });

  it('never shows a secret from the execution\'s cause, and keeps a long source within the subject limit', () => {
    const n = unreportedEndNotification(
      parseUnreportedEnd(event({ status: 'TIMED_OUT', error: 'States.Timeout', cause: 'connect postgres://app:hunter2@db:5432/orders password=hunter2' })),
      { ...FACTS, source: 'x'.repeat(200) },
    );
    expect(n.message).not.toContain('hunter2');
    expect(n.subject.length).toBeLessThanOrEqual(MAX_SUBJECT_LENGTH);
    expect(n.subject).toMatch(/^cdk-backup-dr TIMED_OUT: recovery test of x+\.\.\. in eu-west-1$/);
  });

  it('refuses an event of another status or without an execution ARN, naming the field', () => {
    expect(() => parseUnreportedEnd(event({ status: 'FAILED' }))).toThrow(/event\.detail\.status must be one of 'TIMED_OUT', 'ABORTED'/);
    expect(() => parseUnreportedEnd(event({ status: 'ABORTED', executionArn: 'weekly-42' }))).toThrow(/event\.detail\.executionArn must be an execution ARN/);
    expect(() => parseUnreportedEnd({ detail: null })).toThrow(/event\.detail must be an object/);
    expect(() => unreportedEndNotification(parseUnreportedEnd(event({ status: 'ABORTED' })), { ...FACTS, source: '' })).toThrow(/source must be a non-empty string/);
  });
});
