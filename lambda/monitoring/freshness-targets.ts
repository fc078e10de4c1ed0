/**
 * What the freshness function measures and where the reports are: the part of its contract the constructs read at
 * synth time, kept free of the AWS SDK so that lib/ can import it in a consumer's app (which has no SDK installed).
 */
import { BACKUP_REPORT_PREFIX, FAILOVER_REPORT_PREFIX, RECOVERY_REPORT_PREFIX } from '../common/names';

/** The workflows whose freshness is measured. */
export const FRESHNESS_KINDS = ['backup', 'recovery-test', 'failover'] as const;

/** One of {@link FRESHNESS_KINDS}. */
export type FreshnessKind = (typeof FRESHNESS_KINDS)[number];

/** Where each workflow's reports are. */
export const REPORT_PREFIXES: Readonly<Record<FreshnessKind, string>> = {
  backup: BACKUP_REPORT_PREFIX,
  'recovery-test': RECOVERY_REPORT_PREFIX,
  failover: FAILOVER_REPORT_PREFIX,
};

/** One workflow of one source to measure. */
export interface FreshnessTarget {
  readonly kind: FreshnessKind;
  /** The bucket its reports are written to. */
  readonly bucket: string;
  /** The source name (the reports' `source`). */
  readonly source: string;
  /** How far back to look, seconds: longer than the alarm's threshold, so that "none found" alarms. */
  readonly lookBackSeconds: number;
}
