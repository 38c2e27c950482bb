// A float64 GPT-2 forward pass that records every TransformerLens hook point, written from
// TransformerLens's component definitions with batch = 1. It is the oracle the engine's parity
// test compares against, so it favours plain loops over speed.
//
// Each step cites the line of TransformerLens it follows, as `file:line@v3.5.1` (paths under
// transformer_lens/, components/ unless said otherwise); docs/HOOKS.md has the same table. The
// two places where TransformerLens 2.x means something else are marked "2.x:" and selected by
// `tlVersion`: LayerNorm's hook_normalized, and Unembed's hook_in/hook_out.

import type { RefConfig, RefWeights, T64 } from './gpt2Weights64';

/** TransformerLens's hook flags that change which hook points fire. */
export interface RefFlags {
  readonly use_attn_result: boolean;
  readonly use_split_qkv_input: boolean;
  readonly use_attn_in: boolean;
  readonly use_hook_mlp_in: boolean;
}

export const DEFAULT_FLAGS: RefFlags = {
  use_attn_result: false,
  use_split_qkv_input: false,
  use_attn_in: false,
  use_hook_mlp_in: false,
};

/** Whose hook meanings to record (docs/HOOKS.md). */
export type RefTLVersion = '3.x' | '2.x';

export interface RefRun {
  readonly logits: T64; // [1, pos, d_vocab]
  /** Every hook point that fires, in firing order; a hook that fires twice keeps its last value, as run_with_cache does. */
  readonly cache: Map<string, T64>;
}

/**
 * Changes a hook's value in place as it fires (dims as TransformerLens's, batch 1): the reference's
 * way to patch, ablate or steer by hand, as a TransformerLens hook function does. Everything
 * downstream reads the changed array, and the cache records the changed value.
 */
export type RefEdit = (name: string, data: Float64Array, dims: readonly number[]) => void;

/**
 * Runs GPT-2 on one token sequence. Weights are used as given: LayerNorm is TL's `LN` when
 * the block carries ln weights and `LNPre` when they were folded away (null).
 */
