// Residual-stream norms per component and position: the L2 norm of each d_model vector of
// accumulated_resid(incl_mid=True), i.e. every resid_pre and resid_mid, then the final resid_post.
import type { HookedGPT2Config } from '../../src/engine/types';
import { type Readout } from './readout';

/** The components in order, labelled as TransformerLens's accumulated_resid labels them. */
export function residualComponents(cfg: Pick<HookedGPT2Config, 'n_layers'>): { hooks: string[]; labels: string[] } {
  const hooks: string[] = [];
  const labels: string[] = [];
  for (let l = 0; l < cfg.n_layers; l++) {
    hooks.push(`blocks.${l}.hook_resid_pre`, `blocks.${l}.hook_resid_mid`);
    labels.push(`${l}_pre`, `${l}_mid`);
  }
  hooks.push(`blocks.${cfg.n_layers - 1}.hook_resid_post`);
  labels.push('final_post');
  return { hooks, labels };
}

/** Answer `norms`: [components, batch, pos]. */
export function residualNorms(): Readout {
  return {
    key: 'residualNorms',
    params: {},
    emit(g) {
      const b = g.b;
      const { hooks } = residualComponents(g.cfg);
      const rows = hooks.map((h) => b.op('ReduceL2', [h], { axes: { ints: [-1] }, keepdims: { i: 0 } })); // [batch, pos]
      // Each layer's norms are taken before the next layer starts: otherwise onnxruntime may leave
      // them to the end and keep every resid_pre and resid_mid alive until then (gpt2-medium's
      // shape at 1,024 tokens: 48 × 4 MiB).
      for (let l = 0; l + 1 < g.cfg.n_layers; l++) {
        g.before(rows[2 * l]!, `blocks.${l + 1}.hook_resid_pre`);
        g.before(rows[2 * l + 1]!, `blocks.${l + 1}.hook_resid_pre`);
      }
      const stacked = rows.map((r) => b.op('Unsqueeze', [r, b.ints([0])]));
      g.output('norms', stacked.length === 1 ? stacked[0]! : b.op('Concat', stacked, { axis: { i: 0 } }));
    },
  };
}
