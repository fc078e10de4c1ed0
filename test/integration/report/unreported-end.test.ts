/**
 * The unreported-end handler against moto's SNS: a TIMED_OUT execution's EventBridge event is published as the
 * formatter's message (subject, one body per protocol, attributes), read back from a subscribed queue.
 */
import { handler } from '../../../lambda/reporting/unreported-end.handler';
import { createTopic, subscribeSnsInbox, type SnsInbox } from '../../support/moto';

const ENV_NAMES = ['TOPIC_ARN', 'UNREPORTED_END_FACTS'] as const;
const savedEnv = Object.fromEntries(ENV_NAMES.map((name) => [name, process.env[name]]));
const EXECUTION = 'arn:aws:states:us-east-1:123456789012:execution:BackupWorkflowStateMachine:nightly-7';
let inbox: SnsInbox;

beforeAll(async () => {
  const topicArn = await createTopic();
  inbox = await subscribeSnsInbox(topicArn);
  process.env.TOPIC_ARN = topicArn;
  process.env.UNREPORTED_END_FACTS = JSON.stringify({ workflow: 'backup', what: 'backup', source: 'orders-db', afterwards: 'A multipart upload may remain open: the bucket lifecycle aborts it.' });
});

afterAll(() => {
  for (const name of ENV_NAMES) {
    if (savedEnv[name] === undefined) delete process.env[name];
    else process.env[name] = savedEnv[name];
  }
});

describe('unreported-end handler', () => {
  it('publishes a TIMED_OUT run with a readable subject, the next step and the attributes', async () => {
    const out = await handler({
      source: 'aws.states',
      'detail-type': 'Step Functions Execution Status Change',
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
    await expect(handler({ detail: { status: 'FAILED', executionArn: EXECUTION } })).rejects.toThrow(/event\.detail\.status must be one of 'TIMED_OUT', 'ABORTED'/);
    expect(await inbox.messages()).toHaveLength(1);
  });

  it('says which configuration is missing', async () => {
    const saved = process.env.UNREPORTED_END_FACTS;
    process.env.UNREPORTED_END_FACTS = '{"workflow":"backup"}';
    try {
      await expect(handler({ detail: { status: 'ABORTED', executionArn: EXECUTION } })).rejects.toThrow(/UNREPORTED_END_FACTS: UNREPORTED_END_FACTS\.what must be a non-empty string/);
    } finally {
      process.env.UNREPORTED_END_FACTS = saved;
    }
  });
});