export function referenceRun(
  cfg: RefConfig,
  w: RefWeights,
  tokens: readonly number[],
  flags: RefFlags = DEFAULT_FLAGS,
  tlVersion: RefTLVersion = '3.x',
  edit?: RefEdit,
): RefRun {
  const { d_model, n_heads, d_head, d_mlp, d_vocab } = cfg;
  const P = tokens.length;
  if (P === 0 || P > cfg.n_ctx) throw new Error(`reference: ${P} tokens, need 1..${cfg.n_ctx}`);
  for (const t of tokens)
    if (!Number.isInteger(t) || t < 0 || t >= d_vocab) throw new Error(`reference: token ${t} outside 0..${d_vocab - 1}`);
  const cache = new Map<string, T64>();
  const hook = (name: string, dims: number[], data: Float64Array): Float64Array => {
    edit?.(name, data, dims);
    cache.set(name, { dims, data: data.slice() });
    return data;
  };

  const embed = new Float64Array(P * d_model); // [pos, d_model]
  const posEmbed = new Float64Array(P * d_model); // [pos, d_model]
  for (let p = 0; p < P; p++)
    for (let m = 0; m < d_model; m++) {
      embed[p * d_model + m] = w.W_E.data[tokens[p] * d_model + m];
      posEmbed[p * d_model + m] = w.W_pos.data[p * d_model + m];
    }
  // embed.py:35 (W_E[tokens]) under HookedTransformer.py:450 (hook_embed); pos_embed.py:47-52
  // (W_pos[:pos]) under HookedTransformer.py:340-343 (hook_pos_embed, residual = embed + pos_embed).
  hook('hook_embed', [1, P, d_model], embed);
  hook('hook_pos_embed', [1, P, d_model], posEmbed);
  let resid = add(embed, posEmbed); // [pos, d_model]

  const headed = flags.use_attn_in || flags.use_split_qkv_input;
  for (let l = 0; l < cfg.n_layers; l++) {
    const b = w.blocks[l];
    const pre = `blocks.${l}.`;
    hook(`${pre}hook_resid_pre`, [1, P, d_model], resid); // transformer_block.py:121

    // With either input flag TL repeats resid_pre over a head axis: [pos, n_heads, d_model]
    // (transformer_block.py:123-156); q/k/v_input repeat resid_pre itself, not hook_attn_in's value.
    let qIn: Float64Array, kIn: Float64Array, vIn: Float64Array;
    let rows: number; // rows of d_model that ln1 normalizes: pos, or pos*n_heads
    let lnDims: number[];
    if (headed) {
      const repeated = repeatHeads(resid, P, n_heads, d_model); // [pos, n_heads, d_model]
      let attnIn: Float64Array = repeated.slice();
      const hd = [1, P, n_heads, d_model];
      if (flags.use_attn_in) attnIn = hook(`${pre}hook_attn_in`, hd, attnIn);
      if (flags.use_split_qkv_input) {
        qIn = hook(`${pre}hook_q_input`, hd, repeated.slice());
        kIn = hook(`${pre}hook_k_input`, hd, repeated.slice());
        vIn = hook(`${pre}hook_v_input`, hd, repeated.slice());
      } else qIn = kIn = vIn = attnIn;
      rows = P * n_heads;
      lnDims = [1, P, n_heads];
    } else {
      qIn = kIn = vIn = resid;
      rows = P;
      lnDims = [1, P];
    }
    // TL calls ln1 on the query, key and value inputs in that order (transformer_block.py:172-176);
    // the cache keeps the last.
    const ln1 = (x: Float64Array) => layerNorm(x, rows, d_model, cfg.eps, b.ln1_w, b.ln1_b, `${pre}ln1`, lnDims, hook, tlVersion);
    const qNorm = ln1(qIn);
    const kNorm = ln1(kIn);
    const vNorm = ln1(vIn);

    // q[p, i, e] = sum_m x[p, (i,) m] W_Q[i, m, e] + b_Q[i, e]
    const project = (x: Float64Array, W: T64, bias: T64): Float64Array => {
      const out = new Float64Array(P * n_heads * d_head); // [pos, n_heads, d_head]
      for (let p = 0; p < P; p++)
        for (let i = 0; i < n_heads; i++) {
          const xo = headed ? (p * n_heads + i) * d_model : p * d_model;
          for (let e = 0; e < d_head; e++) {
            let s = bias.data[i * d_head + e];
            for (let m = 0; m < d_model; m++) s += x[xo + m] * W.data[(i * d_model + m) * d_head + e];
            out[(p * n_heads + i) * d_head + e] = s;
          }
        }
      return out;
    };
    const qkvDims = [1, P, n_heads, d_head]; // abstract_attention.py:465, 482, 503 (hook_q, hook_k, hook_v)
    const q = hook(`${pre}attn.hook_q`, qkvDims, project(qNorm, b.W_Q, b.b_Q));
    const k = hook(`${pre}attn.hook_k`, qkvDims, project(kNorm, b.W_K, b.b_K));
    const v = hook(`${pre}attn.hook_v`, qkvDims, project(vNorm, b.W_V, b.b_V));

    // scores[i, qp, kp] = q·k / sqrt(d_head) for kp <= qp, else -inf (TL's IGNORE):
    // abstract_attention.py:524 (/ attn_scale), 587 (where(mask, scores, IGNORE)), 129 (IGNORE = -inf), 322.
    const scale = Math.sqrt(d_head);
    const scores = new Float64Array(n_heads * P * P); // [n_heads, query_pos, key_pos]
    for (let i = 0; i < n_heads; i++)
      for (let qp = 0; qp < P; qp++)
        for (let kp = 0; kp < P; kp++) {
          let s = -Infinity;
          if (kp <= qp) {
            s = 0;
            for (let e = 0; e < d_head; e++) s += q[(qp * n_heads + i) * d_head + e] * k[(kp * n_heads + i) * d_head + e];
            s /= scale;
          }
          scores[(i * P + qp) * P + kp] = s;
        }
    hook(`${pre}attn.hook_attn_scores`, [1, n_heads, P, P], scores);
    const pattern = new Float64Array(n_heads * P * P); // [n_heads, query_pos, key_pos]
    for (let r = 0; r < n_heads * P; r++) {
      let max = -Infinity;
      for (let kp = 0; kp < P; kp++) max = Math.max(max, scores[r * P + kp]);
      let sum = 0;
      for (let kp = 0; kp < P; kp++) sum += pattern[r * P + kp] = Math.exp(scores[r * P + kp] - max);
      for (let kp = 0; kp < P; kp++) pattern[r * P + kp] /= sum;
    }
    hook(`${pre}attn.hook_pattern`, [1, n_heads, P, P], pattern); // abstract_attention.py:323-327 (softmax, NaN → 0)

    const z = new Float64Array(P * n_heads * d_head); // [pos, n_heads, d_head]
    for (let qp = 0; qp < P; qp++)
      for (let i = 0; i < n_heads; i++)
        for (let e = 0; e < d_head; e++) {
          let s = 0;
          for (let kp = 0; kp <= qp; kp++) s += pattern[(i * P + qp) * P + kp] * v[(kp * n_heads + i) * d_head + e];
          z[(qp * n_heads + i) * d_head + e] = s;
        }
    hook(`${pre}attn.hook_z`, qkvDims, z); // abstract_attention.py:543-547 (pattern @ v)

    // result[p, i, :] = z[p, i, :] @ W_O[i] (no b_O); attn_out = sum_i result + b_O:
    // abstract_attention.py:397-403 (use_attn_result), 344-367 (without it, the same sum).
    const result = new Float64Array(P * n_heads * d_model); // [pos, n_heads, d_model]
    for (let p = 0; p < P; p++)
      for (let i = 0; i < n_heads; i++)
        for (let m = 0; m < d_model; m++) {
          let s = 0;
          for (let e = 0; e < d_head; e++) s += z[(p * n_heads + i) * d_head + e] * b.W_O.data[(i * d_head + e) * d_model + m];
          result[(p * n_heads + i) * d_model + m] = s;
        }
    if (flags.use_attn_result) hook(`${pre}attn.hook_result`, [1, P, n_heads, d_model], result);
    const attnOut = new Float64Array(P * d_model); // [pos, d_model]
    for (let p = 0; p < P; p++)
      for (let m = 0; m < d_model; m++) {
        let s = b.b_O.data[m];
        for (let i = 0; i < n_heads; i++) s += result[(p * n_heads + i) * d_model + m];
        attnOut[p * d_model + m] = s;
      }
    hook(`${pre}hook_attn_out`, [1, P, d_model], attnOut); // transformer_block.py:186
    const residMid = hook(`${pre}hook_resid_mid`, [1, P, d_model], add(resid, attnOut));
    // transformer_block.py:195-205: resid_mid, mlp_in (a clone), ln2, mlp, resid_post.
    const mlpIn = flags.use_hook_mlp_in ? hook(`${pre}hook_mlp_in`, [1, P, d_model], residMid.slice()) : residMid;
    const ln2 = layerNorm(mlpIn, P, d_model, cfg.eps, b.ln2_w, b.ln2_b, `${pre}ln2`, [1, P], hook, tlVersion);

    // mlps/mlp.py:38 (hook_pre = x W_in + b_in), 48 (hook_post = gelu_new), 49 (post W_out + b_out).
    const preAct = matmulBias(ln2, b.W_in.data, b.b_in.data, P, d_model, d_mlp); // [pos, d_mlp]
    hook(`${pre}mlp.hook_pre`, [1, P, d_mlp], preAct);
    const post = hook(`${pre}mlp.hook_post`, [1, P, d_mlp], preAct.map(geluNew));
    const mlpOut = hook(`${pre}hook_mlp_out`, [1, P, d_model], matmulBias(post, b.W_out.data, b.b_out.data, P, d_mlp, d_model));
    resid = hook(`${pre}hook_resid_post`, [1, P, d_model], add(residMid, mlpOut));
  }

  // HookedTransformer.py:666-671: ln_final, then unembed.
  const final = layerNorm(resid, P, d_model, cfg.eps, w.ln_final_w, w.ln_final_b, 'ln_final', [1, P], hook, tlVersion);
  // unembed.py:36 (hook_in = its input), 39 (x W_U + b_U), 40 (hook_out = the logits). 2.x: no hooks.
  if (tlVersion === '3.x') hook('unembed.hook_in', [1, P, d_model], final);
  const logits = matmulBias(final, w.W_U.data, w.b_U.data, P, d_model, d_vocab); // [pos, d_vocab]
  if (tlVersion === '3.x') hook('unembed.hook_out', [1, P, d_vocab], logits);
  return { logits: { dims: [1, P, d_vocab], data: logits }, cache };
}

