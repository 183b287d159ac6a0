/**
 * The CloudWatch metrics the reconciler and sweep publish (namespace Cairn, one dimension Source),
 * named by the same METRICS constants the functions' PowertoolsSink writes them with, so the
 * dashboard and alarms cannot query a name nothing publishes.
 */
import type { Duration } from 'aws-cdk-lib';
import { Metric } from 'aws-cdk-lib/aws-cloudwatch';
import { METRICS, METRICS_NAMESPACE, SOURCE_DIMENSION, type MetricName } from '../adapters/powertools-sink.js';

export interface SourceMetricOptions {
  statistic: string;
  period: Duration;
  /** The legend on a graph; alarms leave it out, so CloudWatch shows the plain metric. */
  label?: string;
}

export function sourceMetric(name: MetricName, source: string, options: SourceMetricOptions): Metric {
  return new Metric({
    namespace: METRICS_NAMESPACE,
    metricName: METRICS[name],
    dimensionsMap: { [SOURCE_DIMENSION]: source },
    statistic: options.statistic,
    period: options.period,
    ...(options.label ? { label: options.label } : {}),
  });
}
