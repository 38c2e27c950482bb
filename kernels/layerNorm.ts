// LayerNorm as TransformerLens defines it (components/layer_norm.py, layer_norm_pre.py):
//   x = x - mean(x); scale = sqrt(mean(x²) + eps)               → hook_scale
//   'LN', TL 3.x: normalized = x / scale → hook_normalized; out = normalized * w + b
//                 (layer_norm.py:56-57 @v3.5.1; moved there by TL PR #770, commit ccf852b0)
//   'LN', TL 2.x: out = x / scale * w + b → hook_normalized     (layer_norm.py:55-56 @v2.9.1)
//   'LNPre':      out = x / scale → hook_normalized              (layer_norm_pre.py:54 @v3.5.1, unchanged
//                 since 2.x; w, b already folded into what follows)
// So with fold_ln the hook is the same in both releases; without it, only 2.x includes w and b.
// Works on any rank: the per-head inputs of use_attn_in/use_split_qkv_input are [batch, pos, head_index, d_model].
import type { GraphBuilder, HookDecl } from '../src/engine/onnx/builder';
import type { Tensor, TransformerLensVersion } from '../src/engine/types';

export function layerNormHooks(prefix: string, perHead: boolean): HookDecl[] {
  const lead = perHead ? (['batch', 'pos', 'head_index'] as const) : (['batch', 'pos'] as const);
  return [
    { name: `${prefix}.hook_scale`, dims: [...lead, 1] },
    { name: `${prefix}.hook_normalized`, dims: [...lead, 'd_model'] },
  ];
}

export interface LayerNormParams {
  /** TransformerLens parameter prefix, e.g. 'blocks.0.ln1' or 'ln_final'. */
  readonly prefix: string;
  readonly w: Tensor | null;
  readonly b: Tensor | null;
  readonly eps: number;
  readonly perHead: boolean;
  /** Where hook_normalized sits when w and b are present: before them ('3.x') or after ('2.x'). */
  readonly tlVersion: TransformerLensVersion;
}

/**
 * Emits the layer norm of x [..., d_model]. With `named` false the same arithmetic is emitted
 * without hook points (the query/key copies under use_split_qkv_input, see transformerBlock.ts).
 */
export function emitLayerNorm(b: GraphBuilder, x: string, p: LayerNormParams, named = true): string {
  const [scaleHook, normHook] = layerNormHooks(p.prefix, p.perHead);
  const mean = b.op('ReduceMean', [x], { axes: { ints: [-1] }, keepdims: { i: 1 } }); // [..., 1]
  const centered = b.op('Sub', [x, mean]); // [..., d_model]
  const sq = b.op('Mul', [centered, centered]); // [..., d_model]
  const variance = b.op('ReduceMean', [sq], { axes: { ints: [-1] }, keepdims: { i: 1 } }); // [..., 1]
  let scale = b.op('Sqrt', [b.op('Add', [variance, b.scalarF(p.eps)])]); // [..., 1]
  if (named) scale = b.hook(scaleHook!, scale);
  let normalized = b.op('Div', [centered, scale]); // [..., d_model]
  if (p.w === null && p.b === null) return named ? b.hook(normHook!, normalized) : normalized; // LNPre
  if (p.w === null || p.b === null) throw new Error(`${p.prefix}: layer norm needs both w and b, or neither (folded)`);
  // 3.x hooks the unit-variance vector, so a hook that replaces it still gets the gain and bias.
  if (named && p.tlVersion === '3.x') normalized = b.hook(normHook!, normalized);
  // Shared by the three copies under use_split_qkv_input, so each weight is stored once.
  const w = b.once(`weight:${p.prefix}.w`, () => b.weight(`${p.prefix}.w`, p.w!)); // [d_model]
  const bias = b.once(`weight:${p.prefix}.b`, () => b.weight(`${p.prefix}.b`, p.b!)); // [d_model]
  const out = b.op('Add', [b.op('Mul', [normalized, w]), bias]); // [..., d_model]
  return named && p.tlVersion === '2.x' ? b.hook(normHook!, out) : out;
}
