/**
 * The unreported-end handler against moto's SNS: a TIMED_OUT execution's event, as the rule's input carries it
 * (`{ topicArn, facts, detail }`), is published as the formatter's message (subject, one body per protocol,
 * attributes), read back from a subscribed queue. An input it cannot use publishes nothing.
 */
import { handler } from '../../../lambda/reporting/unreported-end.handler';
import { createTopic, subscribeSnsInbox, type SnsInbox } from '../../support/moto';

const EXECUTION = 'arn:aws:states:us-east-1:123456789012:execution:BackupWorkflowStateMachine:nightly-7';
const FACTS = { workflow: 'backup', what: 'backup', source: 'orders-db', afterwards: 'A multipart upload may remain open: the bucket lifecycle aborts it.' };
let topicArn: string;
let inbox: SnsInbox;

beforeAll(async () => {
  topicArn = await createTopic();
  inbox = await subscribeSnsInbox(topicArn);
});

describe('unreported-end handler', () => {
  it('publishes a TIMED_OUT run with a readable subject, the next step and the attributes', async () => {
    const out = await handler({
      topicArn,
      facts: FACTS,
      detail: { status: 'TIMED_OUT', executionArn: EXECUTION, startDate: Date.parse('2026-03-01T02:00:00Z'), stopDate: Date.parse('2026-03-01T04:00:00Z'), error: 'States.Timeout' },
    });
    expect(out.subject).toBe('cdk-backup-dr TIMED_OUT: backup of orders-db in us-east-1');
    const messages = await inbox.messages();
    expect(messages).toHaveLength(1);
    const [message] = messages;
    expect(message.subject).toBe(out.subject);
    // An SQS subscriber gets the `sqs` body: the facts as JSON.
    expect(JSON.parse(message.message)).toMatchObject({
      workflow: 'backup',
      status: 'TIMED_OUT',
      source: 'orders-db',
      executionId: EXECUTION,
      cause: 'States.Timeout',
      durationSeconds: 7200,
      nextStep: expect.stringMatching(/^The backup run exceeded its state machine's timeout.*A multipart upload may remain open/),
    });
    expect(message.attributes).toMatchObject({ workflow: { Type: 'String', Value: 'backup' }, status: { Type: 'String', Value: 'TIMED_OUT' }, execution: { Type: 'String', Value: EXECUTION } });
  });

  it('refuses a FAILED status change (the workflow notified that one itself) and publishes nothing', async () => {
    await expect(handler({ topicArn, facts: FACTS, detail: { status: 'FAILED', executionArn: EXECUTION } })).rejects.toThrow(/event\.detail\.status must be one of 'TIMED_OUT', 'ABORTED'/);
    expect(await inbox.messages()).toHaveLength(1);
  });

  it('says which field of the input is missing and publishes nothing', async () => {
    await expect(handler({ topicArn, facts: { workflow: 'backup' }, detail: { status: 'ABORTED', executionArn: EXECUTION } })).rejects.toThrow(/input\.facts\.what must be a non-empty string/);
    await expect(handler({ topicArn: 'orders', facts: FACTS, detail: { status: 'ABORTED', executionArn: EXECUTION } })).rejects.toThrow(/input\.topicArn/);
    expect(await inbox.messages()).toHaveLength(1);
  });
});
