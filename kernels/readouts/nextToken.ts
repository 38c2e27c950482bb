// The next-token prediction at the last position (inline logits, prediction hovers): the top-k
// tokens with probabilities, and the probability and rank of one `target` token (the token that
// really follows, for a hover; -1 for none). Only the last position is unembedded.
import { AXIS_LAST, type Readout } from './readout';

/** Answers `topIds` (int64 [batch, 1, k]), `topProbs` [batch, 1, k], `targetProb` and `targetRank` (int64) [batch, 1, 1]. */
export function nextToken(k: number, target: number | null): Readout {
  if (!Number.isInteger(k) || k < 1) throw new Error(`top-k needs k >= 1, got ${k}`);
  return {
    key: 'nextToken',
    logitsAt: 'last',
    params: { k: { type: 'int64', values: [k] }, target: { type: 'int64', values: [target ?? 0] } },
    emit(g) {
      const b = g.b;
      const lse = b.op('ReduceLogSumExp', [g.logits], { ...AXIS_LAST }); // [batch, 1, 1]
      const [topLogits, topIds] = b.opMulti('TopK', [g.logits, g.param('k')], ['float32', 'int64'], {
        axis: { i: -1 },
        largest: { i: 1 },
        sorted: { i: 1 },
      });
      const index = b.op('Reshape', [g.param('target'), b.ints([1, 1, 1])]);
      const x = b.op('GatherElements', [g.logits, b.op('Expand', [index, b.op('Shape', [lse], undefined, { type: 'int64' })])], {
        axis: { i: -1 },
      });
      const above = b.op('Cast', [b.op('Greater', [g.logits, x], undefined, { type: 'bool' })], { to: { i: 1 } }, { type: 'float32' });
      const count = b.op('ReduceSum', [above, b.ints([-1])], { keepdims: { i: 1 } });
      g.output('topIds', topIds!);
      g.output('topProbs', b.op('Exp', [b.op('Sub', [topLogits!, lse])]));
      g.output('targetProb', b.op('Exp', [b.op('Sub', [x, lse])]));
      g.output('targetRank', b.op('Add', [b.op('Cast', [count], { to: { i: 7 } }, { type: 'int64' }), b.constant('int64', [1], [])]));
    },
  };
}
