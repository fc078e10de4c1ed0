/**
 * Unreported-end handler: the target of the EventBridge rules that match a workflow execution that TIMED_OUT or was
 * ABORTED. One function per stack serves every workflow of it, so what it knows of the workflow comes with the event:
 * the rule's input is `{ topicArn, facts: { workflow, what, source, afterwards }, detail: <the event's detail> }`
 * (no secrets). Formats the end (./unreported-end, the one formatter) and publishes it to `topicArn` like the
 * workflows' own notifications: one body per protocol (`MessageStructure: json`) and the message attributes.
 */
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { logger } from '../common/logger';
import { expectObject, expectString } from '../common/validate';
import { NOTIFICATION_ATTRIBUTES } from './notification';
import { type UnreportedEndFacts, parseUnreportedEnd, unreportedEndNotification } from './unreported-end';

const sns = new SNSClient({});

/** What the handler returns. */
export interface UnreportedEndOutput {
  readonly messageId: string;
  readonly subject: string;
}

/** The validated input of one invocation. */
export interface UnreportedEndInput {
  readonly topicArn: string;
  readonly facts: UnreportedEndFacts;
}

/**
 * Validates the rule's input besides the event detail. @throws InvalidInput naming the field
 */
export function parseUnreportedEndInput(input: unknown): UnreportedEndInput {
  const event = expectObject(input, 'input');
  const topicArn = expectString(event.topicArn, 'input.topicArn', /^arn:[^:]+:sns:[^:]+:[^:]+:[^:]+$/, 'must be an SNS topic ARN');
  const facts = expectObject(event.facts, 'input.facts');
  return {
    topicArn,
    facts: {
      workflow: expectString(facts.workflow, 'input.facts.workflow'),
      what: expectString(facts.what, 'input.facts.what'),
      source: expectString(facts.source, 'input.facts.source'),
      afterwards: expectString(facts.afterwards, 'input.facts.afterwards'),
    },
  };
}

/**
 * Lambda entry point: everything is validated before the one publish.
 *
 * @throws InvalidInput when the input misses a field or the detail is not a TIMED_OUT or ABORTED status change
 */
export async function handler(input: unknown): Promise<UnreportedEndOutput> {
  const { topicArn, facts } = parseUnreportedEndInput(input);
  const end = parseUnreportedEnd(input);
  const formatted = unreportedEndNotification(end, facts);
  const out = await sns.send(
    new PublishCommand({
      TopicArn: topicArn,
      Subject: formatted.subject,
      Message: formatted.message,
      MessageStructure: 'json',
      MessageAttributes: Object.fromEntries(NOTIFICATION_ATTRIBUTES.map((name) => [name, { DataType: 'String', StringValue: formatted.attributes[name] }])),
    }),
  );
  logger.info('unreported end notified', { workflow: facts.workflow, status: end.status, execution: end.executionArn });
  return { messageId: out.MessageId ?? '', subject: formatted.subject };
}
