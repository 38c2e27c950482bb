// Composes the kernels into GPT-2's forward graph. Every hook point is a named tensor and a graph
// output here; model.ts then keeps as session outputs only the hook points a call asks for (see
// cut.ts), so caching is asking for more outputs; `logits` is always an output.
import { ATTENTION_MASK_INPUT } from '../../kernels/attention';
import { emitEmbed } from '../../kernels/embed';
import { declarePast, presentKeyName, presentValueName } from '../../kernels/kvCache';
import { emitLayerNorm } from '../../kernels/layerNorm';
import { emitPosEmbed } from '../../kernels/posEmbed';
import { emitTransformerBlock } from '../../kernels/transformerBlock';
import { emitUnembed, UNEMBED_HOOK_OUT } from '../../kernels/unembed';
import { listHookPoints, symbolicShape } from './hookPoints';
import { GraphBuilder, type EmittedHook, type HookTransform } from './onnx/builder';
import type { GraphIR } from './onnx/ir';
import { emitReadouts, orderBefore, pruneGraph, type Readout } from './readouts';
import { DEFAULT_TL_VERSION, type GPT2Weights, type HookedGPT2Config } from './types';

export const TOKENS_INPUT = 'tokens';
export const LOGITS_OUTPUT = 'logits';

export interface ModelGraph {
  readonly graph: GraphIR;
  /** Hook points as emitted, in execution order, with the node that produces each. */
  readonly hooks: readonly EmittedHook[];
}

/** Asserts the weights match the config, naming the first offender. */
export function checkWeights(cfg: HookedGPT2Config, w: GPT2Weights): void {
  const expect = (name: string, dims: readonly number[] | undefined, want: readonly number[]): void => {
    if (dims === undefined || dims.length !== want.length || dims.some((d, i) => d !== want[i])) {
      throw new Error(`weight ${name} has shape [${dims?.join(', ') ?? 'missing'}], expected [${want.join(', ')}]`);
    }
  };
  const { d_model: D, n_heads: H, d_head: E, d_mlp: M } = cfg;
  expect('embed.W_E', w.W_E.dims, [cfg.d_vocab, D]);
  expect('pos_embed.W_pos', w.W_pos.dims, [cfg.n_ctx, D]);
  if (w.blocks.length !== cfg.n_layers) throw new Error(`weights have ${w.blocks.length} blocks, config says n_layers=${cfg.n_layers}`);
  w.blocks.forEach((blk, L) => {
    const p = `blocks.${L}`;
    for (const [n, t] of [
      ['W_Q', blk.W_Q],
      ['W_K', blk.W_K],
      ['W_V', blk.W_V],
    ] as const)
      expect(`${p}.attn.${n}`, t.dims, [H, D, E]);
    for (const [n, t] of [
      ['b_Q', blk.b_Q],
      ['b_K', blk.b_K],
      ['b_V', blk.b_V],
    ] as const)
      expect(`${p}.attn.${n}`, t.dims, [H, E]);
    expect(`${p}.attn.W_O`, blk.W_O.dims, [H, E, D]);
    expect(`${p}.attn.b_O`, blk.b_O.dims, [D]);
    expect(`${p}.mlp.W_in`, blk.W_in.dims, [D, M]);
    expect(`${p}.mlp.b_in`, blk.b_in.dims, [M]);
    expect(`${p}.mlp.W_out`, blk.W_out.dims, [M, D]);
    expect(`${p}.mlp.b_out`, blk.b_out.dims, [D]);
    for (const [n, t] of [
      ['ln1.w', blk.ln1_w],
      ['ln1.b', blk.ln1_b],
      ['ln2.w', blk.ln2_w],
      ['ln2.b', blk.ln2_b],
    ] as const) {
      if (cfg.normalization_type === 'LN') expect(`${p}.${n}`, t?.dims, [D]);
      else if (t !== null) throw new Error(`${p}.${n} is present but normalization_type is LNPre (folded)`);
    }
  });
  expect('unembed.W_U', w.W_U.dims, [D, cfg.d_vocab_out]);
  expect('unembed.b_U', w.b_U.dims, [cfg.d_vocab_out]);
}

/** Builds the whole forward graph once; `transforms` rewrite hook tensors in place (interventions). */
/**
 * Which positions the graph unembeds. 'last' is for callers that only need the next-token
 * prediction (inline logits): the unembedding is a quarter of GPT-2-small's FLOPs at 1,024
 * tokens and its [pos, d_vocab] output the largest tensor to read back, so it is left out.
 */
export type LogitsAt = 'all' | 'last';

/** What a graph variant adds to the plain forward. */
export interface GraphShape {
  /** The incremental forward's graph (kernels/kvCache.ts): past keys and values in, `present` out. */
  readonly withPast?: boolean;
  /** When given, the graph's outputs are only these readouts' answers, and nodes they do not need are dropped. */
  readonly readouts?: readonly Readout[];
  /**
   * With readouts: hook points fed as graph inputs (copies held from an earlier run of the same
   * tokens and interventions) instead of computed; the nodes only they needed are dropped.
   */
  readonly given?: ReadonlySet<string>;
  /**
   * A right-padded batch: the graph takes ATTENTION_MASK_INPUT (int64 [batch, pos], 1 at real
   * positions), every layer's attention masks padded keys, and 'last' means each prompt's own
   * last real position. Same-length batches' graphs have no such input.
   */
  readonly attentionMask?: boolean;
}

