// LayerNorm as TransformerLens defines it (components/layer_norm.py, layer_norm_pre.py):
//   x = x - mean(x); scale = sqrt(mean(x²) + eps)  → hook_scale
//   'LN':    normalized = x / scale * w + b         → hook_normalized
//   'LNPre': normalized = x / scale                 (w, b already folded into what follows)
// Works on any rank: the per-head inputs of use_attn_in/use_split_qkv_input are [batch, pos, head_index, d_model].
import type { GraphBuilder, HookDecl } from '../src/engine/onnx/builder';
import type { Tensor } from '../src/engine/types';

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
  if (p.w !== null && p.b !== null) {
    // Shared by the three copies under use_split_qkv_input, so each weight is stored once.
    const w = b.once(`weight:${p.prefix}.w`, () => b.weight(`${p.prefix}.w`, p.w!)); // [d_model]
    const bias = b.once(`weight:${p.prefix}.b`, () => b.weight(`${p.prefix}.b`, p.b!)); // [d_model]
    normalized = b.op('Add', [b.op('Mul', [normalized, w]), bias]);
  } else if (p.w !== null || p.b !== null) {
    throw new Error(`${p.prefix}: layer norm needs both w and b, or neither (folded)`);
  }
  return named ? b.hook(normHook!, normalized) : normalized;
}
