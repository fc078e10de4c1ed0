import { Token } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as rds from 'aws-cdk-lib/aws-rds';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { isSourceName, SOURCE_NAME_HINT } from '../../lambda/common/names';
import { SSL_MODES, verifiesCertificate, type SslMode } from '../../lambda/postgres/ssl-mode';
import { ConfigurationError } from '../common/errors';

/** What kind of database a {@link BackupSource} points at. */
export type BackupSourceKind = 'instance' | 'cluster' | 'endpoint';

/** Options for a database whose credentials are in Secrets Manager: the credentials, and the CA its certificate must chain to. */
export interface BackupSourceSecretOptions {
  /**
   * The RDS-style secret (JSON with `username`, `password`, `host`, `port`) the backup connects with.
   * The Lambda reads it at run time by ARN; the password never enters an environment variable or a log.
   */
  readonly secret: secretsmanager.ISecret;
  /**
   * A secret whose value (plain text, not JSON) is the PEM of the CA that signed the server's certificate (up to
   * 64 KiB, so a whole chain fits; the functions read it at run time). It replaces the Amazon RDS CA bundle: give it
   * for a server that is not RDS, or for an RDS instance or cluster whose certificate comes from a CA the bundled
   * list does not include. The backup functions get read access.
   * @default - the Amazon RDS CA bundle: right for RDS, Aurora and RDS Proxy endpoints
   */
  readonly caCertificate?: secretsmanager.ISecret;
}

/** A PostgreSQL server reachable at a host name, e.g. self-managed on EC2 or in another account. */
export interface BackupEndpointOptions extends BackupSourceSecretOptions {
  /** Host name (or IP address) of the server, as seen from the backup Lambdas' subnets. */
  readonly host: string;
  /**
   * @default 5432
   */
  readonly port?: number;
  /**
   * The server's security group; when given, ingress from the backup Lambdas on `port` is added to it.
   * @default - no ingress rule is added: allow the Lambdas' security group yourself
   */
  readonly securityGroup?: ec2.ISecurityGroup;
  /**
   * A short name for this server, used in S3 keys (`postgres/<name>/...`) and metrics.
   */
  readonly name: string;
  /**
   * TLS towards the server. `verify-full` checks that the certificate chains to the trusted CA and names `host`;
   * `verify-ca` skips the name; `require` encrypts without checking the certificate (anyone on the path can
   * impersonate the server and read the password); `disable` sends everything in clear text. See the README's
   * Security section.
   * @default 'verify-full'
   */
  readonly sslMode?: SslMode;
}

/**
 * The PostgreSQL server a {@link PostgresBackup} backs up: an RDS instance, an Aurora cluster, or any endpoint.
 *
 * RDS instances and Aurora clusters can also be snapshotted; a plain endpoint can only be dumped.
 *
 * @example
 * const source = BackupSource.fromInstance(instance, { secret: instance.secret! });
 */
export class BackupSource {
  /** An RDS for PostgreSQL instance. */
  public static fromInstance(instance: rds.IDatabaseInstance, options: BackupSourceSecretOptions): BackupSource {
    return new BackupSource('instance', {
      identifier: instance.instanceIdentifier,
      identifierKnownAtSynth: identifierKnownAtSynth(instance, instance.instanceIdentifier),
      host: instance.dbInstanceEndpointAddress,
      port: instance.dbInstanceEndpointPort,
      secret: options.secret,
      connections: instance.connections,
      resourceArn: instance.instanceArn,
      caCertificate: options.caCertificate,
    });
  }

  /** An Aurora PostgreSQL cluster; the dump connects to the writer endpoint. */
  public static fromCluster(cluster: rds.IDatabaseCluster, options: BackupSourceSecretOptions): BackupSource {
    return new BackupSource('cluster', {
      identifier: cluster.clusterIdentifier,
      identifierKnownAtSynth: identifierKnownAtSynth(cluster, cluster.clusterIdentifier),
      host: cluster.clusterEndpoint.hostname,
      port: Token.asString(cluster.clusterEndpoint.port),
      secret: options.secret,
      connections: cluster.connections,
      resourceArn: cluster.clusterArn,
      caCertificate: options.caCertificate,
    });
  }

