// One head's full attention pattern: hook_pattern of one layer, one head (a graph input, so every
// head of the layer shares a session). Answer `pattern`: [batch, 1, query_pos, key_pos].
import type { Readout } from './readout';

export function headPattern(layer: number, head: number): Readout {
  return {
    key: `headPattern.${layer}`,
    params: { head: { type: 'int64', values: [head] } },
    emit(g) {
      g.output('pattern', g.b.op('Gather', [`blocks.${layer}.attn.hook_pattern`, g.param('head')], { axis: { i: 1 } }));
    },
  };
}
