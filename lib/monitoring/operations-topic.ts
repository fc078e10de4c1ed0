import { Arn, ArnFormat, Names, Stack, Token } from 'aws-cdk-lib';
import * as chatbot from 'aws-cdk-lib/aws-chatbot';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct } from 'constructs';
import { ConfigurationError } from '../common/errors';
import { createOperationsKey } from '../common/operations';

/** A Slack channel of a workspace authorized in the AWS Chatbot console. */
export interface SlackChannelOptions {
  /** The workspace id (AWS Chatbot console → Configured clients → Slack → Workspace ID, e.g. `T0123ABCD`). */
  readonly workspaceId: string;
  /** The channel id (Slack → channel details, e.g. `C0123ABCD`); invite @aws to a private channel. */
  readonly channelId: string;
  /**
   * Name of the AWS Chatbot channel configuration (unique in the account).
   * @default - derived from the construct path
   */
  readonly configurationName?: string;
}

/** A Microsoft Teams channel of a team authorized in the AWS Chatbot console. */
export interface TeamsChannelOptions {
  /** The Microsoft Entra tenant id (a GUID). */
  readonly tenantId: string;
  /** The team id (a GUID, from the channel link: `groupId=`). */
  readonly teamId: string;
  /** The channel id as the channel link has it, URL-encoded (e.g. `19%3Aabc…%40thread.tacv2`). */
  readonly channelId: string;
  /**
   * Name of the AWS Chatbot channel configuration (unique in the account).
   * @default - derived from the construct path
   */
  readonly configurationName?: string;
}

/**
 * A chat channel the operations topic posts to through AWS Chatbot: a Slack channel or a Microsoft Teams channel.
 * The workspace or team must first be authorized once in the AWS Chatbot console (an OAuth step CloudFormation cannot
 * do).
 *
 * @example
 * ChatChannel.slack({ workspaceId: 'T0123ABCD', channelId: 'C0123ABCD' });
 * ChatChannel.teams({ tenantId: '<tenant GUID>', teamId: '<team GUID>', channelId: '19%3A…%40thread.tacv2' });
 */
export class ChatChannel {
  /** A Slack channel. */
  public static slack(options: SlackChannelOptions): ChatChannel {
    return new ChatChannel({ kind: 'slack', ...options });
  }

  /** A Microsoft Teams channel. */
  public static teams(options: TeamsChannelOptions): ChatChannel {
    return new ChatChannel({ kind: 'teams', ...options });
  }

  private constructor(
    /** @internal */
    public readonly _spec: ({ readonly kind: 'slack' } & SlackChannelOptions) | ({ readonly kind: 'teams' } & TeamsChannelOptions),
  ) {}

  /** `slack` or `teams`. */
  public get kind(): 'slack' | 'teams' {
    return this._spec.kind;
  }
}

/** Props of {@link OperationsTopic}. */
export interface OperationsTopicProps {
  /**
   * Email addresses to subscribe (each confirms by a link SNS mails to it). They receive the text body.
   * @default - none
   */
  readonly emails?: string[];
  /**
   * HTTPS endpoints to subscribe (each confirms by visiting the SubscribeURL SNS posts to it). They receive a JSON
   * body with every fact (an AWS Chatbot custom notification, facts in `metadata.additionalContext`) and the facts as
   * message attributes.
   * @default - none
   */
  readonly webhooks?: string[];
  /**
   * Slack or Microsoft Teams channels, through AWS Chatbot.
   * @default - none
   */
  readonly chatChannels?: ChatChannel[];
  /**
   * The KMS key of the topic; its policy must let CloudWatch alarms and EventBridge use it (`kms:Decrypt`,
   * `kms:GenerateDataKey*` for `cloudwatch.amazonaws.com` and `events.amazonaws.com`), or their messages are dropped.
   * @default - a new key with rotation and that policy
   */
  readonly encryptionKey?: kms.IKey;
  /**
   * Display name of the topic (the sender name of email).
   * @default 'cdk-backup-dr operations'
   */
  readonly displayName?: string;
}

