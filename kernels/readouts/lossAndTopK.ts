// The first view's next-token answers from the logits: per-position loss of the actual next
// token, the top-k next tokens with probabilities, and the probability and rank of the actual
// next token. Answers are [batch, pos, 1] / [batch, pos, k]; the last position has no next token
// (its loss, probability and rank are garbage in the graph and masked by the caller).
import { AXIS_LAST, type Readout } from './readout';

export function lossAndTopK(k: number): Readout {
  if (!Number.isInteger(k) || k < 1) throw new Error(`top-k needs k >= 1, got ${k}`);
  return {
    key: 'lossAndTopK',
    params: { k: { type: 'int64', values: [k] } },
    windows: 'rows', // every answer of position p comes from p's logits and next token
    emit(g) {
      const b = g.b;
      const lse = b.op('ReduceLogSumExp', [g.logits], { ...AXIS_LAST }); // [batch, pos, 1]
      // TopK on the logits themselves: a [pos, V] log-softmax would be one more copy of the largest tensor.
      const [topLogits, topIds] = b.opMulti('TopK', [g.logits, g.param('k')], ['float32', 'int64'], {
        axis: { i: -1 },
        largest: { i: 1 },
        sorted: { i: 1 },
      });
      const next = b.op('GatherElements', [g.logits, g.nextTokens()], { axis: { i: -1 } }); // [batch, pos, 1]
      const loss = b.op('Sub', [lse, next]);
      // 1 + how many tokens have a strictly larger logit: the rank TransformerLens users read off a sort.
      // (Counted in float32, exact below 2^24 tokens, at half the memory of an int64 [pos, V].)
      const above = b.op('Cast', [b.op('Greater', [g.logits, next], undefined, { type: 'bool' })], { to: { i: 1 } }, { type: 'float32' });
      const count = b.op('ReduceSum', [above, b.ints([-1])], { keepdims: { i: 1 } });
      const rank = b.op('Add', [b.op('Cast', [count], { to: { i: 7 } }, { type: 'int64' }), b.constant('int64', [1], [])]);
      g.output('loss', loss);
      g.output('nextProb', b.op('Exp', [b.op('Neg', [loss])]));
      g.output('nextRank', rank);
      g.output('topIds', topIds!);
      g.output('topProbs', b.op('Exp', [b.op('Sub', [topLogits!, lse])]));
    },
  };
}
