// One GPT-2 block (TransformerLens components/transformer_block.py): the residual-stream hook
// points live here, the sub-kernels bring their own. Flag-gated hooks exist only when enabled.
import type { GraphBuilder, HookDecl } from '../src/engine/onnx/builder';
import { DEFAULT_TL_VERSION, type BlockWeights, type HookedGPT2Config } from '../src/engine/types';
import { attentionHooks, emitAttention } from './attention';
import type { LayerPast } from './kvCache';
import { emitLayerNorm, layerNormHooks } from './layerNorm';
import { emitMlp, mlpHooks } from './mlp';

type BlockCfg = Pick<
  HookedGPT2Config,
  | 'n_heads'
  | 'd_head'
  | 'd_model'
  | 'eps'
  | 'use_attn_result'
  | 'use_split_qkv_input'
  | 'use_attn_in'
  | 'use_hook_mlp_in'
  | 'transformer_lens_version'
>;

/** True when attention inputs carry a head axis, as TransformerLens does under these flags. */
function perHeadInputs(cfg: BlockCfg): boolean {
  return cfg.use_attn_in || cfg.use_split_qkv_input;
}

function residHook(L: number, what: string): HookDecl {
  return { name: `blocks.${L}.${what}`, dims: ['batch', 'pos', 'd_model'] };
}

function headInputHook(L: number, what: string): HookDecl {
  return { name: `blocks.${L}.${what}`, dims: ['batch', 'pos', 'head_index', 'd_model'] };
}

/**
 * Block L's hook points in the order TransformerLens's TransformerBlock registers them (its
 * hook_dict order): ln1, ln2, attn, mlp, then the block's own hooks.
 */
export function transformerBlockHooks(cfg: BlockCfg, L: number): HookDecl[] {
  const p = `blocks.${L}`;
  const hooks: HookDecl[] = [
    ...layerNormHooks(`${p}.ln1`, perHeadInputs(cfg)),
    ...layerNormHooks(`${p}.ln2`, false),
    ...attentionHooks(`${p}.attn`, cfg),
    ...mlpHooks(`${p}.mlp`),
  ];
  if (cfg.use_attn_in) hooks.push(headInputHook(L, 'hook_attn_in'));
  if (cfg.use_split_qkv_input) {
    hooks.push(headInputHook(L, 'hook_q_input'), headInputHook(L, 'hook_k_input'), headInputHook(L, 'hook_v_input'));
  }
  if (cfg.use_hook_mlp_in) hooks.push(residHook(L, 'hook_mlp_in'));
  for (const h of ['hook_attn_out', 'hook_mlp_out', 'hook_resid_pre', 'hook_resid_mid', 'hook_resid_post']) hooks.push(residHook(L, h));
  return hooks;
}

/** resid_pre [batch, pos, d_model] → resid_post [batch, pos, d_model]; `past` for the incremental forward (kvCache.ts). */
export function emitTransformerBlock(
  b: GraphBuilder,
  cfg: BlockCfg,
  L: number,
  residIn: string,
  w: BlockWeights,
  past?: LayerPast,
): string {
  const p = `blocks.${L}`;
  const byName = new Map(transformerBlockHooks(cfg, L).map((h) => [h.name, h] as const));
  const decl = (name: string): HookDecl => {
    const h = byName.get(`${p}.${name}`);
    if (h === undefined) throw new Error(`block ${L}: hook '${name}' is not declared under these flags`);
    return h;
  };
  const perHead = perHeadInputs(cfg);
  const residPre = b.hook(decl('hook_resid_pre'), residIn);

  let attnIn = residPre; // [batch, pos, d_model], or [batch, pos, head_index, d_model] when perHead
  if (perHead) {
    const withHeadAxis = b.op('Unsqueeze', [residPre, b.ints([2])]); // [batch, pos, 1, d_model]
    attnIn = b.op('Expand', [withHeadAxis, b.ints([1, 1, cfg.n_heads, 1])]);
  }
  // Under both flags TransformerLens feeds q/k/v_input from resid_pre, not from hook_attn_in
  // (transformer_block.py:132-152 @v3.5.1), so a change made at hook_attn_in does not reach them.
  const repeatedResid = attnIn;
  if (cfg.use_attn_in) attnIn = b.hook(decl('hook_attn_in'), attnIn);

  const tlVersion = cfg.transformer_lens_version ?? DEFAULT_TL_VERSION;
  const ln1 = { prefix: `${p}.ln1`, w: w.ln1_w, b: w.ln1_b, eps: cfg.eps, perHead, tlVersion };
  let inputs;
  if (cfg.use_split_qkv_input) {
    const qIn = b.hook(decl('hook_q_input'), repeatedResid);
    const kIn = b.hook(decl('hook_k_input'), repeatedResid);
    const vIn = b.hook(decl('hook_v_input'), repeatedResid);
    // TransformerLens applies ln1 three times here and its cache keeps the last call (value);
    // the value copy carries ln1's hook points, the query and key copies are unnamed.
    const value = emitLayerNorm(b, vIn, ln1);
    const query = emitLayerNorm(b, qIn, ln1, false);
    const key = emitLayerNorm(b, kIn, ln1, false);
    inputs = { query, key, value, perHead };
  } else {
    const normalized = emitLayerNorm(b, attnIn, ln1);
    inputs = { query: normalized, key: normalized, value: normalized, perHead };
  }
  const attnOut = b.hook(decl('hook_attn_out'), emitAttention(b, `${p}.attn`, inputs, w, cfg, past));
  const residMid = b.hook(decl('hook_resid_mid'), b.op('Add', [residPre, attnOut]));
  const mlpIn = cfg.use_hook_mlp_in ? b.hook(decl('hook_mlp_in'), residMid) : residMid;
  const ln2 = emitLayerNorm(b, mlpIn, { prefix: `${p}.ln2`, w: w.ln2_w, b: w.ln2_b, eps: cfg.eps, perHead: false, tlVersion });
  const mlpOut = b.hook(decl('hook_mlp_out'), emitMlp(b, `${p}.mlp`, ln2, w));
  return b.hook(decl('hook_resid_post'), b.op('Add', [residMid, mlpOut]));
}
