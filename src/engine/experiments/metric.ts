// The metrics a sweep asks of each batch entry: the readout itself lives with the other
// questions in kernels/readouts/metric.ts; this module names them for the experiments and the UI.
import type { Metric } from '../../../kernels/readouts/metric';

export { metric as metricReadout, type Metric } from '../../../kernels/readouts/metric';

/** The metric readout's answer name ([batch] float32). */
export const METRIC_OUTPUT = 'metric';

export function describeMetric(m: Metric): string {
  return m.kind === 'logitDiff' ? `logit[${m.answer}] − logit[${m.wrong}] at the last position` : 'mean next-token loss';
}
