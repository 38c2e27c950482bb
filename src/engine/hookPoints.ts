// The table of hook points: TransformerLens's names and dimension names, derived from the
// kernels' own declarations (nothing here spells a hook name).
import { embedHooks } from '../../kernels/embed';
import { layerNormHooks } from '../../kernels/layerNorm';
import { posEmbedHooks } from '../../kernels/posEmbed';
import { transformerBlockHooks } from '../../kernels/transformerBlock';
import { unembedHooks } from '../../kernels/unembed';
import type { HookDecl, HookDim } from './onnx/builder';
import type { HookedGPT2Config } from './types';

export type { HookDecl, HookDim };

type HookCfg = Pick<
  HookedGPT2Config,
  | 'n_layers'
  | 'n_heads'
  | 'd_head'
  | 'd_model'
  | 'd_mlp'
  | 'd_vocab'
  | 'd_vocab_out'
  | 'eps'
  | 'use_attn_result'
  | 'use_split_qkv_input'
  | 'use_attn_in'
  | 'use_hook_mlp_in'
  | 'transformer_lens_version'
>;

/**
 * Every hook point of the model, in TransformerLens's `model.hook_dict` order (modules in the
 * order their constructors register them). The graph emits them in execution order instead;
 * buildModelGraph checks both come to the same set.
 * Flag-gated hooks (hook_result, hook_attn_in, hook_q/k/v_input, hook_mlp_in) appear only when enabled;
 * unembed.hook_in/hook_out only under TransformerLens 3.x's meanings (cfg.transformer_lens_version).
 */
export function listHookPoints(cfg: HookCfg): HookDecl[] {
  const out: HookDecl[] = [...embedHooks(), ...posEmbedHooks()];
  for (let L = 0; L < cfg.n_layers; L++) out.push(...transformerBlockHooks(cfg, L));
  out.push(...layerNormHooks('ln_final', false), ...unembedHooks(cfg));
  return out;
}

/** The size of one named dimension under a config; batch and positions come from the run. */
export function dimSize(d: HookDim, cfg: HookCfg, run: { batch: number; pos: number }): number {
  switch (d) {
    case 'batch':
      return run.batch;
    case 'pos':
    case 'query_pos':
    case 'key_pos':
      return run.pos;
    case 'head_index':
      return cfg.n_heads;
    case 'd_head':
      return cfg.d_head;
    case 'd_model':
      return cfg.d_model;
    case 'd_mlp':
      return cfg.d_mlp;
    case 'd_vocab':
      return cfg.d_vocab;
    case 'd_vocab_out':
      return cfg.d_vocab_out;
    case 1:
      return 1;
    default: {
      const exhaustive: never = d;
      throw new Error(`unknown dimension ${String(exhaustive)}`);
    }
  }
}

/** The concrete shape of a hook for a run of `pos` tokens (batch 1 unless given). */
export function hookShape(decl: HookDecl, cfg: HookCfg, pos: number, batch = 1): number[] {
  return decl.dims.map((d) => dimSize(d, cfg, { batch, pos }));
}

/** A graph-level shape: symbolic 'batch' and 'pos', numbers for everything fixed by the config. */
export function symbolicShape(decl: HookDecl, cfg: HookCfg): (number | string)[] {
  return decl.dims.map((d) =>
    d === 'batch' ? 'batch' : d === 'pos' || d === 'query_pos' || d === 'key_pos' ? 'pos' : dimSize(d, cfg, { batch: 0, pos: 0 }),
  );
}

/** Matches a name against a TransformerLens-style glob: '*' spans any characters, including dots. */
export function globToRegExp(glob: string): RegExp {
  const escaped = glob
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${escaped}$`);
}
