// Direct logit attribution at one position for one token: how much each component written into
// the residual stream (embed, pos_embed, each head's z·W_O without b_O, each MLP's output) pushes
// that token's logit, after the final LayerNorm applied with its cached scale (centre, divide), as
// TransformerLens's cache.logit_attrs does. Position and token are graph inputs.
import type { HookedGPT2Config } from '../../src/engine/types';
import { unembedColumns } from '../unembed';
import { centre, type Readout } from './readout';

/** Labels in answer order: embed, pos_embed, each layer's mlp_out, then every head L{l}H{h}. */
export function dlaLabels(cfg: Pick<HookedGPT2Config, 'n_layers' | 'n_heads'>): string[] {
  const labels = ['embed', 'pos_embed', ...Array.from({ length: cfg.n_layers }, (_, l) => `${l}_mlp_out`)];
  for (let l = 0; l < cfg.n_layers; l++) for (let h = 0; h < cfg.n_heads; h++) labels.push(`L${l}H${h}`);
  return labels;
}

/** Answer `values`: [components, 1] in dlaLabels order. */
export function dla(pos: number, token: number): Readout {
  return {
    key: 'dla',
    params: { pos: { type: 'int64', values: [pos] }, token: { type: 'int64', values: [token] } },
    reads: (cfg) => [
      'hook_embed',
      'hook_pos_embed',
      ...Array.from({ length: cfg.n_layers }, (_, l) => [`blocks.${l}.hook_mlp_out`, `blocks.${l}.attn.hook_z`]).flat(),
      'ln_final.hook_scale',
    ],
    emit(g) {
      const b = g.b;
      const { n_layers: L, n_heads: H, d_head, d_model: D } = g.cfg;
      const at = g.param('pos');
      const row = (hook: string): string => b.op('Reshape', [b.op('Gather', [hook, at], { axis: { i: 1 } }), b.ints([1, D])]); // [1, d_model]
      const parts = ['hook_embed', 'hook_pos_embed', ...Array.from({ length: L }, (_, l) => `blocks.${l}.hook_mlp_out`)].map(row);
      // Run as a forward (nothing held), each layer's row is taken before the next layer starts, so
      // that layer's [pos, …] z and mlp_out can go: otherwise onnxruntime keeps every layer's until the end.
      for (let l = 0; l + 1 < L; l++) g.before(parts[2 + l]!, `blocks.${l + 1}.hook_resid_pre`);
      for (let l = 0; l < L; l++) {
        const zRow = b.op('Gather', [`blocks.${l}.attn.hook_z`, at], { axis: { i: 1 } });
        const z = b.op('Reshape', [zRow, b.ints([H, 1, d_head])]);
        const wO = b.op('Reshape', [`blocks.${l}.attn.W_O`, b.ints([H, d_head, D])]);
        const heads = b.op('Reshape', [b.op('MatMul', [z, wO]), b.ints([H, D])]); // each head's write [n_heads, d_model]
        // Also before the next layer: a half-stored W_O is cast to float32 for its block, and used
        // here at the end its cast would stay alive through every later layer.
        if (l + 1 < L) g.before(heads, `blocks.${l + 1}.hook_resid_pre`);
        parts.push(heads);
      }
      const stack = b.op('Concat', parts, { axis: { i: 0 } }); // [components, d_model]
      const scale = b.op('Reshape', [b.op('Gather', ['ln_final.hook_scale', at], { axis: { i: 1 } }), b.ints([1, 1])]);
      const direction = unembedColumns(b, g.weights, g.param('token')); // [d_model, 1]
      g.output('values', b.op('MatMul', [b.op('Div', [centre(b, stack), scale]), direction]));
    },
  };
}
