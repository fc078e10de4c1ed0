/**
 * Helpers for tests that use the harness' moto_server (the AWS emulator). Product code never imports this: it
 * reaches moto only because AWS_ENDPOINT_URL points there. The S3 client needs no `forcePathStyle`: the endpoint is
 * an IP address (127.0.0.1), and the SDK's S3 endpoint rules use path-style addressing for IP endpoints by themselves.
 *
 * @example
 * const bucket = await createTestBucket({ prefix: 'backups', versioned: true });
 * const topicArn = await createTopic('alarms');
 * const inbox = await subscribeSnsInbox(topicArn);
 * // ... run the code under test ...
 * expect((await inbox.messages()).map((m) => m.subject)).toContain('Backup failed');
 */
import { randomBytes } from 'node:crypto';
import { CreateBucketCommand, PutBucketVersioningCommand, S3Client, type BucketLocationConstraint } from '@aws-sdk/client-s3';
import { CreateTopicCommand, SNSClient, SubscribeCommand } from '@aws-sdk/client-sns';
import { awsJsonCall as emulatorJsonCall, createKmsKey as createEmulatorKey, type EmulatorKmsKey } from '../../local/emulator';
import { harnessEnv } from './env';

/** Options for {@link createTestBucket}. */
export interface CreateTestBucketOptions {
  /**
   * Start of the bucket name; a random suffix is added.
   * @default 'test'
   */
  readonly prefix?: string;
  /**
   * Turn on S3 versioning.
   * @default false
   */
  readonly versioned?: boolean;
  /**
   * Region of the bucket (a replica bucket lives in the DR region).
   * @default - AWS_REGION (us-east-1)
   */
  readonly region?: string;
}

/** Creates a bucket with a unique name and returns the name. */
export async function createTestBucket(options: CreateTestBucketOptions = {}): Promise<string> {
  const { awsRegion } = harnessEnv();
  const region = options.region ?? awsRegion;
  const prefix = (options.prefix ?? 'test').toLowerCase().replace(/[^a-z0-9-]/g, '-').slice(0, 40);
  const name = `${prefix}-${randomBytes(6).toString('hex')}`;
  const s3 = new S3Client({ region });
  try {
    await s3.send(
      new CreateBucketCommand({
        Bucket: name,
        // us-east-1 is the one region where S3 refuses an explicit location constraint.
        CreateBucketConfiguration: region === 'us-east-1' ? undefined : { LocationConstraint: region as BucketLocationConstraint },
      }),
    );
    if (options.versioned === true) {
      await s3.send(new PutBucketVersioningCommand({ Bucket: name, VersioningConfiguration: { Status: 'Enabled' } }));
    }
  } finally {
    s3.destroy();
  }
  return name;
}

/** Creates (or returns the existing) SNS topic and returns its ARN. */
export async function createTopic(name = `test-${randomBytes(6).toString('hex')}`, region?: string): Promise<string> {
  const sns = new SNSClient(region === undefined ? {} : { region });
  try {
    const { TopicArn } = await sns.send(new CreateTopicCommand({ Name: name }));
    if (TopicArn === undefined) throw new Error(`CreateTopic ${name} returned no TopicArn`);
    return TopicArn;
  } finally {
    sns.destroy();
  }
}

/** A KMS key created in moto. */
export type TestKmsKey = EmulatorKmsKey;

/** Creates a symmetric customer-managed KMS key in moto (e.g. for SSE-KMS uploads to a test bucket). */
export async function createKmsKey(description = 'cdk-backup-dr test key', region?: string): Promise<TestKmsKey> {
  const env = harnessEnv();
  return createEmulatorKey(env.awsEndpointUrl, description, region ?? env.awsRegion);
}

/** Calls an AWS JSON-protocol API on moto without an SDK client (for services the package has no client for). */
async function awsJsonCall<T>(service: 'kms' | 'sqs', target: string, body: object, region?: string): Promise<T> {
  const env = harnessEnv();
  return emulatorJsonCall<T>(env.awsEndpointUrl, service, target, body, region ?? env.awsRegion);
}

/**
 * Forgets every resource in moto (all services, accounts and regions). moto is shared by every test file of the run,
 * and jest runs files in parallel workers on machines with more than two cores: a reset in one file can delete what
 * another file is using. Prefer unique names (the helpers here generate them); reset only in test files that must
 * start from an empty emulator.
 */
export async function resetMoto(): Promise<void> {
  const response = await fetch(`${harnessEnv().awsEndpointUrl}/moto-api/reset`, { method: 'POST' });
  const body = await response.text();
  if (!response.ok) throw new Error(`moto reset failed with HTTP ${response.status}: ${body}`);
}

