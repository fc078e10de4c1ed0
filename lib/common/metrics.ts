import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { METRICS_NAMESPACE } from '../../lambda/common/metrics';

/**
 * A metric of this package's namespace, as the handlers publish it (names and dimensions: lambda/common/metrics.ts).
 * `props` override the defaults (`period`, `statistic`, …), as on every `metricX(props)` of aws-cdk-lib.
 */
export function packageMetric(
  metricName: string,
  dimensionsMap: Record<string, string>,
  defaults: { readonly period: Duration; readonly statistic: string },
  props?: cloudwatch.MetricOptions,
): cloudwatch.Metric {
  return new cloudwatch.Metric({ namespace: METRICS_NAMESPACE, metricName, dimensionsMap, ...defaults, ...props });
}
