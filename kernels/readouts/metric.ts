// The metric a sweep asks of each batch entry (runMetricBatch, activation patching): one number
// per entry, so a batched run hands back [batch] values instead of [batch, pos, d_vocab] logits.
//   logitDiff: logits[last, answer] − logits[last, wrong], TransformerLens's logits_to_ave_logit_diff
//     for one prompt (the IOI and factual-recall demos' metric); only the last position is unembedded.
//   loss: mean over positions of −log p(next token), HookedTransformer's loss_fn with per_token=False;
//     in a right-padded batch, over each prompt's positions whose next token is real.
// The tokens may be one prompt shared by every batch entry (runMetricBatch widens the batch at its
// earliest patched hook), so the loss widens the next tokens to the logits' batch.
import type { Readout } from './readout';

export type Metric = { readonly kind: 'logitDiff'; readonly answer: number; readonly wrong: number } | { readonly kind: 'loss' };

/** Answer `metric`: [batch] (float32). */
export function metric(m: Metric, d_vocab_out: number): Readout {
  if (m.kind === 'logitDiff') {
    for (const t of [m.answer, m.wrong]) {
      if (!Number.isInteger(t) || t < 0 || t >= d_vocab_out) throw new Error(`answer token ${t} is not an id in 0..${d_vocab_out - 1}`);
    }
    return {
      key: 'metric:logitDiff',
      logitsAt: 'last',
      // The two answer ids are a parameter, so one session serves every pair of answers.
      params: { answers: { type: 'int64', values: [m.answer, m.wrong] } },
      emit(g) {
        const b = g.b;
        const picked = b.op('Gather', [g.logits, g.param('answers')], { axis: { i: 2 } }); // [batch, 1, 2]
        const flat = b.op('Reshape', [picked, b.ints([-1, 2])]); // [batch, 2]
        const a = b.op('Gather', [flat, b.constant('int64', [0], [])], { axis: { i: 1 } }); // [batch]
        const w = b.op('Gather', [flat, b.constant('int64', [1], [])], { axis: { i: 1 } }); // [batch]
        g.output('metric', b.op('Sub', [a, w]));
      },
    };
  }
  return {
    key: 'metric:loss',
    params: {},
    windows: 'meanNext', // a mean over the predicting positions of whatever tokens it is fed
    emit(g) {
      const b = g.b;
      const logProbs = b.op('LogSoftmax', [g.logits], { axis: { i: -1 } }); // [batch, pos, d_vocab_out]
      const predicting = b.op('Slice', [logProbs, b.ints([0]), b.ints([-1]), b.ints([1])]); // [batch, pos-1, d_vocab_out]
      const next = b.op('Slice', [g.tokens, b.ints([1]), b.ints([Number.MAX_SAFE_INTEGER]), b.ints([1])]); // [batch, pos-1]
      const rowsShape = b.op('Slice', [b.op('Shape', [predicting], undefined, { type: 'int64' }), b.ints([0]), b.ints([2]), b.ints([0])]);
      const idxShape = b.op('Concat', [rowsShape, b.ints([1])], { axis: { i: 0 } }); // [batch, pos-1, 1]
      const idx = b.op('Expand', [b.op('Unsqueeze', [next, b.ints([2])]), idxShape]); // [batch, pos-1, 1]
      const picked = b.op('GatherElements', [predicting, idx], { axis: { i: 2 } }); // [batch, pos-1, 1]
      let mean: string;
      if (g.attentionMask === null) {
        mean = b.op('ReduceMean', [picked], { axes: { ints: [1, 2] }, keepdims: { i: 0 } }); // [batch]
      } else {
        // A padded batch: only positions whose next token is real count (loss_fn's attention_mask).
        const real = b.op(
          'Cast',
          [b.op('Slice', [g.attentionMask, b.ints([1]), b.ints([Number.MAX_SAFE_INTEGER]), b.ints([1])])],
          { to: { i: 1 } },
          { type: 'float32' },
        ); // [batch, pos-1]
        const sum = b.op('ReduceSum', [b.op('Mul', [b.op('Squeeze', [picked, b.ints([2])]), real]), b.ints([1])], { keepdims: { i: 0 } });
        mean = b.op('Div', [sum, b.op('ReduceSum', [real, b.ints([1])], { keepdims: { i: 0 } })]); // [batch]
      }
      g.output('metric', b.op('Neg', [mean]));
    },
  };
}