/** A message published to an SNS topic, as recorded by moto. */
export interface SnsMessage {
  readonly topicArn: string;
  readonly messageId: string;
  readonly message: string;
  readonly subject?: string;
  readonly attributes: Record<string, unknown>;
  readonly messageGroupId?: string;
}

interface MotoTopic {
  readonly arn: string;
  /** [message id, message, subject, message attributes, message group id] per publish. */
  readonly sent_notifications: ReadonlyArray<[string, string, string | null, Record<string, unknown> | null, string | null]>;
}

/**
 * Every message published so far (optionally only to one topic), oldest first, read from moto's
 * `/moto-api/data.json`. Stock moto 5.2.1 fails that document once any RDS DB instance was created; the harness
 * starts moto with a fix for that, which also lets this ask for the SNS part only (test/support/moto-patch.ts).
 * Topics are shared by the whole run: give yours a unique name ({@link createTopic} does by default) rather than
 * resetting moto.
 */
export async function snsMessages(topicArn?: string): Promise<SnsMessage[]> {
  const response = await fetch(`${harnessEnv().awsEndpointUrl}/moto-api/data.json?service=sns`);
  const body = await response.text();
  if (!response.ok) {
    throw new Error(
      `moto's /moto-api/data.json failed with HTTP ${response.status} (stock moto does once an RDS DB instance ` +
        `exists; was moto started without the harness' patch?): ${body.slice(0, 500)}`,
    );
  }
  const data = JSON.parse(body) as { sns?: { Topic?: MotoTopic[] } };
  return (data.sns?.Topic ?? [])
    .filter((topic) => topicArn === undefined || topic.arn === topicArn)
    .flatMap((topic) =>
      topic.sent_notifications.map(([messageId, message, subject, attributes, groupId]) => ({
        topicArn: topic.arn,
        messageId,
        message,
        ...(subject === null ? {} : { subject }),
        attributes: attributes ?? {},
        ...(groupId === null ? {} : { messageGroupId: groupId }),
      })),
    );
}

/** Messages delivered to an SQS queue subscribed to a topic; see {@link subscribeSnsInbox}. */
export interface SnsInbox {
  readonly topicArn: string;
  readonly queueUrl: string;
  /** Every message delivered since the subscription, oldest first (each call returns the earlier ones again). */
  messages(): Promise<SnsMessage[]>;
}

interface SnsEnvelope {
  readonly MessageId: string;
  readonly TopicArn: string;
  readonly Message: string;
  readonly Subject?: string;
  readonly MessageAttributes?: Record<string, unknown>;
  readonly MessageGroupId?: string;
}

/**
 * Subscribes a fresh SQS queue to `topicArn`, exactly as one would on AWS, and returns an inbox that reads what the
 * topic delivers from then on. Unlike {@link snsMessages} it relies on no moto-specific API, and it sees only the
 * messages published after the subscription.
 */
export async function subscribeSnsInbox(topicArn: string): Promise<SnsInbox> {
  const region = topicArn.split(':')[3];
  const { QueueUrl: queueUrl } = await awsJsonCall<{ QueueUrl: string }>(
    'sqs',
    'AmazonSQS.CreateQueue',
    { QueueName: `sns-inbox-${randomBytes(6).toString('hex')}` },
    region,
  );
  const { Attributes } = await awsJsonCall<{ Attributes: { QueueArn: string } }>(
    'sqs',
    'AmazonSQS.GetQueueAttributes',
    { QueueUrl: queueUrl, AttributeNames: ['QueueArn'] },
    region,
  );
  const sns = new SNSClient({ region });
  try {
    await sns.send(new SubscribeCommand({ TopicArn: topicArn, Protocol: 'sqs', Endpoint: Attributes.QueueArn }));
  } finally {
    sns.destroy();
  }
  const received: SnsMessage[] = [];
  return {
    topicArn,
    queueUrl,
    async messages() {
      for (;;) {
        const { Messages = [] } = await awsJsonCall<{ Messages?: Array<{ Body: string; ReceiptHandle: string }> }>(
          'sqs',
          'AmazonSQS.ReceiveMessage',
          { QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 },
          region,
        );
        if (Messages.length === 0) return [...received];
        for (const message of Messages) {
          const envelope = JSON.parse(message.Body) as SnsEnvelope;
          received.push({
            topicArn: envelope.TopicArn,
            messageId: envelope.MessageId,
            message: envelope.Message,
            ...(envelope.Subject === undefined ? {} : { subject: envelope.Subject }),
            attributes: envelope.MessageAttributes ?? {},
            ...(envelope.MessageGroupId === undefined ? {} : { messageGroupId: envelope.MessageGroupId }),
          });
          await awsJsonCall('sqs', 'AmazonSQS.DeleteMessage', { QueueUrl: queueUrl, ReceiptHandle: message.ReceiptHandle }, region);
        }
      }
    },
  };
}
