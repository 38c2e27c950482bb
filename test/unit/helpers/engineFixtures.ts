// Small seeded random GPT-2 weights in TransformerLens layout, for engine tests that need no checkpoint.
import type { GPT2Weights, HookedGPT2Config, Tensor } from '../../../src/engine/types';
import { seededRandom } from '../../support/random';

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
  const uniform = seededRandom(seed);
  const rand = (): number => uniform() - 0.5;
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
