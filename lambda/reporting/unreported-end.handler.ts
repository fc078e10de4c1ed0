/**
 * Unreported-end handler: the target of the EventBridge rule that matches a workflow execution that TIMED_OUT or was
 * ABORTED. Formats the event (./unreported-end, the one formatter) and publishes it to TOPIC_ARN like the workflows'
 * own notifications: one body per protocol (`MessageStructure: json`) and the message attributes. What it knows of the
 * workflow comes from UNREPORTED_END_FACTS (JSON: `{ workflow, what, source, afterwards }`; no secrets).
 */
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { InvalidInput, MissingConfiguration, requireEnv } from '../common/errors';
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

/** Validates UNREPORTED_END_FACTS. @throws MissingConfiguration naming the field */
export function parseUnreportedEndFacts(json: string): UnreportedEndFacts {
  try {
    const facts = expectObject(JSON.parse(json) as unknown, 'UNREPORTED_END_FACTS');
    return {
      workflow: expectString(facts.workflow, 'UNREPORTED_END_FACTS.workflow'),
      what: expectString(facts.what, 'UNREPORTED_END_FACTS.what'),
      source: expectString(facts.source, 'UNREPORTED_END_FACTS.source'),
      afterwards: expectString(facts.afterwards, 'UNREPORTED_END_FACTS.afterwards'),
    };
  } catch (error) {
    if (error instanceof InvalidInput || error instanceof SyntaxError) throw new MissingConfiguration(`UNREPORTED_END_FACTS: ${error.message}`);
    throw error;
  }
}

/** Lambda entry point. @throws InvalidInput when the event is not a TIMED_OUT or ABORTED status change */
export async function handler(event: unknown): Promise<UnreportedEndOutput> {
  const topicArn = requireEnv('TOPIC_ARN');
  const facts = parseUnreportedEndFacts(requireEnv('UNREPORTED_END_FACTS'));
  const end = parseUnreportedEnd(event);
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
