/**
 * The AWS clients of one CLI run, for the region of `--region` (else the SDK's: AWS_REGION, the profile), destroyed
 * when the command ends. Every client honours AWS_ENDPOINT_URL, so the same commands run against an emulator.
 */
import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { S3Client } from '@aws-sdk/client-s3';
import { SFNClient } from '@aws-sdk/client-sfn';
import { scrubSecrets } from '../lambda/postgres/target';

/** Lazily created clients of one region. */
export class AwsClients {
  private readonly made: { destroy(): void }[] = [];
  private s3Client?: S3Client;
  private sfnClient?: SFNClient;
  private cfnClient?: CloudFormationClient;
  private cwClient?: CloudWatchClient;
  private readonly others = new Map<string, S3Client>();

  constructor(readonly region: string | undefined) {}

  private config(region = this.region): { region?: string } {
    return region ? { region } : {};
  }

  private keep<T extends { destroy(): void }>(client: T): T {
    this.made.push(client);
    return client;
  }

  get s3(): S3Client {
    return (this.s3Client ??= this.keep(new S3Client(this.config())));
  }

  /** An S3 client for another region (the replica's). */
  s3In(region: string): S3Client {
    if (region === this.region) return this.s3;
    let client = this.others.get(region);
    if (!client) {
      client = this.keep(new S3Client({ region }));
      this.others.set(region, client);
    }
    return client;
  }

  get sfn(): SFNClient {
    return (this.sfnClient ??= this.keep(new SFNClient(this.config())));
  }

  get cloudFormation(): CloudFormationClient {
    return (this.cfnClient ??= this.keep(new CloudFormationClient(this.config())));
  }

  get cloudWatch(): CloudWatchClient {
    return (this.cwClient ??= this.keep(new CloudWatchClient(this.config())));
  }

  /** The region the clients use (the SDK's default when none was given). */
  async resolvedRegion(): Promise<string> {
    return this.region ?? (await this.s3.config.region());
  }

  destroy(): void {
    for (const client of this.made.splice(0)) client.destroy();
  }
}

/**
 * Runs `work` with the clients of `region` (destroyed afterwards); an error's message is scrubbed of `secrets`, the
 * original kept as its cause (and its name, so the exit code is chosen by it).
 */
export async function withAws<T>(region: string | undefined, secrets: readonly (string | undefined)[], work: (aws: AwsClients) => Promise<T>): Promise<T> {
  const aws = new AwsClients(region);
  try {
    return await work(aws);
  } catch (error) {
    if (error instanceof Error && secrets.some((s) => s && error.message.includes(s))) {
      const scrubbed = new Error(scrubSecrets(error.message, secrets), { cause: error });
      scrubbed.name = error.name;
      throw scrubbed;
    }
    throw error;
  } finally {
    aws.destroy();
  }
}
