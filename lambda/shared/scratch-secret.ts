/**
 * Secrets Manager secrets holding the master credentials of databases this package creates (recovery-test scratch
 * instances, DR restores). The password is generated inside a Lambda, written only to the secret and to RDS, and
 * read back by ARN by whoever connects: it never travels through a Step Functions payload (which execution logs
 * record with ALL data) and never appears in a log line or an error message.
 *
 * The secret is RDS-style JSON (`{ username, password, engine, port, dbname }`), so the restore and restore-verify
 * handlers read it like any RDS secret (./secrets).
 */
import {
  CreateSecretCommand,
  DeleteSecretCommand,
  DescribeSecretCommand,
  type SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { BackupDrError } from './errors';
import { getDatabaseSecret } from './secrets';

/** Name prefix of every recovery-test scratch secret; IAM is scoped to it. */
export const SCRATCH_SECRET_PREFIX = 'cdk-backup-dr/scratch/';

/** The secret name of a scratch resource: `cdk-backup-dr/scratch/<identifier>`. */
export function scratchSecretName(identifier: string): string {
  if (!/^[a-z][a-z0-9-]{0,62}$/.test(identifier)) {
    throw new RangeError(`a scratch secret is named after an RDS identifier (lowercase letters, digits, hyphens); got ${JSON.stringify(identifier)}`);
  }
  return `${SCRATCH_SECRET_PREFIX}${identifier}`;
}

/** A tag, as Secrets Manager takes it. */
export interface SecretTag {
  readonly Key: string;
  readonly Value: string;
}

/** Options of {@link createCredentialsSecret}. */
export interface CreateCredentialsSecretOptions {
  readonly name: string;
  readonly description: string;
  readonly username: string;
  /** Never logged. */
  readonly password: string;
  /** @default 'postgres' */
  readonly engine?: string;
  /** @default 5432 */
  readonly port?: number;
  /** @default 'postgres' */
  readonly dbname?: string;
  readonly tags: readonly SecretTag[];
  /** @default - the account's `aws/secretsmanager` key */
  readonly kmsKeyId?: string;
  /**
   * The tag (key and value) that marks a secret as created by the same caller: when a secret of that name already
   * exists and carries it, it is the one a previous attempt created and is returned (with its password); otherwise
   * creating fails.
   */
  readonly ownerTag: SecretTag;
}

/** What {@link createCredentialsSecret} returns. */
export interface CredentialsSecret {
  readonly arn: string;
  readonly name: string;
  /** False when a previous attempt had already created it. */
  readonly created: boolean;
  /** The password stored in the secret (the existing one when `created` is false). Never logged. */
  readonly password: string;
  readonly username: string;
}

/**
 * The secret name exists but was not created by this caller: nothing is overwritten.
 *
 * @example
 * throw new SecretConflict('secret cdk-backup-dr/scratch/x exists and was created by another execution');
 */
export class SecretConflict extends BackupDrError {
  static readonly NAME = 'SecretConflict';
  override readonly name = SecretConflict.NAME;
}

function isNamed(error: unknown, name: string): boolean {
  return error instanceof Error && error.name === name;
}

/**
 * Creates an RDS-style credentials secret. Safe to retry: a secret of the same name carrying `ownerTag` is
 * returned as it is (its stored password wins, so a database created by the previous attempt keeps matching it).
 *
 * @throws SecretConflict when the name is taken by a secret without `ownerTag`.
 */
export async function createCredentialsSecret(client: SecretsManagerClient, options: CreateCredentialsSecretOptions): Promise<CredentialsSecret> {
  const secretString = JSON.stringify({
    username: options.username,
    password: options.password,
    engine: options.engine ?? 'postgres',
    port: options.port ?? 5432,
    dbname: options.dbname ?? 'postgres',
  });
  try {
    const out = await client.send(
      new CreateSecretCommand({
        Name: options.name,
        Description: options.description,
        SecretString: secretString,
        ...(options.kmsKeyId !== undefined ? { KmsKeyId: options.kmsKeyId } : {}),
        Tags: options.tags.map((t) => ({ Key: t.Key, Value: t.Value })),
      }),
    );
    if (out.ARN === undefined) throw new Error(`CreateSecret ${options.name} returned no ARN`);
    return { arn: out.ARN, name: options.name, created: true, password: options.password, username: options.username };
  } catch (error) {
    if (!isNamed(error, 'ResourceExistsException')) throw error;
    const existing = await client.send(new DescribeSecretCommand({ SecretId: options.name }));
    const owned = (existing.Tags ?? []).some((t) => t.Key === options.ownerTag.Key && t.Value === options.ownerTag.Value);
    if (!owned || existing.ARN === undefined) {
      throw new SecretConflict(`secret ${options.name} already exists and was not created by this caller (no ${options.ownerTag.Key} tag with its value); nothing was changed`);
    }
    if (existing.DeletedDate !== undefined) {
      throw new SecretConflict(`secret ${options.name} is scheduled for deletion; nothing was changed`);
    }
    const stored = await getDatabaseSecret(client, existing.ARN);
    return { arn: existing.ARN, name: options.name, created: false, password: stored.password, username: stored.username };
  }
}

/** Outcome of {@link deleteSecretNow}. */
export type SecretDeleteOutcome = 'deleted' | 'not-found';

/**
 * Deletes a secret at once (ForceDeleteWithoutRecovery: no 7-day recovery window for a throw-away password).
 * A secret that does not exist (or is already deleted) is `not-found`, not an error.
 */
export async function deleteSecretNow(client: SecretsManagerClient, secretId: string): Promise<SecretDeleteOutcome> {
  try {
    await client.send(new DeleteSecretCommand({ SecretId: secretId, ForceDeleteWithoutRecovery: true }));
    return 'deleted';
  } catch (error) {
    if (isNamed(error, 'ResourceNotFoundException')) return 'not-found';
    // A secret already scheduled for deletion answers InvalidRequestException; it is going away either way.
    if (isNamed(error, 'InvalidRequestException') && /scheduled for deletion|marked for deletion/i.test((error as Error).message)) return 'deleted';
    throw error;
  }
}
