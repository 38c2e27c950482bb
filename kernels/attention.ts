// Unfused causal self-attention (TransformerLens components/abstract_attention.py): scores and
// pattern are real tensors so they can be cached, hooked and ablated.
import type { GraphBuilder, HookDecl } from '../src/engine/onnx/builder';
import type { BlockWeights, Tensor } from '../src/engine/types';
import { appendPast, causalMaskWithPast, type LayerPast } from './kvCache';
import { positions } from './posEmbed';

export interface AttentionDims {
  readonly n_heads: number;
  readonly d_head: number;
  readonly d_model: number;
  readonly use_attn_result: boolean;
}

/** In the order TransformerLens's Attention registers them (its hook_dict order). */
export function attentionHooks(prefix: string, dims: AttentionDims): HookDecl[] {
  const hooks: HookDecl[] = [
    { name: `${prefix}.hook_k`, dims: ['batch', 'pos', 'head_index', 'd_head'] },
    { name: `${prefix}.hook_q`, dims: ['batch', 'pos', 'head_index', 'd_head'] },
    { name: `${prefix}.hook_v`, dims: ['batch', 'pos', 'head_index', 'd_head'] },
    { name: `${prefix}.hook_z`, dims: ['batch', 'pos', 'head_index', 'd_head'] },
    { name: `${prefix}.hook_attn_scores`, dims: ['batch', 'head_index', 'query_pos', 'key_pos'] },
    { name: `${prefix}.hook_pattern`, dims: ['batch', 'head_index', 'query_pos', 'key_pos'] },
  ];
  if (dims.use_attn_result) {
    hooks.push({ name: `${prefix}.hook_result`, dims: ['batch', 'pos', 'head_index', 'd_model'] });
  }
  return hooks;
}

/**
 * The graph input of a batch of prompts right-padded to one length: int64 [batch, pos], 1 at each
 * prompt's real positions and 0 at its padding. Only padded batches' graphs declare it.
 */
export const ATTENTION_MASK_INPUT = 'attention_mask';

/**
 * The causal mask [query_pos, key_pos]: true where key_pos ≤ query_pos. Computed once per graph.
 * With an attention mask (a padded batch) it is [batch, 1, query_pos, key_pos] and also false
 * where the key is padding, as TransformerLens's apply_causal_mask builds it
 * (transformer_lens/components/abstract_attention.py, AbstractAttention.apply_causal_mask, read
 * at commit 017c577a, the components/ layout of the 2.x and 3.x releases: the causal mask
 * einsum'd with attention_mask over the key axis, then torch.where(mask, scores, IGNORE) before
 * hook_attn_scores). With right padding a real query's keys are all real, so only padded
 * queries' rows change; every hook at a real position equals the prompt run alone.
 */
function causalMask(b: GraphBuilder, x: string): string {
  return b.once('causal_mask', () => {
    const r = positions(b, x); // [pos]
    const q = b.op('Unsqueeze', [r, b.ints([1])]); // [pos, 1]
    const k = b.op('Unsqueeze', [r, b.ints([0])]); // [1, pos]
    const causal = b.op('GreaterOrEqual', [q, k], undefined, { type: 'bool' }); // [pos, pos]
    if (!b.has(ATTENTION_MASK_INPUT)) return causal;
    const real = b.op('Cast', [ATTENTION_MASK_INPUT], { to: { i: 9 } }, { type: 'bool' }); // [batch, key_pos]
    return b.op('And', [causal, b.op('Unsqueeze', [real, b.ints([1, 2])])], undefined, { type: 'bool' }); // [batch, 1, query_pos, key_pos]
  });
}

/**
 * One projection (q, k or v) with its bias, as [batch, pos, head_index, d_head].
 * perHead inputs are [batch, pos, head_index, d_model] (use_attn_in / use_split_qkv_input).
 */
function project(b: GraphBuilder, x: string, W: Tensor, bias: Tensor, param: string, dims: AttentionDims, perHead: boolean): string {
  // param: 'blocks.L.attn.Q' → initializers blocks.L.attn.W_Q and blocks.L.attn.b_Q
  const dot = param.lastIndexOf('.');
  const wName = `${param.slice(0, dot)}.W_${param.slice(dot + 1)}`;
  const bName = `${param.slice(0, dot)}.b_${param.slice(dot + 1)}`;
  const { n_heads, d_head } = dims;
  // TransformerLens's layout is the only one held: x broadcast over the heads ([batch, 1, pos,
  // d_model] × [n_heads, d_model, d_head]). A second, heads-side-by-side copy for one
  // [d_model, n_heads·d_head] MatMul was 15% of gpt2-small's weights and no faster (one thread,
  // gpt2-small's shape: 349 against 368 ms CPU at 128 tokens, 43 against 42 at one; ARCHITECTURE.md).
  const w = b.weight(wName, W); // [n_heads, d_model, d_head]
  const biasByHead = b.weight(bName, bias, [n_heads, 1, d_head]);
  if (perHead) {
    const xh = b.op('Transpose', [x], { perm: { ints: [0, 2, 1, 3] } }); // [batch, head_index, pos, d_model]
    const y = b.op('Add', [b.op('MatMul', [xh, w]), biasByHead]); // [batch, head_index, pos, d_head]
    return b.op('Transpose', [y], { perm: { ints: [0, 2, 1, 3] } }); // [batch, pos, head_index, d_head]
  }
  // Every prompt's rows in one product per head ([1, 1, batch·pos, d_model] × [n_heads, d_model,
  // d_head]): broadcast over the batch instead, onnxruntime ran one small product per prompt and
  // head, at 32 positions about 0.6× the rate of the merged rows (a 64-prompt sweep).
  const rows = b.op('Reshape', [x, b.ints([1, 1, -1, dims.d_model])]); // [1, 1, batch·pos, d_model]
  const y = b.op('Add', [b.op('MatMul', [rows, w]), biasByHead]); // [1, head_index, batch·pos, d_head]
  const batchPos = b.op('Slice', [b.op('Shape', [x], undefined, { type: 'int64' }), b.ints([0]), b.ints([2]), b.ints([0])]); // [2]
  const split = b.op('Concat', [b.ints([n_heads]), batchPos, b.ints([d_head])], { axis: { i: 0 } }); // [4]
  const byHead = b.op('Reshape', [y, split]); // [head_index, batch, pos, d_head]
  return b.op('Transpose', [byHead], { perm: { ints: [1, 2, 0, 3] } }); // [batch, pos, head_index, d_head]
}

