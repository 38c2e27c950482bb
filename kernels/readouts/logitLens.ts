// The logit lens at positions [from, to): each layer's accumulated residual (every resid_pre,
// then the final resid_post), normalised as accumulated_resid(apply_ln=True) does with the cached
// ln_final scale (centre, divide; LN weights live in W_U once folded), unembedded, and reduced
// to the top token, its probability and the actual next token's probability. The unembedded
// rows [(n_layers+1)·w, d_vocab] live only inside onnxruntime, so callers bound w.
import type { HookedGPT2Config } from '../../src/engine/types';
import { unembed } from '../unembed';
import { AXIS_LAST, centre, sliceAxis, type Readout } from './readout';

export function logitLensLabels(cfg: Pick<HookedGPT2Config, 'n_layers'>): string[] {
  return [...Array.from({ length: cfg.n_layers }, (_, l) => `${l}_pre`), 'final_post'];
}

/** Each layer's accumulated residual (every resid_pre, the final resid_post), then ln_final's scale. */
function lensHooks(cfg: Pick<HookedGPT2Config, 'n_layers'>): string[] {
  const L = cfg.n_layers;
  return [...Array.from({ length: L }, (_, l) => `blocks.${l}.hook_resid_pre`), `blocks.${L - 1}.hook_resid_post`, 'ln_final.hook_scale'];
}

/** Answers `topIds` (int64), `topProbs`, `nextProb`: [n_layers + 1, batch, w, 1]; nextProb is garbage at the last position. */
export function logitLens(from: number, to: number): Readout {
  return {
    key: 'logitLens',
    params: { from: { type: 'int64', values: [from] }, to: { type: 'int64', values: [to] } },
    reads: (cfg) => lensHooks(cfg),
    emit(g) {
      const b = g.b;
      const L = g.cfg.n_layers;
      const [lo, hi] = [g.param('from'), g.param('to')];
      const hooks = lensHooks(g.cfg).slice(0, L + 1);
      const stack = b.op(
        'Concat',
        hooks.map((h) => b.op('Unsqueeze', [sliceAxis(b, h, lo, hi, 1), b.ints([0])])),
        { axis: { i: 0 } },
      ); // [layers, batch, w, d_model]
      const scale = sliceAxis(b, 'ln_final.hook_scale', lo, hi, 1); // [batch, w, 1]
      const normed = b.op('Div', [centre(b, stack), scale]);
      const logits = unembed(b, g.weights, normed); // [layers, batch, w, V]
      const lse = b.op('ReduceLogSumExp', [logits], { ...AXIS_LAST });
      const top = b.op('ReduceMax', [logits], { ...AXIS_LAST });
      const arg = b.op('ArgMax', [logits], { axis: { i: -1 }, keepdims: { i: 1 } }, { type: 'int64' });
      const next = sliceAxis(b, g.nextTokens(), lo, hi, 1); // [batch, w, 1]
      const nextRep = b.op('Expand', [b.op('Unsqueeze', [next, b.ints([0])]), b.op('Shape', [lse], undefined, { type: 'int64' })]);
      const nextLogit = b.op('GatherElements', [logits, nextRep], { axis: { i: -1 } });
      g.output('topIds', arg);
      g.output('topProbs', b.op('Exp', [b.op('Sub', [top, lse])]));
      g.output('nextProb', b.op('Exp', [b.op('Sub', [nextLogit, lse])]));
    },
  };
}
