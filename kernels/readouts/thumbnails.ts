// Attention thumbnails: every head's pattern pooled to t × t cells by the mean over each block of
// query and key positions (position p falls in cell floor(p·t / pos), as the panel draws it).
// The pooling is M · pattern · Mᵀ with M [t, pos] holding 1/|cell| where a position belongs to a
// cell, built in the graph from the run's length, so one session serves every length.
import type { GraphBuilder } from '../../src/engine/onnx/builder';
import type { Readout } from './readout';

/** M [t, pos] from the tokens' length (tokens int64 [batch, pos]). */
function poolingMatrix(b: GraphBuilder, tokens: string, t: number): string {
  const len = b.op('Gather', [b.op('Shape', [tokens], undefined, { type: 'int64' }), b.ints([1])], { axis: { i: 0 } }); // [1]
  const len0 = b.op('Squeeze', [len, b.ints([0])]); // []
  const positions = b.op('Range', [b.constant('int64', [0], []), len0, b.constant('int64', [1], [])]); // [pos]
  const cellOf = b.op('Div', [b.op('Mul', [positions, b.constant('int64', [t], [])]), len0]); // integer division: [pos]
  const cells = b.ints(Array.from({ length: t }, (_, i) => i)); // [t]
  const member = b.op('Equal', [b.op('Unsqueeze', [cellOf, b.ints([0])]), b.op('Unsqueeze', [cells, b.ints([1])])], undefined, {
    type: 'bool',
  }); // [t, pos]
  const ones = b.op('Cast', [member], { to: { i: 1 } }, { type: 'float32' });
  const count = b.op('Max', [b.op('ReduceSum', [ones, b.ints([1])], { keepdims: { i: 1 } }), b.scalarF(1)]); // [t, 1]
  return b.op('Div', [ones, count]);
}

/** Answer `thumbs`: [n_layers, batch, n_heads, t, t]. `t` must not exceed the run's length. */
export function thumbnails(t: number): Readout {
  if (!Number.isInteger(t) || t < 1) throw new Error(`thumbnail size must be >= 1, got ${t}`);
  return {
    key: `thumbnails.${t}`,
    params: {},
    emit(g) {
      const b = g.b;
      const m = poolingMatrix(b, g.tokens, t);
      const mT = b.op('Transpose', [m], { perm: { ints: [1, 0] } });
      const layers: string[] = [];
      for (let l = 0; l < g.cfg.n_layers; l++) {
        const pooled = b.op('MatMul', [b.op('MatMul', [m, `blocks.${l}.attn.hook_pattern`]), mT]); // [batch, n_heads, t, t]
        // Pooled before the next layer starts, so each [heads, pos, pos] pattern is freed at once.
        if (l + 1 < g.cfg.n_layers) g.before(pooled, `blocks.${l + 1}.hook_resid_pre`);
        layers.push(b.op('Unsqueeze', [pooled, b.ints([0])]));
      }
      g.output('thumbs', layers.length === 1 ? layers[0]! : b.op('Concat', layers, { axis: { i: 0 } }));
    },
  };
}