export interface AttentionInputs {
  readonly query: string;
  readonly key: string;
  readonly value: string;
  /** True when the inputs carry a head axis: [batch, pos, head_index, d_model]. */
  readonly perHead: boolean;
}

/**
 * Emits the attention of one block; returns its output before hook_attn_out: [batch, pos, d_model].
 * With `past` (the incremental forward) the queries are the new positions only and attend over
 * the past keys and values followed by the new ones, so hook_attn_scores and hook_pattern are
 * [batch, head_index, pos, past + pos]; hook_q/k/v/z stay at the new positions.
 */
export function emitAttention(
  b: GraphBuilder,
  prefix: string,
  inp: AttentionInputs,
  w: BlockWeights,
  dims: AttentionDims,
  past?: LayerPast,
): string {
  const { n_heads, d_head, d_model } = dims;
  const hooks = attentionHooks(prefix, dims);
  const find = (n: string): HookDecl | undefined => hooks.find((h) => h.name === `${prefix}.${n}`);
  const [hq, hk, hv, hScores, hPattern, hz] = ['hook_q', 'hook_k', 'hook_v', 'hook_attn_scores', 'hook_pattern', 'hook_z'].map(find);
  const hResult = find('hook_result');
  const q = b.hook(hq!, project(b, inp.query, w.W_Q, w.b_Q, `${prefix}.Q`, dims, inp.perHead)); // [batch, pos, head_index, d_head]
  const k = b.hook(hk!, project(b, inp.key, w.W_K, w.b_K, `${prefix}.K`, dims, inp.perHead));
  const v = b.hook(hv!, project(b, inp.value, w.W_V, w.b_V, `${prefix}.V`, dims, inp.perHead));

  const qT = b.op('Transpose', [q], { perm: { ints: [0, 2, 1, 3] } }); // [batch, head_index, query_pos, d_head]
  const keys = past ? appendPast(b, past.key, k, past.presentKey) : null; // [batch, head_index, key_pos, d_head]
  const kT = keys ? b.op('Transpose', [keys], { perm: { ints: [0, 1, 3, 2] } }) : b.op('Transpose', [k], { perm: { ints: [0, 2, 3, 1] } }); // [batch, head_index, d_head, key_pos]
  const raw = b.op('MatMul', [qT, kT]); // [batch, head_index, query_pos, key_pos]
  const scaled = b.op('Div', [raw, b.scalarF(Math.sqrt(d_head))]);
  // TransformerLens masks with IGNORE = -inf before the hook, so cached scores show -inf above the diagonal.
  const mask = past ? causalMaskWithPast(b, q, past.length) : causalMask(b, q);
  const masked = b.op('Where', [mask, scaled, b.scalarF(-Infinity)], undefined, { type: 'float32' });
  const scores = b.hook(hScores!, masked);
  const pattern = b.hook(hPattern!, b.op('Softmax', [scores], { axis: { i: -1 } })); // [batch, head_index, query_pos, key_pos]

  const vT = past ? appendPast(b, past.value, v, past.presentValue) : b.op('Transpose', [v], { perm: { ints: [0, 2, 1, 3] } }); // [batch, head_index, key_pos, d_head]
  const zh = b.op('MatMul', [pattern, vT]); // [batch, head_index, query_pos, d_head]
  const z = b.hook(hz!, b.op('Transpose', [zh], { perm: { ints: [0, 2, 1, 3] } })); // [batch, pos, head_index, d_head]

  const bO = b.weight(`${prefix}.b_O`, w.b_O); // [d_model]
  if (hResult === undefined) {
    // W_O [n_heads, d_head, d_model] is already [n_heads·d_head, d_model] in memory.
    const wO = b.weight(`${prefix}.W_O`, w.W_O, [n_heads * d_head, d_model]);
    const zFlat = b.op('Reshape', [z, b.ints([0, 0, n_heads * d_head])]); // [batch, pos, n_heads·d_head]
    return b.op('Add', [b.op('MatMul', [zFlat, wO]), bO]); // [batch, pos, d_model]
  }
  const wO = b.weight(`${prefix}.W_O`, w.W_O); // [n_heads, d_head, d_model]
  const zByHead = b.op('Transpose', [z], { perm: { ints: [0, 2, 1, 3] } }); // [batch, head_index, pos, d_head]
  const perHeadOut = b.op('MatMul', [zByHead, wO]); // [batch, head_index, pos, d_model]
  const result = b.hook(hResult, b.op('Transpose', [perHeadOut], { perm: { ints: [0, 2, 1, 3] } })); // [batch, pos, head_index, d_model]
  const summed = b.op('ReduceSum', [result, b.ints([2])], { keepdims: { i: 0 } }); // [batch, pos, d_model]
  return b.op('Add', [summed, bO]);
}
