// The metrics a sweep asks of each batch entry, as graph pieces appended after the unembedding
// (a GraphReadout): only [batch] numbers leave the session, never [batch, pos, d_vocab] logits.
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
import type { GraphReadout } from '../graphReadout';
import type { LogitsAt } from '../graph';

export type Metric = { readonly kind: 'logitDiff'; readonly answer: number; readonly wrong: number } | { readonly kind: 'loss' };

export const METRIC_OUTPUT = 'metric';

/** Which positions the graph must unembed for a metric: the logit difference reads only the last. */
export function metricLogitsAt(m: Metric): LogitsAt {
  return m.kind === 'logitDiff' ? 'last' : 'all';
}

export function describeMetric(m: Metric): string {
  return m.kind === 'logitDiff' ? `logit[${m.answer}] − logit[${m.wrong}] at the last position` : 'mean next-token loss';
}

/** The metric as a readout: output `metric` [batch] (float32). */
export function metricReadout(m: Metric, d_vocab_out: number): GraphReadout {
  if (m.kind === 'logitDiff') {
    for (const t of [m.answer, m.wrong]) {
      if (!Number.isInteger(t) || t < 0 || t >= d_vocab_out) throw new Error(`answer token ${t} is not an id in 0..${d_vocab_out - 1}`);
    }
    return {
      key: 'metric:logitDiff',
      emit(b, logits) {
        // The two answer ids are a feed, so one session serves every pair of answers.
        const ids = b.input('metric/answers', 'int64', [2]);
        const picked = b.op('Gather', [logits, ids], { axis: { i: 2 } }); // [batch, 1, 2]
        const flat = b.op('Reshape', [picked, b.ints([-1, 2])]); // [batch, 2]
        const a = b.op('Gather', [flat, b.constant('int64', [0], [])], { axis: { i: 1 } }); // [batch]
        const w = b.op('Gather', [flat, b.constant('int64', [1], [])], { axis: { i: 1 } }); // [batch]
        b.op('Sub', [a, w], undefined, { out: METRIC_OUTPUT });
        return [{ name: METRIC_OUTPUT, dims: ['batch'] }];
      },
      feeds: () => ({ 'metric/answers': { type: 'int64', dims: [2], data: BigInt64Array.from([BigInt(m.answer), BigInt(m.wrong)]) } }),
    };
  }
  return {
    key: 'metric:loss',
    emit(b, logits, tokens) {
      const big = Number.MAX_SAFE_INTEGER;
      const logProbs = b.op('LogSoftmax', [logits], { axis: { i: -1 } }); // [batch, pos, d_vocab_out]
      const predicting = b.op('Slice', [logProbs, b.ints([0]), b.ints([-1]), b.ints([1])]); // [batch, pos-1, d_vocab_out]
      const next = b.op('Slice', [tokens, b.ints([1]), b.ints([big]), b.ints([1])]); // [batch, pos-1]
      // The tokens may be one prompt shared by every row (runMetricBatch): widen to the logits' batch.
      const rowsShape = b.op('Slice', [b.op('Shape', [predicting], undefined, { type: 'int64' }), b.ints([0]), b.ints([2]), b.ints([0])]);
      const idxShape = b.op('Concat', [rowsShape, b.ints([1])], { axis: { i: 0 } }); // [batch, pos-1, 1]
      const idx = b.op('Expand', [b.op('Unsqueeze', [next, b.ints([2])]), idxShape]); // [batch, pos-1, 1]
      const picked = b.op('GatherElements', [predicting, idx], { axis: { i: 2 } }); // [batch, pos-1, 1]
      const mean = b.op('ReduceMean', [picked], { axes: { ints: [1, 2] }, keepdims: { i: 0 } }); // [batch]
      b.op('Neg', [mean], undefined, { out: METRIC_OUTPUT });
      return [{ name: METRIC_OUTPUT, dims: ['batch'] }];
    },
    feeds: () => ({}),
  };
}