/** gelu_new (GPT-2's tanh approximation): 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))). */
export function geluNew(x: number): number {
  return 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x)));
}

/**
 * TL's LayerNorm over the last axis of `rows` vectors (layer_norm.py:52-57, layer_norm_pre.py:49-54):
 * x - mean, scale = sqrt(mean(x^2) + eps) (hook_scale, trailing axis of 1), n = x / scale.
 * With w, b (LN): 3.x hooks n as hook_normalized and returns n * w + b (layer_norm.py:56-57);
 * 2.x hooks n * w + b itself (layer_norm.py:55-56@v2.9.1). With w, b null it is LayerNormPre:
 * hook_normalized = n in both.
 */
function layerNorm(
  x: Float64Array,
  rows: number,
  len: number,
  eps: number,
  lw: T64 | null,
  lb: T64 | null,
  name: string,
  leadDims: number[],
  hook: (name: string, dims: number[], data: Float64Array) => Float64Array,
  tlVersion: RefTLVersion,
): Float64Array {
  const scale = new Float64Array(rows); // [..., 1]
  const normalized = new Float64Array(rows * len); // [..., len]: (x - mean) / scale
  for (let r = 0; r < rows; r++) {
    let mean = 0;
    for (let k = 0; k < len; k++) mean += x[r * len + k];
    mean /= len;
    let sq = 0;
    for (let k = 0; k < len; k++) sq += (x[r * len + k] - mean) ** 2;
    const s = Math.sqrt(sq / len + eps);
    scale[r] = s;
    for (let k = 0; k < len; k++) normalized[r * len + k] = (x[r * len + k] - mean) / s;
  }
  hook(`${name}.hook_scale`, [...leadDims, 1], scale);
  if (!lw || !lb) return hook(`${name}.hook_normalized`, [...leadDims, len], normalized);
  const out = new Float64Array(rows * len); // [..., len]: normalized * w + b
  for (let r = 0; r < rows; r++) for (let k = 0; k < len; k++) out[r * len + k] = normalized[r * len + k] * lw.data[k] + lb.data[k];
  hook(`${name}.hook_normalized`, [...leadDims, len], tlVersion === '3.x' ? normalized : out);
  return out;
}

