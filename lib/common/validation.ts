import type { Duration } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import type { ConfigurationError } from './errors';

/** Makes the {@link ConfigurationError} of one construct's props (its subject and path) for a message. */
export type InvalidProps = (message: string, cause?: unknown) => ConfigurationError;

/** Validation queries need a name each (unique: it names the check in the report) and SQL. */
export function checkValidationQueries(queries: ReadonlyArray<{ readonly name: string; readonly sql: string }> | undefined, invalid: InvalidProps): void {
  const names = new Set<string>();
  (queries ?? []).forEach((q, i) => {
    if (typeof q.name !== 'string' || q.name.trim() === '') throw invalid(`validationQueries[${i}].name must be a non-empty string.`);
    if (names.has(q.name)) throw invalid(`validationQueries[${i}].name "${q.name}" is used twice; give every query its own name.`);
    names.add(q.name);
    if (typeof q.sql !== 'string' || q.sql.trim() === '') throw invalid(`validationQueries[${i}].sql must be a non-empty SQL statement returning one boolean.`);
  });
}

/** A recovery point objective under a minute cannot be checked against backups. */
export function checkRpo(rpo: Duration | undefined, invalid: InvalidProps): void {
  if (rpo !== undefined && rpo.toSeconds() < 60) throw invalid(`rpo must be at least one minute; got ${rpo.toHumanString()}.`);
}

/** Props of the recovery workflows that judge the measured RTO. */
export interface RtoProps {
  /**
   * The recovery time objective: a measured RTO above it is a failed check in the report, and the run ends FAILED
   * unless `enforceRto` is false. The measured RTO is published either way.
   * @default - no RTO check; the RTO is still measured and published
   */
  readonly rto?: Duration;
  /**
   * Whether a measured RTO above `rto` fails the run; when false it is a failed check in the report only.
   * @default true
   */
  readonly enforceRto?: boolean;
}

/** An RTO target must be at least a minute; `enforceRto` means nothing without it. */
export function checkRto(props: RtoProps, invalid: InvalidProps): void {
  if (props.rto !== undefined && props.rto.toSeconds() < 60) throw invalid(`rto must be at least one minute; got ${props.rto.toHumanString()}.`);
  if (props.rto === undefined && props.enforceRto !== undefined) throw invalid('enforceRto is set but rto is not: set rto (the recovery time objective), or remove enforceRto.');
}

/** The report handler's environment for the RTO target (lambda/reporting/recovery-workflow-report.ts parseRtoTarget). */
export function rtoEnvironment(props: RtoProps): Record<string, string> {
  if (props.rto === undefined) return {};
  return { RTO_SECONDS: String(props.rto.toSeconds()), RTO_ENFORCED: String(props.enforceRto ?? true) };
}

/** Each wait (given by its prop name) must leave room for one poll of `interval`. */
export function checkWaitTimeouts(waits: Record<string, Duration | undefined>, interval: Duration, invalid: InvalidProps): void {
  for (const [field, value] of Object.entries(waits)) {
    if (value !== undefined && value.toSeconds() < interval.toSeconds()) {
      throw invalid(`${field} must be at least ${interval.toHumanString()} (one poll); got ${value.toHumanString()}.`);
    }
  }
}

/**
 * The subnets `selection` (the prop `field`) selects for a DB subnet group of a database this package creates, or
 * `invalid` when they do not exist or lie in fewer than two Availability Zones.
 */
export function checkDatabaseSubnets(vpc: ec2.IVpc, selection: ec2.SubnetSelection, field: string, invalid: InvalidProps): void {
  let selected: ec2.SelectedSubnets;
  try {
    selected = vpc.selectSubnets(selection);
  } catch (error) {
    throw invalid(`${field} selects no subnets of the VPC (${(error as Error).message}); add isolated subnets to the VPC or pass ${field}.`, error);
  }
  if (selected.subnetIds.length < 2 || new Set(selected.availabilityZones).size < 2) {
    throw invalid(`a DB subnet group needs subnets in at least two Availability Zones; pass ${field} that span two or more.`);
  }
}
