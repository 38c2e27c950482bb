// Axis names for a tensor known by its TransformerLens name (`blocks.3.attn.hook_q` →
// batch pos head_index d_head; `blocks.0.attn.W_Q` → head_index d_model d_head), read from the
// hook table and the parameter list, so the tensor view labels its axes as TransformerLens's
// shape comments do. A name neither knows (a raw checkpoint key) gets dim0, dim1, …
import { listHookPoints } from '../hookPoints';
import { listParameters } from '../modelInfo';
import type { HookedGPT2Config } from '../types';

/** Sizes do not matter here, only which names exist and their dimension names. */
function shapeOnlyConfig(nLayers: number): HookedGPT2Config {
  return {
    model_name: 'names',
    n_layers: nLayers,
    d_model: 1,
    n_heads: 1,
    d_head: 1,
    d_mlp: 1,
    d_vocab: 1,
    d_vocab_out: 1,
    n_ctx: 1,
    act_fn: 'gelu_new',
    eps: 1e-5,
    normalization_type: 'LN',
    use_attn_result: true,
    use_split_qkv_input: true,
    use_attn_in: true,
    use_hook_mlp_in: true,
    transformer_lens_version: '3.x',
  };
}

const generic = (rank: number): string[] => Array.from({ length: rank }, (_, i) => `dim${i}`);

/** TransformerLens's dimension names for `name` when its rank matches; dim0… otherwise. */
export function axisNamesFor(name: string, rank: number): string[] {
  // Looked up as layer 0 of a one-layer model, so any layer number finds its names.
  const asLayer0 = name.replace(/^blocks\.\d+\./, 'blocks.0.');
  const cfg = shapeOnlyConfig(1);
  const hook = listHookPoints(cfg).find((h) => h.name === asLayer0);
  if (hook && hook.dims.length === rank) return hook.dims.map(String);
  const param = listParameters(cfg).find((p) => p.name === asLayer0);
  if (param && param.dimNames.length === rank) return [...param.dimNames];
  if (name === 'logits' && rank === 3) return ['batch', 'pos', 'd_vocab_out'];
  return generic(rank);
}

/** The axis that runs over the vocabulary (d_vocab or d_vocab_out), or null. */
export function vocabAxisOf(names: readonly string[]): number | null {
  const i = names.findIndex((n) => n === 'd_vocab' || n === 'd_vocab_out');
  return i < 0 ? null : i;
}
