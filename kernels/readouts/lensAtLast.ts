// The logit lens at the last position, read at chosen tokens: for each layer's accumulated
// residual (every resid_pre, then the final resid_post), normalised as logitLens.ts does
// (accumulated_resid(apply_ln=True): centre, divide by the cached ln_final scale) and unembedded,
// the probability of each `targets` token. The compare view asks it of two runs with the same
// targets, so the rows subtract. The last row (final_post) is the model's own next-token distribution.
import type { HookedGPT2Config } from '../../src/engine/types';
import { unembed } from '../unembed';
import { AXIS_LAST, centre, type Readout } from './readout';

function lensHooks(cfg: Pick<HookedGPT2Config, 'n_layers'>): string[] {
  const L = cfg.n_layers;
  return [...Array.from({ length: L }, (_, l) => `blocks.${l}.hook_resid_pre`), `blocks.${L - 1}.hook_resid_post`];
}

/** Answers `probs`: [n_layers + 1, batch, 1, targets.length]; the key carries the count, so pad the targets to a fixed length. */
export function lensAtLast(targets: readonly number[]): Readout {
  if (targets.length === 0) throw new Error('lensAtLast: no target tokens');
  return {
    key: `lensAtLast.${targets.length}`,
    params: { targets: { type: 'int64', values: targets } },
    reads: (cfg) => [...lensHooks(cfg), 'ln_final.hook_scale'],
    emit(g) {
      const b = g.b;
      const last = (x: string): string => b.op('Slice', [x, b.ints([-1]), b.ints([Number.MAX_SAFE_INTEGER]), b.ints([1])]);
      const stack = b.op(
        'Concat',
        lensHooks(g.cfg).map((h) => b.op('Unsqueeze', [last(h), b.ints([0])])),
        { axis: { i: 0 } },
      ); // [layers, batch, 1, d_model]
      const normed = b.op('Div', [centre(b, stack), last('ln_final.hook_scale')]);
      const logits = unembed(b, g.weights, normed); // [layers, batch, 1, V]
      const lse = b.op('ReduceLogSumExp', [logits], { ...AXIS_LAST });
      const picked = b.op('Gather', [logits, g.param('targets')], { axis: { i: -1 } }); // [layers, batch, 1, T]
      g.output('probs', b.op('Exp', [b.op('Sub', [picked, lse])]));
    },
  };
}
