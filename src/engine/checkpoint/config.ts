// Hugging Face GPT-2 config.json -> TransformerLens's HookedTransformerConfig terms.
// Any GPT-2-architecture config is accepted (gpt2 .. gpt2-xl, distilgpt2, the generated tiny
// model); options that change the computation in ways the engine does not implement are refused
// with the field's name rather than silently computing something else.

import type { HookedGPT2Config } from '../types';

export class CheckpointError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CheckpointError';
  }
}

/**
 * Checks a parsed config.json and converts it. `source` (the file's path) goes into every error.
 */
export function gpt2ConfigFromHF(json: unknown, source: string, modelName: string): HookedGPT2Config {
  const bad = (problem: string): CheckpointError => new CheckpointError(`${source}: ${problem}`);
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw bad('config is not a JSON object');
  const c = json as Record<string, unknown>;
  if (c['model_type'] !== undefined && c['model_type'] !== 'gpt2') {
    throw bad(`model_type is "${String(c['model_type'])}"; Model Lens runs GPT-2 ("gpt2") checkpoints only`);
  }
  const positive = (key: string, fallback?: number): number => {
    const v = c[key] ?? fallback;
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v <= 0) {
      throw bad(`${key} must be a positive integer, got ${JSON.stringify(c[key])}`);
    }
    return v;
  };
  const n_layers = positive('n_layer');
  const d_model = positive('n_embd');
  const n_heads = positive('n_head');
  // Older configs name the context n_ctx; n_positions is what sizes wpe.
  const n_ctx = positive('n_positions', typeof c['n_ctx'] === 'number' ? c['n_ctx'] : undefined);
  const d_vocab = positive('vocab_size');
  if (d_model % n_heads !== 0) throw bad(`n_embd ${d_model} is not divisible by n_head ${n_heads}`);
  const d_mlp = c['n_inner'] === null || c['n_inner'] === undefined ? 4 * d_model : positive('n_inner');
  const eps = c['layer_norm_epsilon'] ?? 1e-5;
  if (typeof eps !== 'number' || !(eps > 0) || !Number.isFinite(eps)) {
    throw bad(`layer_norm_epsilon must be a positive number, got ${JSON.stringify(c['layer_norm_epsilon'])}`);
  }
  // GPT2Config's default activation is gelu_new, GPT-2's tanh approximation.
  const act = c['activation_function'] ?? 'gelu_new';
  if (act !== 'gelu_new') {
    throw bad(`activation_function is ${JSON.stringify(act)}; only "gelu_new" (GPT-2's) is supported`);
  }
  if (c['scale_attn_weights'] === false) throw bad('scale_attn_weights=false is not supported (GPT-2 scales by 1/sqrt(d_head))');
  if (c['scale_attn_by_inverse_layer_idx'] === true) throw bad('scale_attn_by_inverse_layer_idx=true is not supported');
  return {
    model_name: modelName,
    n_layers,
    d_model,
    n_heads,
    d_head: d_model / n_heads,
    d_mlp,
    d_vocab,
    d_vocab_out: d_vocab,
    n_ctx,
    eps,
    act_fn: 'gelu_new',
    normalization_type: 'LN',
    use_attn_result: false,
    use_split_qkv_input: false,
    use_hook_mlp_in: false,
    use_attn_in: false,
  };
}