/** Attributes of an existing operations topic, for {@link OperationsTopic.fromTopicAttributes}. */
export interface OperationsTopicAttributes {
  /** `arn:<partition>:sns:<region>:<account>:<name>`. */
  readonly topicArn: string;
  /**
   * ARN of the topic's KMS key (`arn:<partition>:kms:<region>:<account>:key/<id>`, same region as the topic): publishers
   * need `kms:GenerateDataKey` and `kms:Decrypt` on it, so its key policy must allow this account's principals (the
   * account root, for an account that is not the key's own), and `cloudwatch.amazonaws.com` and `events.amazonaws.com`
   * for alarms and EventBridge rules.
   */
  readonly encryptionKeyArn: string;
}

const SNS_TOPIC_ARN = /^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}(\.fifo)?$/;
const KMS_KEY_ARN = /^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key\/[A-Za-z0-9-]+$/;
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

/**
 * The one operations topic of a deployment, in one region: KMS-encrypted, publishing over TLS only, with email,
 * HTTPS webhook and chat (AWS Chatbot: Slack, Microsoft Teams) subscriptions. Pass `topic` as the `notificationTopic`
 * of PostgresBackup, RecoveryTest and Failover and to {@link BackupMonitoring}: every run's outcome and every alarm
 * then reach the same people. Add your own subscribers to `topic`.
 *
 * CloudWatch alarms and EventBridge rules can only notify a topic of their own region: a DR-region stack needs its
 * own OperationsTopic (with the same subscriptions).
 *
 * @example
 * const operations = new OperationsTopic(this, 'Operations', {
 *   emails: ['dba-oncall@example.com'],
 *   chatChannels: [ChatChannel.slack({ workspaceId: 'T0123ABCD', channelId: 'C0123ABCD' })],
 * });
 * new PostgresBackup(this, 'Backup', { ...backupProps, notificationTopic: operations.topic });
 */
export class OperationsTopic extends Construct {
  /**
   * An existing operations topic (e.g. another app's, published with `SharedBackupResources`) with its key, to pass
   * as a construct's `notificationTopic`: publishers are granted the key.
   *
   * @throws ConfigurationError for a malformed ARN, or a key in another region than the topic
   */
  public static fromTopicAttributes(scope: Construct, id: string, attrs: OperationsTopicAttributes): sns.ITopic {
    const invalid = (message: string) => new ConfigurationError(message, scope, { subject: 'OperationsTopic.fromTopicAttributes' });
    const topicResolved = !Token.isUnresolved(attrs.topicArn);
    const keyResolved = !Token.isUnresolved(attrs.encryptionKeyArn);
    if (topicResolved && !SNS_TOPIC_ARN.test(attrs.topicArn)) {
      throw invalid(`topicArn ${JSON.stringify(attrs.topicArn)} is not an SNS topic ARN: pass arn:aws:sns:<region>:<account>:<topic name>.`);
    }
    if (keyResolved && !KMS_KEY_ARN.test(attrs.encryptionKeyArn)) {
      throw invalid(
        `encryptionKeyArn ${JSON.stringify(attrs.encryptionKeyArn)} is not a KMS key ARN: pass arn:aws:kms:<region>:<account>:key/<key id> (not an alias: SNS and IAM need the key).`,
      );
    }
    if (topicResolved && keyResolved) {
      const topicRegion = Arn.split(attrs.topicArn, ArnFormat.NO_RESOURCE_NAME).region;
      const keyRegion = Arn.split(attrs.encryptionKeyArn, ArnFormat.SLASH_RESOURCE_NAME).region;
      if (topicRegion !== keyRegion) {
        throw invalid(`the key is in ${keyRegion} but the topic in ${topicRegion}: an SNS topic is encrypted with a key of its own region; pass that key's ARN.`);
      }
    }
    return sns.Topic.fromTopicAttributes(scope, id, { topicArn: attrs.topicArn, keyArn: attrs.encryptionKeyArn });
  }

  /** The topic: KMS-encrypted, TLS-only publishing. */
  public readonly topic: sns.Topic;
  /** The KMS key of the topic (the one given, or the one created). */
  public readonly encryptionKey: kms.IKey;
  private chatChannels = 0;
  private chatbotRoleCreated?: iam.Role;

