import { Duration, Stack, Token } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as route53 from 'aws-cdk-lib/aws-route53';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { ConfigurationError } from '../common/errors';

/** Options of {@link RepointTarget.ssmParameter}. */
export interface SsmParameterRepointOptions {
  /**
   * The parameter's value, with `{host}` and `{port}` replaced by the new endpoint's.
   * @default '{host}:{port}'
   */
  readonly format?: string;
}

/** Options of {@link RepointTarget.secret}. */
export interface SecretRepointOptions {
  /** @default 'host' */
  readonly hostField?: string;
  /** @default 'port' */
  readonly portField?: string;
}

/** Options of {@link RepointTarget.cnameRecord}. */
export interface CnameRepointOptions {
  /**
   * TTL of the record; clients keep the old address this long after the repoint.
   * @default Duration.seconds(60)
   */
  readonly ttl?: Duration;
}

/** What the repoint handler receives for one target (JSON in REPOINT_TARGETS). */
export type RepointTargetConfig =
  | { readonly type: 'ssm-parameter'; readonly name: string; readonly format: string }
  | { readonly type: 'secret'; readonly secretId: string; readonly hostField: string; readonly portField: string }
  | { readonly type: 'cname'; readonly hostedZoneId: string; readonly recordName: string; readonly ttlSeconds: number };

/**
 * Something the application reads its database endpoint from, which a real failover updates to the new endpoint
 * (idempotently; the previous value goes into the report for the failback). All in the Failover's (DR) region,
 * except Route 53, which is global.
 *
 * @example
 * const repoint = [
 *   RepointTarget.ssmParameter('/app/database/endpoint'),
 *   RepointTarget.secret(appSecret),
 *   RepointTarget.cnameRecord(zone, 'db.example.internal'),
 * ];
 */
export class RepointTarget {
  /** An SSM String parameter (created when missing), named with or without a leading `/`. */
  public static ssmParameter(parameterName: string, options: SsmParameterRepointOptions = {}): RepointTarget {
    const format = options.format ?? '{host}:{port}';
    if (!Token.isUnresolved(parameterName) && !/^\/?[A-Za-z0-9_.\-/]{1,1011}$/.test(parameterName)) {
      throw new ConfigurationError(`RepointTarget.ssmParameter: '${parameterName}' is not an SSM parameter name; use letters, digits, and _ . - /.`);
    }
    if (!format.includes('{host}')) {
      throw new ConfigurationError(`RepointTarget.ssmParameter: format '${format}' does not contain {host}; the new endpoint's host must go somewhere.`);
    }
    return new RepointTarget(`ssm-parameter ${parameterName}`, (scope) => ({
      config: { type: 'ssm-parameter', name: parameterName, format },
      grant: (grantee) =>
        iam.Grant.addToPrincipal({
          grantee,
          actions: ['ssm:GetParameter', 'ssm:PutParameter'],
          resourceArns: [Stack.of(scope).formatArn({ service: 'ssm', resource: 'parameter', resourceName: parameterName.replace(/^\//, '') })],
        }),
    }));
  }

  /**
   * A Secrets Manager secret holding JSON (such as an RDS secret): `host` and `port` are merged in, everything else
   * kept. It must be writable in the DR region: a replica secret must be promoted to a standalone secret first.
   */
  public static secret(secret: secretsmanager.ISecret, options: SecretRepointOptions = {}): RepointTarget {
    const hostField = options.hostField ?? 'host';
    const portField = options.portField ?? 'port';
    if (hostField === '' || portField === '' || hostField === portField) {
      throw new ConfigurationError('RepointTarget.secret: hostField and portField must be two different, non-empty field names.');
    }
    if (['username', 'password'].includes(hostField) || ['username', 'password'].includes(portField)) {
      throw new ConfigurationError('RepointTarget.secret: hostField and portField must not be username or password; the repoint only changes where to connect.');
    }
    return new RepointTarget(`secret ${secret.node.path}`, () => ({
      config: { type: 'secret', secretId: secret.secretArn, hostField, portField },
      grant: (grantee) => secret.grantRead(grantee).combine(secret.grantWrite(grantee)),
    }));
  }

  /** A Route 53 CNAME record (UPSERT), e.g. `db.example.internal` in the zone `example.internal`. */
  public static cnameRecord(zone: route53.IHostedZone, recordName: string, options: CnameRepointOptions = {}): RepointTarget {
    const ttlSeconds = (options.ttl ?? Duration.seconds(60)).toSeconds();
    if (ttlSeconds > 172800) throw new ConfigurationError(`RepointTarget.cnameRecord: ttl must be at most 2 days (Route 53's limit); got ${ttlSeconds} s.`);
    const name = recordName.toLowerCase().replace(/\.$/, '');
    if (!Token.isUnresolved(zone.zoneName) && !Token.isUnresolved(recordName)) {
      const zoneName = zone.zoneName.toLowerCase().replace(/\.$/, '');
      if (name === zoneName || !name.endsWith(`.${zoneName}`)) {
        throw new ConfigurationError(`RepointTarget.cnameRecord: '${recordName}' is not a name inside the zone '${zone.zoneName}'; give the full name, e.g. db.${zoneName} (a CNAME cannot be the zone apex).`);
      }
    }
    return new RepointTarget(`cname ${name}`, () => ({
      config: { type: 'cname', hostedZoneId: zone.hostedZoneId, recordName: name, ttlSeconds },
      grant: (grantee) =>
        iam.Grant.addToPrincipal({ grantee, actions: ['route53:ListResourceRecordSets'], resourceArns: [zone.hostedZoneArn] }).combine(
          iam.Grant.addToPrincipal({
            grantee,
            actions: ['route53:ChangeResourceRecordSets'],
            resourceArns: [zone.hostedZoneArn],
            conditions: {
              'ForAllValues:StringEquals': {
                'route53:ChangeResourceRecordSetsNormalizedRecordNames': [name],
                'route53:ChangeResourceRecordSetsRecordTypes': ['CNAME'],
                'route53:ChangeResourceRecordSetsActions': ['UPSERT'],
              },
            },
          }),
        ),
    }));
  }

  private constructor(
    /** What is repointed, for messages (`ssm-parameter /app/db`, `cname db.example.internal`). */
    public readonly description: string,
    private readonly build: (scope: Construct) => { config: RepointTargetConfig; grant: (grantee: iam.IGrantable) => iam.Grant },
  ) {}

  /**
   * The handler's configuration of this target, and the grant of exactly what the repoint needs on it.
   * @internal
   */
  public _bind(scope: Construct): { config: RepointTargetConfig; grant: (grantee: iam.IGrantable) => iam.Grant } {
    return this.build(scope);
  }
}
