/**
 * The one structured logger and the one metrics (CloudWatch EMF) instance every handler uses.
 *
 * Service name from `POWERTOOLS_SERVICE_NAME` (set by the constructs per function); metrics in the namespace of
 * ./metrics. Handlers call `metrics.publishStoredMetrics()` before they return.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { METRICS_NAMESPACE } from './metrics';


const serviceName = process.env.POWERTOOLS_SERVICE_NAME ?? 'cdk-backup-dr';

/** Structured JSON logger (Powertools). Never pass it a secret. */
export const logger: Logger = new Logger({ serviceName });

/** EMF metrics (Powertools), namespace {@link METRICS_NAMESPACE}. */
export const metrics: Metrics = new Metrics({ namespace: METRICS_NAMESPACE, serviceName });

/**
 * The small logging surface the cores (dump, verify) take, so they run under Lambda (Powertools), in the CLI
 * (stderr) or silently in tests. Attributes must never contain a secret.
 */
export interface LogSink {
  info(message: string, attributes?: Record<string, string | number | boolean | null>): void;
  warn(message: string, attributes?: Record<string, string | number | boolean | null>): void;
}

/** A {@link LogSink} writing to the Powertools {@link logger}. */
export const powertoolsLogSink: LogSink = {
  info: (message, attributes) => (attributes ? logger.info(message, attributes) : logger.info(message)),
  warn: (message, attributes) => (attributes ? logger.warn(message, attributes) : logger.warn(message)),
};

/** A {@link LogSink} that drops everything. */
export const silentLogSink: LogSink = {
  info: () => undefined,
  warn: () => undefined,
};