function matmulBias(x: Float64Array, W: Float64Array, bias: Float64Array, rows: number, inner: number, cols: number): Float64Array {
  const out = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    const o = out.subarray(r * cols, (r + 1) * cols);
    o.set(bias);
    for (let m = 0; m < inner; m++) {
      const xv = x[r * inner + m];
      const wRow = m * cols;
      for (let c = 0; c < cols; c++) o[c] += xv * W[wRow + c];
    }
  }
  return out;
}

function add(a: Float64Array, b: Float64Array): Float64Array {
  const out = new Float64Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i] + b[i];
  return out;
}

function repeatHeads(x: Float64Array, P: number, n_heads: number, d_model: number): Float64Array {
  const out = new Float64Array(P * n_heads * d_model);
  for (let p = 0; p < P; p++)
    for (let i = 0; i < n_heads; i++) out.set(x.subarray(p * d_model, (p + 1) * d_model), (p * n_heads + i) * d_model);
  return out;
}

/** log_softmax over the last axis. */
export function logSoftmax(x: ArrayLike<number>, len: number): Float64Array {
  const out = new Float64Array(x.length);
  for (let o = 0; o < x.length; o += len) {
    let max = -Infinity;
    for (let k = 0; k < len; k++) max = Math.max(max, x[o + k]);
    let sum = 0;
    for (let k = 0; k < len; k++) sum += Math.exp(x[o + k] - max);
    const lse = max + Math.log(sum);
    for (let k = 0; k < len; k++) out[o + k] = x[o + k] - lse;
  }
  return out;
}