  constructor(scope: Construct, id: string, props: OperationsTopicProps = {}) {
    super(scope, id);
    this.encryptionKey = props.encryptionKey ?? createOperationsKey(this, 'Key', 'operations topic (alarms, run outcomes)');
    this.topic = new sns.Topic(this, 'Topic', {
      displayName: props.displayName ?? 'cdk-backup-dr operations',
      masterKey: this.encryptionKey,
      enforceSSL: true,
    });
    for (const email of props.emails ?? []) this.addEmail(email);
    for (const url of props.webhooks ?? []) this.addWebhook(url);
    for (const channel of props.chatChannels ?? []) this.addChatChannel(channel);
  }

  /** Subscribes an email address (it receives the text body; the address confirms by the link SNS mails). */
  public addEmail(address: string): void {
    if (!Token.isUnresolved(address) && !EMAIL.test(address)) {
      throw new ConfigurationError(`email ${JSON.stringify(address)} is not an email address: pass name@example.com.`, this, { subject: 'OperationsTopic' });
    }
    this.topic.addSubscription(new subscriptions.EmailSubscription(address));
  }

  /** Subscribes an HTTPS endpoint (it receives the JSON body; it confirms by visiting the SubscribeURL SNS posts). */
  public addWebhook(url: string): void {
    if (!Token.isUnresolved(url) && !/^https:\/\/[^\s/]+(\/\S*)?$/.test(url)) {
      throw new ConfigurationError(
        `webhook ${JSON.stringify(url)} is not an https:// URL: SNS would deliver the operations messages unencrypted over http; pass https://….`,
        this,
        { subject: 'OperationsTopic' },
      );
    }
    this.topic.addSubscription(new subscriptions.UrlSubscription(url, { protocol: sns.SubscriptionProtocol.HTTPS }));
  }

  /** Posts the topic's messages to a Slack or Microsoft Teams channel through AWS Chatbot. */
  public addChatChannel(channel: ChatChannel): chatbot.CfnSlackChannelConfiguration | chatbot.CfnMicrosoftTeamsChannelConfiguration {
    const spec = channel._spec;
    const index = ++this.chatChannels;
    const id = `${spec.kind === 'slack' ? 'Slack' : 'Teams'}Channel${index}`;
    const configurationName = spec.configurationName ?? Names.uniqueResourceName(this, { maxLength: 120, separator: '-' }).concat(`-${spec.kind}${index}`);
    if (!Token.isUnresolved(configurationName) && !/^[A-Za-z0-9_-]{1,128}$/.test(configurationName)) {
      throw new ConfigurationError(
        `configurationName ${JSON.stringify(configurationName)} must be 1-128 letters, digits, "-" or "_" (AWS Chatbot's rule).`,
        this,
        { subject: 'OperationsTopic' },
      );
    }
    const common = {
      configurationName,
      iamRoleArn: this.chatbotRole().roleArn,
      snsTopicArns: [this.topic.topicArn],
      // What members of the channel may do through the bot: read CloudWatch only (the default guardrail would be
      // administrator access).
      guardrailPolicies: [`arn:${Stack.of(this).partition}:iam::aws:policy/CloudWatchReadOnlyAccess`],
      loggingLevel: 'ERROR',
      userRoleRequired: false,
    };
    if (spec.kind === 'slack') {
      return new chatbot.CfnSlackChannelConfiguration(this, id, { ...common, slackWorkspaceId: spec.workspaceId, slackChannelId: spec.channelId });
    }
    return new chatbot.CfnMicrosoftTeamsChannelConfiguration(this, id, {
      ...common,
      teamsTenantId: spec.tenantId,
      teamId: spec.teamId,
      teamsChannelId: spec.channelId,
    });
  }

  /** The role AWS Chatbot's channel configurations use (no permissions: notifications only), once a chat channel is added. */
  public get chatRole(): iam.IRole | undefined {
    return this.chatbotRoleCreated;
  }

  private chatbotRole(): iam.Role {
    this.chatbotRoleCreated ??= new iam.Role(this, 'ChatbotRole', {
      assumedBy: new iam.ServicePrincipal('chatbot.amazonaws.com'),
      description: `cdk-backup-dr ${this.node.path}: AWS Chatbot posts the operations topic's messages (no permissions)`,
    });
    return this.chatbotRoleCreated;
  }
}
