// The metrics a sweep asks of each batch entry: the readout itself lives with the other
// questions in kernels/readouts/metric.ts; this module names them for the experiments and the UI.
//
// Read against TransformerLens v3.5.1 (tag v3.5.1), where a patching metric is any function of the
// patched run's logits: generic_activation_patch (transformer_lens/patching.py, lines 203-232) runs
// the corrupted tokens with one clean activation hooked in and calls patching_metric(patched_logits).
//   logitDiff: logits[last, answer] − logits[last, wrong]. The patching demo's get_logit_diff
//     (demos/Activation_Patching_in_TL_Demo.ipynb, cell 16) takes logits[:, -1, :], gathers the
//     answer and the incorrect token and averages over the batch; a sweep here patches one prompt,
//     so that mean is over one row. Its normalised form, ioi_metric (cell 17), is
//     (diff − CORRUPTED_BASELINE) / (CLEAN_BASELINE − CORRUPTED_BASELINE): patching.ts's normalizeMetric.
//   loss: mean over positions of −log p(next token), lm_cross_entropy_loss with per_token=False and
//     no attention mask (transformer_lens/utilities/lm_utils.py, lines 15-47): log_softmax, the
//     log-probs of tokens[1:] at positions [:-1], minus their mean. The demo's induction metric
//     (cell 37) is the other sign (mean log-prob, "higher is better") over the second half only, and
//     it is not normalised there; sweeps here normalise every metric, and (x − c)/(k − c) is the same
//     for a metric and its negative, so the normalised maps agree while the raw values are losses.
import type { Metric } from '../../../kernels/readouts/metric';

export { metric as metricReadout, type Metric } from '../../../kernels/readouts/metric';

/** The metric readout's answer name ([batch] float32). */
export const METRIC_OUTPUT = 'metric';

export function describeMetric(m: Metric): string {
  return m.kind === 'logitDiff' ? `logit[${m.answer}] − logit[${m.wrong}] at the last position` : 'mean next-token loss';
}
