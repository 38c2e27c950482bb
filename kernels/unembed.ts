// Unembedding (TransformerLens components/unembed.py): logits = x·W_U + b_U.
// TransformerLens 3.x hooks its input and output (unembed.py:30-31, 36, 40 @v3.5.1; added in
// commit 5fc23e7c, PR #1131): hook_in is ln_final's output [batch, pos, d_model], hook_out the
// logits [batch, pos, d_vocab_out]. TransformerLens 2.x's Unembed has no hook points.
import type { GraphBuilder, HookDecl } from '../src/engine/onnx/builder';
import type { HookedGPT2Config, Tensor } from '../src/engine/types';

type UnembedCfg = Pick<HookedGPT2Config, 'transformer_lens_version'>;

/** The logits hook: a graph that unembeds only the last position has no full-size tensor for it. */
export const UNEMBED_HOOK_OUT = 'unembed.hook_out';

export function unembedHooks(cfg: UnembedCfg): HookDecl[] {
  if ((cfg.transformer_lens_version ?? '3.x') === '2.x') return [];
  return [
    { name: 'unembed.hook_in', dims: ['batch', 'pos', 'd_model'] },
    { name: UNEMBED_HOOK_OUT, dims: ['batch', 'pos', 'd_vocab_out'] },
  ];
}

/**
 * The hook point the unembedding reads, whole: its value at a position fixes that position's
 * logits. 3.x: unembed.hook_in; 2.x has no unembed hooks, and its ln_final.hook_normalized is
 * LayerNorm's output after the gain and bias (kernels/layerNorm.ts), which is what the unembedding
 * reads. HookedGPT2.readout holds it to unembed a long prompt in windows of positions.
 */
export function unembedInputHook(cfg: UnembedCfg): string {
  return (cfg.transformer_lens_version ?? '3.x') === '2.x' ? 'ln_final.hook_normalized' : 'unembed.hook_in';
}

/**
 * x [batch, pos, d_model] → logits under the graph name `out`: [batch, pos, d_vocab_out], or
 * [batch, 1, d_vocab_out] with `lastOnly` (hook_in still sees every position; hook_out is not
 * emitted, since no full-size logits exist: HookedGPT2 runs the full graph when it is asked for).
 * `lastIndex` (int64 [batch]): in a right-padded batch, each prompt's own last real position,
 * which `lastOnly` unembeds instead of the batch's last.
 */
export function emitUnembed(
  b: GraphBuilder,
  cfg: UnembedCfg,
  x: string,
  W_U: Tensor,
  b_U: Tensor,
  out: string,
  lastOnly: boolean,
  lastIndex?: string,
): string {
  const [hookIn, hookOut] = unembedHooks(cfg);
  let input = hookIn ? b.hook(hookIn, x) : x; // [batch, pos, d_model]
  if (lastOnly)
    input =
      lastIndex === undefined
        ? b.op('Slice', [input, b.ints([-1]), b.ints([Number.MAX_SAFE_INTEGER]), b.ints([1])])
        : rowAt(b, input, lastIndex); // [batch, 1, d_model]
  const wU = b.weight('unembed.W_U', W_U); // [d_model, d_vocab_out]
  const bU = b.weight('unembed.b_U', b_U); // [d_vocab_out]
  const logits = b.op('Add', [b.op('MatMul', [input, wU]), bU]);
  if (hookOut === undefined || lastOnly) return b.op('Identity', [logits], undefined, { out });
  return b.op('Identity', [b.hook(hookOut, logits)], undefined, { out });
}

/** x [batch, pos, d] → [batch, 1, d]: entry i's row at index[i] (int64 [batch]). */
export function rowAt(b: GraphBuilder, x: string, index: string): string {
  const width = b.op('Slice', [b.op('Shape', [x], undefined, { type: 'int64' }), b.ints([2]), b.ints([3]), b.ints([0])]); // [1]: d
  const shape = b.op('Concat', [b.ints([1, 1]), width], { axis: { i: 0 } }); // [1, 1, d]
  const idx = b.op('Expand', [b.op('Reshape', [index, b.ints([-1, 1, 1])]), shape]); // [batch, 1, d]
  return b.op('GatherElements', [x, idx], { axis: { i: 1 } });
}