  /** Any PostgreSQL server reachable from the VPC. */
  public static fromEndpoint(options: BackupEndpointOptions): BackupSource {
    const port = options.port ?? 5432;
    if (!Token.isUnresolved(port) && (!Number.isInteger(port) || port < 1 || port > 65535)) {
      throw new ConfigurationError(`BackupSource.fromEndpoint: port must be an integer from 1 to 65535, got ${port}.`);
    }
    validateSourceName(options.name);
    if (options.sslMode !== undefined && !SSL_MODES.includes(options.sslMode)) {
      throw new ConfigurationError(`BackupSource.fromEndpoint: sslMode must be one of ${SSL_MODES.join(', ')}, got '${options.sslMode}'.`);
    }
    if (options.caCertificate !== undefined && options.sslMode !== undefined && !verifiesCertificate(options.sslMode)) {
      throw new ConfigurationError(
        `BackupSource.fromEndpoint: caCertificate is only used to verify the server, which sslMode '${options.sslMode}' does not do; ` +
          "remove caCertificate or use sslMode 'verify-full'.",
      );
    }
    return new BackupSource('endpoint', {
      identifier: options.name,
      identifierKnownAtSynth: true,
      host: options.host,
      port: `${port}`,
      secret: options.secret,
      connections: options.securityGroup
        ? new ec2.Connections({ securityGroups: [options.securityGroup], defaultPort: ec2.Port.tcp(port) })
        : undefined,
      sslMode: options.sslMode,
      caCertificate: options.caCertificate,
    });
  }

  private constructor(
    /** instance, cluster or endpoint. */
    public readonly kind: BackupSourceKind,
    private readonly details: {
      readonly identifier: string;
      readonly identifierKnownAtSynth: boolean;
      readonly host: string;
      readonly port: string;
      readonly secret: secretsmanager.ISecret;
      readonly connections?: ec2.Connections;
      readonly resourceArn?: string;
      readonly sslMode?: SslMode;
      readonly caCertificate?: secretsmanager.ISecret;
    },
  ) {}

  /** The RDS identifier (instance or cluster), or the endpoint's name. */
  public get identifier(): string {
    return this.details.identifier;
  }

  /**
   * Whether the identifier is written in the app (given as `instanceIdentifier`/`clusterIdentifier`, or imported), so
   * that a stack in another region can name the database; false when RDS generates it at deployment.
   */
  public get identifierKnownAtSynth(): boolean {
    return this.details.identifierKnownAtSynth;
  }

  /** Host name the dump connects to. */
  public get host(): string {
    return this.details.host;
  }

  /** Port the dump connects to (a string, as RDS attributes are). */
  public get port(): string {
    return this.details.port;
  }

  /** The credentials secret. */
  public get secret(): secretsmanager.ISecret {
    return this.details.secret;
  }

  /** The database's connections, when known, to open ingress from the backup Lambdas. */
  public get connections(): ec2.Connections | undefined {
    return this.details.connections;
  }

  /** The ARN of the RDS instance or cluster (snapshots need it); undefined for an endpoint. */
  public get resourceArn(): string | undefined {
    return this.details.resourceArn;
  }

  /** TLS towards the server; undefined means the handlers' default, `verify-full`. */
  public get sslMode(): SslMode | undefined {
    return this.details.sslMode;
  }

  /** The secret holding the PEM of the server's CA; undefined means the Amazon RDS CA bundle. */
  public get caCertificate(): secretsmanager.ISecret | undefined {
    return this.details.caCertificate;
  }

  /** Whether RDS snapshots can be taken of this source. */
  public get supportsSnapshots(): boolean {
    return this.kind !== 'endpoint';
  }
}

/** Source names become S3 key segments and metric dimensions. */
export function validateSourceName(name: string): void {
  if (Token.isUnresolved(name)) return;
  if (!isSourceName(name)) {
    throw new ConfigurationError(`Backup source name '${name}' is not usable in S3 keys and metric dimensions: it ${SOURCE_NAME_HINT}.`);
  }
}

/** An imported database names itself; a created one only when its identifier was given. */
function identifierKnownAtSynth(database: IConstruct, identifier: string): boolean {
  if (!Token.isUnresolved(identifier)) return true;
  const resource = database.node.defaultChild;
  if (resource instanceof rds.CfnDBInstance) return resource.dbInstanceIdentifier !== undefined;
  if (resource instanceof rds.CfnDBCluster) return resource.dbClusterIdentifier !== undefined;
  return false;
}
