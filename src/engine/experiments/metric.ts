// The metrics a sweep asks of each batch entry, as graph pieces appended after the unembedding
// (a GraphReadout): only [batch] numbers leave the session, never [batch, pos, d_vocab] logits.
//   logitDiff: logits[last, answer] − logits[last, wrong], TransformerLens's logits_to_ave_logit_diff
//     for one prompt (the IOI and factual-recall demos' metric);
//   loss: mean over positions of −log p(next token), HookedTransformer's loss_fn with per_token=False.
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