/** The `present` outputs of an incremental graph, key then value per layer. */
export function presentNames(cfg: Pick<HookedGPT2Config, 'n_layers'>): string[] {
  return Array.from({ length: cfg.n_layers }, (_, L) => [presentKeyName(L), presentValueName(L)]).flat();
}

export function buildModelGraph(
  cfg: HookedGPT2Config,
  w: GPT2Weights,
  transforms: ReadonlyMap<string, HookTransform> = new Map(),
  logitsAt: LogitsAt = 'all',
  shape: GraphShape = {},
): ModelGraph {
  checkWeights(cfg, w);
  const declared = listHookPoints(cfg);
  const declaredNames = new Set(declared.map((h) => h.name));
  for (const name of transforms.keys()) {
    if (!declaredNames.has(name)) throw new Error(`no hook point named '${name}' in this model`);
  }
  if (logitsAt === 'last' && transforms.has(UNEMBED_HOOK_OUT)) {
    throw new Error(`internal: an intervention on ${UNEMBED_HOOK_OUT} needs the graph that unembeds every position`);
  }
  const b = new GraphBuilder(cfg.model_name, transforms);
  const tokens = b.input(TOKENS_INPUT, 'int64', ['batch', 'pos']);
  const past = shape.withPast ? declarePast(b, cfg.n_layers, cfg.n_heads, cfg.d_head) : null;
  if (shape.attentionMask && past) throw new Error('internal: a padded batch cannot run after a past');
  const mask = shape.attentionMask ? b.input(ATTENTION_MASK_INPUT, 'int64', ['batch', 'pos']) : null;
  // Each prompt's last real position, int64 [batch].
  const lastIndex = mask
    ? b.op('Sub', [b.op('ReduceSum', [mask, b.ints([1])], { keepdims: { i: 0 } }), b.constant('int64', [1], [])])
    : undefined;
  const embed = emitEmbed(b, tokens, w.W_E); // [batch, pos, d_model]
  const pos = emitPosEmbed(b, tokens, w.W_pos, cfg.d_model, past?.[0]?.length); // [batch, pos, d_model]
  let resid = b.op('Add', [embed, pos]); // [batch, pos, d_model]
  for (let L = 0; L < cfg.n_layers; L++) resid = emitTransformerBlock(b, cfg, L, resid, w.blocks[L]!, past?.[L]);
  const tlVersion = cfg.transformer_lens_version ?? DEFAULT_TL_VERSION;
  const final = emitLayerNorm(b, resid, { prefix: 'ln_final', w: w.ln_final_w, b: w.ln_final_b, eps: cfg.eps, perHead: false, tlVersion });
  emitUnembed(b, cfg, final, w, LOGITS_OUTPUT, logitsAt === 'last', lastIndex);
  const readouts = shape.readouts ?? [];
  const emitted = readouts.length > 0 ? emitReadouts(b, cfg, w, tokens, LOGITS_OUTPUT, readouts, mask) : null;
  const answers = emitted?.outputs ?? null;

  if (answers === null) b.output(LOGITS_OUTPUT, ['batch', logitsAt === 'all' ? 'pos' : 1, cfg.d_vocab_out]);
  // A graph that unembeds only the last position has no full-size logits for unembed.hook_out.
  const expected = declared.filter((h) => logitsAt === 'all' || h.name !== UNEMBED_HOOK_OUT);
  const expectedNames = new Set(expected.map((h) => h.name));
  if (answers === null) {
    for (const h of expected) {
      // With a past, keys span past + pos while queries span pos: a symbol of their own.
      const dims = symbolicShape(h, cfg).map((d, k) => (past && h.dims[k] === 'key_pos' ? 'past+pos' : d));
      b.output(h.name, dims);
    }
  }
  if (past) for (const name of presentNames(cfg)) b.output(name, ['batch', cfg.n_heads, 'past+pos', cfg.d_head]);

  const hooks = b.emittedHooks();
  // The table and the graph come from the same kernels; this keeps them from drifting apart.
  const emittedNames = new Set(hooks.map((h) => h.name));
  if (
    emittedNames.size !== hooks.length ||
    emittedNames.size !== expectedNames.size ||
    [...expectedNames].some((n) => !emittedNames.has(n))
  ) {
    throw new Error('internal: the graph emitted hook points that differ from listHookPoints(cfg)');
  }
  // With a past, the present keys and values stay outputs beside the answers (the cache needs them).
  const graph =
    answers === null
      ? b.build()
      : pruneGraph(orderBefore(b.build(), emitted!.order), [...answers, ...(past ? presentNames(cfg) : [])], shape.given);
  return { graph, hooks };
}
