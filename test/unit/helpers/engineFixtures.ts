// Small seeded random GPT-2 weights in TransformerLens layout, for engine tests that need no checkpoint.
import type { GPT2Weights, HookedGPT2Config, Tensor } from '../../../src/engine/types';

export function tinyConfig(over: Partial<HookedGPT2Config> = {}): HookedGPT2Config {
  return {
    model_name: 'random-tiny',
    n_layers: 2,
    d_model: 16,
    n_heads: 4,
    d_head: 4,
    d_mlp: 64,
    d_vocab: 50257,
    d_vocab_out: 50257,
    n_ctx: 32,
    eps: 1e-5,
    act_fn: 'gelu_new',
    normalization_type: 'LN',
    use_attn_result: false,
    use_split_qkv_input: false,
    use_hook_mlp_in: false,
    use_attn_in: false,
    ...over,
  };
}

/** Seeded (mulberry32) weights; LayerNorm weights around 1 and biases non-zero so every term matters. */
export function randomWeights(cfg: HookedGPT2Config, seed = 1): GPT2Weights {
  let s = seed >>> 0;
  const rand = (): number => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296 - 0.5;
  };
  const T = (scale: number, offset: number, ...dims: number[]): Tensor => ({
    dims,
    data: Float32Array.from({ length: dims.reduce((a, b) => a * b, 1) }, () => offset + scale * rand()),
  });
  const { d_model: D, n_heads: H, d_head: E, d_mlp: M } = cfg;
  const ln = cfg.normalization_type === 'LN';
  return {
    W_E: T(0.5, 0, cfg.d_vocab, D),
    W_pos: T(0.2, 0, cfg.n_ctx, D),
    blocks: Array.from({ length: cfg.n_layers }, () => ({
      ln1_w: ln ? T(0.4, 1, D) : null,
      ln1_b: ln ? T(0.2, 0, D) : null,
      W_Q: T(0.6, 0, H, D, E),
      W_K: T(0.6, 0, H, D, E),
      W_V: T(0.6, 0, H, D, E),
      W_O: T(0.6, 0, H, E, D),
      b_Q: T(0.2, 0, H, E),
      b_K: T(0.2, 0, H, E),
      b_V: T(0.2, 0, H, E),
      b_O: T(0.2, 0, D),
      ln2_w: ln ? T(0.4, 1, D) : null,
      ln2_b: ln ? T(0.2, 0, D) : null,
      W_in: T(0.5, 0, D, M),
      b_in: T(0.2, 0, M),
      W_out: T(0.3, 0, M, D),
      b_out: T(0.2, 0, D),
    })),
    ln_final_w: ln ? T(0.4, 1, D) : null,
    ln_final_b: ln ? T(0.2, 0, D) : null,
    W_U: T(0.5, 0, D, cfg.d_vocab_out),
    b_U: T(0.2, 0, cfg.d_vocab_out),
  };
}

export function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) return Infinity;
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}
