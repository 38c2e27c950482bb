// A layer's top neurons: the `count` neurons of mlp.hook_post with the largest activation
// anywhere in positions [from, to), best first (ties: lower index first, as ONNX's TopK), their
// activations at every position, and one neuron's column (`neuron`, or the best one when -1).
import type { Readout } from './readout';

/** Answers `ids` (int64 [batch, count]), `values` [batch, pos, count], `neuron` (int64 [1]), `column` [batch, pos, 1]. */
export function topNeurons(layer: number, count: number, from: number, to: number, neuron: number | null): Readout {
  return {
    key: `topNeurons.${layer}`,
    params: {
      count: { type: 'int64', values: [count] },
      from: { type: 'int64', values: [from] },
      to: { type: 'int64', values: [to] },
      neuron: { type: 'int64', values: [neuron ?? -1] },
    },
    emit(g) {
      const b = g.b;
      const post = `blocks.${layer}.mlp.hook_post`; // [batch, pos, d_mlp]
      const window = b.op('Slice', [post, g.param('from'), g.param('to'), b.ints([1])]);
      const peak = b.op('ReduceMax', [window], { axes: { ints: [1] }, keepdims: { i: 0 } }); // [batch, d_mlp]
      const [, ids] = b.opMulti('TopK', [peak, g.param('count')], ['float32', 'int64'], {
        axis: { i: -1 },
        largest: { i: 1 },
        sorted: { i: 1 },
      });
      const flatIds = b.op('Reshape', [ids!, b.ints([-1])]); // [count] (batch 1)
      const asked = g.param('neuron');
      const best = b.op('Slice', [flatIds, b.ints([0]), b.ints([1]), b.ints([0])]); // [1]
      const chosen = b.op(
        'Where',
        [b.op('Less', [asked, b.constant('int64', [0], [])], undefined, { type: 'bool' }), best, asked],
        undefined,
        { type: 'int64' },
      );
      g.output('ids', ids!);
      g.output('values', b.op('Gather', [post, flatIds], { axis: { i: 2 } }));
      g.output('neuron', chosen);
      g.output('column', b.op('Gather', [post, chosen], { axis: { i: 2 } }));
    },
  };
}
