/**
 * What the AWS emulator cannot do for the recovery test and the failover, mapped explicitly and reported — used by the
 * workflow tests and the drill, never by product code:
 * - moto's RDS instances have no PostgreSQL server behind them. A handler `target` naming a moto instance's endpoint
 *   is rewritten to a database on a local PostgreSQL server, without TLS, after checking that the endpoint is the one
 *   moto reports for that instance.
 * Each mapping adds a sentence to `notes`, which the report handlers get as `emulated`.
 */
import { randomBytes } from 'node:crypto';
import { CreateSecretCommand, GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { Client, type ClientConfig } from 'pg';
import { SCRATCH_SECRET_PREFIX } from '../lambda/common/names';
import { describeDbInstance, describeDbResource } from '../lambda/rds/instances';

/** A local PostgreSQL server that stands in for the databases moto cannot serve. */
export interface LocalPgServer {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: string;
  /** How the notes name it ("the test server", "the embedded server"). */
  readonly label: string;
}

/** A restore/verify handler target, as the state machines build it. */
export interface TargetInput {
  readonly secretArn: string;
  readonly host?: string;
  readonly port?: number;
  readonly database: string;
  readonly sslMode?: string;
}

/** Runs `fn` with a client connected to `database` on `server`, and always ends the client. */
export async function withServerClient<T>(server: LocalPgServer, database: string, fn: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client(serverClientConfig(server, database));
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** Client config of a database on `server` (no TLS). */
export function serverClientConfig(server: LocalPgServer, database: string): ClientConfig {
  return { host: server.host, port: server.port, user: server.user, password: server.password, database };
}

/** What the endpoint mapping did for one scratch instance. */
export interface MappedScratch {
  readonly identifier: string;
  readonly motoHost: string;
  /** The database on the local server standing in for the scratch instance's database. */
  readonly localDatabase: string;
  /** The scratch secret's password (to prove it never appears in the execution history). */
  readonly scratchPassword: string;
}

/**
 * Maps the recovery test's moto scratch instances to fresh databases on a local server, and records what it mapped.
 * The restore and verify then authenticate with the server's credentials, stored as a secret named like a scratch
 * secret (the functions read it with the rights they have for the scratch secret it stands in for).
 */
export class ScratchEndpointMapping {
  /** One sentence per mapping, for the report's `emulated`. */
  readonly notes: string[] = [];
  /** By scratch host. */
  readonly mapped = new Map<string, MappedScratch>();
  private serverSecretArn?: string;
  private readonly secrets = new SecretsManagerClient({});

  /**
   * @param standIn an existing database on the server that stands in for the scratch database's contents (a restored
   *   snapshot already holds its data); it is not dropped. Default: a fresh database per scratch instance, dropped
   *   when the instance is deleted.
   */
  constructor(
    private readonly server: LocalPgServer,
    private readonly region: string,
    private readonly standIn?: string,
  ) {}

  /** A client config for a database on the server. */
  clientConfig(database: string): ClientConfig {
    return serverClientConfig(this.server, database);
  }

  /** Runs `fn` with a client connected to `database` on the server. */
  withClient<T>(database: string, fn: (client: Client) => Promise<T>): Promise<T> {
    return withServerClient(this.server, database, fn);
  }

  private async drop(database: string): Promise<void> {
    await this.withClient('postgres', (c) => c.query(`DROP DATABASE IF EXISTS ${c.escapeIdentifier(database)} WITH (FORCE)`));
  }

  private async serverSecret(): Promise<string> {
    if (this.serverSecretArn) return this.serverSecretArn;
    const { host, port, user, password } = this.server;
    const out = await this.secrets.send(
      new CreateSecretCommand({
        Name: `${SCRATCH_SECRET_PREFIX}recovery-test-harness-${randomBytes(5).toString('hex')}`,
        SecretString: JSON.stringify({ engine: 'postgres', username: user, password, host, port }),
      }),
    );
    if (!out.ARN) throw new Error('CreateSecret returned no ARN');
    this.serverSecretArn = out.ARN;
    return out.ARN;
  }

  /** Rewrites a target aimed at a moto scratch instance to the local server, after checking it is one. */
  async map(target: TargetInput): Promise<TargetInput> {
    const { host, port } = this.server;
    if (target.host === undefined) throw new Error('the state machine passed no host for the scratch database');
    let entry = this.mapped.get(target.host);
    if (!entry) {
      const identifier = target.host.split('.')[0];
      const instance = await describeDbInstance(this.region, identifier);
      if (!instance?.endpoint || instance.endpoint.host !== target.host || instance.endpoint.port !== target.port) {
        throw new Error(`target ${target.host}:${target.port} is not the endpoint moto reports for scratch instance ${identifier}`);
      }
      const secret = await this.secrets.send(new GetSecretValueCommand({ SecretId: target.secretArn }));
      const scratch = JSON.parse(secret.SecretString ?? '{}') as { username?: string; password?: string };
      if (!scratch.password || !scratch.username) throw new Error(`scratch secret ${target.secretArn} holds no credentials`);
      entry = {
        identifier,
        motoHost: target.host,
        localDatabase: this.standIn ?? `rt_${randomBytes(5).toString('hex')}`,
        scratchPassword: scratch.password,
      };
      this.mapped.set(target.host, entry);
      this.notes.push(
        `scratch instance ${identifier} (moto endpoint ${target.host}:${target.port}) has no PostgreSQL server: ` +
          (this.standIn === undefined ? 'restore and verify ran against the fresh database' : "the verify ran against the snapshot's source database") +
          ` ${entry.localDatabase} on ${this.server.label} ${host}:${port} with its credentials, without TLS ` +
          `(the scratch secret ${secret.Name ?? target.secretArn} was checked to exist, then replaced)`,
      );
    }
    return { secretArn: await this.serverSecret(), host, port, database: entry.localDatabase, sslMode: 'disable' };
  }

  /** Drops the stand-in database of a deleted scratch instance (never a given stand-in). */
  async dropFor(identifier: string): Promise<void> {
    if (this.standIn !== undefined) return;
    for (const entry of this.mapped.values()) {
      if (entry.identifier === identifier) await this.drop(entry.localDatabase);
    }
  }

  async destroy(): Promise<void> {
    if (this.standIn === undefined) for (const entry of this.mapped.values()) await this.drop(entry.localDatabase);
    this.secrets.destroy();
  }
}

/** One moto endpoint mapped to a database on the local server. */
export interface MappedDatabase {
  readonly identifier: string;
  readonly motoHost: string;
  readonly localDatabase: string;
  readonly role: string;
}

/**
 * Maps the failover's moto databases to databases on a local server: when the act step reports a new database
 * available, its moto endpoint is checked against what moto describes and mapped to a fresh database — empty for a
 * dump restore (pg_restore fills it), else a copy (`CREATE DATABASE … TEMPLATE`) of the source database, standing in
 * for the snapshot / point in time / replica content. The database's master user is created on the server as a role
 * with the password from the failover's secret, so the handlers really authenticate with what the act step stored.
 */
export class FailoverEmulation {
  /** One sentence per mapping, for the report's `emulated`. */
  readonly notes: string[] = [];
  /** By moto host. */
  readonly mapped = new Map<string, MappedDatabase>();
  /** The roles created on the server (shared by runs; drop them with {@link dropRoles} after every destroy). */
  readonly roles = new Set<string>();
  private readonly secrets = new SecretsManagerClient({});

  /** @param sourceDatabase the database on the server a snapshot, point in time or replica stands in for */
  constructor(
    private readonly server: LocalPgServer,
    private readonly sourceDatabase: string,
  ) {}

  clientConfig(database: string): ClientConfig {
    return serverClientConfig(this.server, database);
  }

  withClient<T>(database: string, fn: (client: Client) => Promise<T>): Promise<T> {
    return withServerClient(this.server, database, fn);
  }

  /**
   * Maps a moto database (the instance or, for an Aurora cluster, the cluster `identifier` in `region`, whose writer
   * endpoint the checks use) to a database on the server, after checking that moto
   * reports `host` for it: `copy` makes it a copy of the source database, otherwise it is left to be created by the
   * restore. The master user of the secret becomes a role with the secret's password.
   */
  async register(
    region: string,
    identifier: string,
    host: string,
    port: number,
    secretArn: string,
    content: 'copy' | 'empty',
    kind: 'instance' | 'cluster' = 'instance',
  ): Promise<MappedDatabase> {
    const existing = this.mapped.get(host);
    if (existing) return existing;
    const described = await describeDbResource(region, kind, identifier);
    if (!described?.endpoint || described.endpoint.host !== host || described.endpoint.port !== port) {
      throw new Error(`${host}:${port} is not the endpoint moto reports for ${kind} ${identifier} in ${region}`);
    }
    const secret = await this.secrets.send(new GetSecretValueCommand({ SecretId: secretArn }));
    const credentials = JSON.parse(secret.SecretString ?? '{}') as { username?: string; password?: string };
    if (!credentials.username || !credentials.password) throw new Error(`secret ${secretArn} holds no credentials`);
    const role = credentials.username;
    const localDatabase = `fo_${randomBytes(5).toString('hex')}`;
    await this.withClient('postgres', async (c) => {
      const exists = await c.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [role]);
      const verb = exists.rowCount === 0 ? 'CREATE' : 'ALTER';
      await c.query(`${verb} ROLE ${c.escapeIdentifier(role)} LOGIN CREATEDB PASSWORD ${c.escapeLiteral(credentials.password as string)}`);
      await c.query(`GRANT pg_read_all_data TO ${c.escapeIdentifier(role)}`);
      if (content === 'copy') {
        await c.query(`CREATE DATABASE ${c.escapeIdentifier(localDatabase)} TEMPLATE ${c.escapeIdentifier(this.sourceDatabase)} OWNER ${c.escapeIdentifier(role)}`);
      }
    });
    this.roles.add(role);
    const entry = { identifier, motoHost: host, localDatabase, role };
    this.mapped.set(host, entry);
    this.notes.push(
      `RDS ${identifier} (moto endpoint ${host}:${port}) has no PostgreSQL server: it was mapped to database ${localDatabase} on ${this.server.label} ` +
        `${this.server.host}:${this.server.port}, without TLS, ${content === 'copy' ? `a copy of the seeded source database standing in for its content` : 'created by the restore'}; ` +
        `its master user ${role} was created there with the password from ${secret.Name ?? secretArn}`,
    );
    return entry;
  }

  /** Rewrites a target naming a mapped moto endpoint to the server (same secret: the role has its password). */
  map(target: TargetInput): TargetInput {
    const entry = target.host === undefined ? undefined : this.mapped.get(target.host);
    if (!entry) throw new Error(`the target ${target.host}:${target.port} is not a mapped moto endpoint`);
    return { secretArn: target.secretArn, host: this.server.host, port: this.server.port, database: entry.localDatabase, sslMode: 'disable' };
  }

  /** The mapped database of a moto identifier, if any. */
  byIdentifier(identifier: string): MappedDatabase | undefined {
    return [...this.mapped.values()].find((m) => m.identifier === identifier);
  }

  async dropFor(identifier: string): Promise<void> {
    const entry = this.byIdentifier(identifier);
    if (entry) await this.withClient('postgres', (c) => c.query(`DROP DATABASE IF EXISTS ${c.escapeIdentifier(entry.localDatabase)} WITH (FORCE)`));
  }

  /** Drops the mapped databases (the roles stay: other runs' databases may belong to them). */
  async destroy(): Promise<void> {
    await this.withClient('postgres', async (c) => {
      for (const entry of this.mapped.values()) await c.query(`DROP DATABASE IF EXISTS ${c.escapeIdentifier(entry.localDatabase)} WITH (FORCE)`);
    });
    this.secrets.destroy();
  }
}

/** Drops roles a {@link FailoverEmulation} created, once every database they own is gone. */
export async function dropRoles(server: LocalPgServer, roles: Iterable<string>): Promise<void> {
  await withServerClient(server, 'postgres', async (client) => {
    for (const role of new Set(roles)) {
      await client.query(`REVOKE pg_read_all_data FROM ${client.escapeIdentifier(role)}`).catch(() => undefined);
      await client.query(`DROP ROLE IF EXISTS ${client.escapeIdentifier(role)}`);
    }
  });
}
