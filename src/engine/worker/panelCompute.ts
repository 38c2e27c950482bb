// The activation panel's requests, served inside the engine worker: one run's cache stays here
// and each view asks for just what it draws (a summary first; one head's pattern, one layer's
// neurons, the logit lens or one token's attribution later), so a 1024-token cache never
// crosses to the extension host. No vscode import.
import { threadId } from 'node:worker_threads';
import { ActivationCache } from '../activationCache';
import type { Intervention } from '../interventions';
import type { HookedGPT2 } from '../model';
import { GraphBuilder } from '../onnx/builder';
import { createSharedWeightsSession } from '../ort/graphSession';
import type { EngineSession } from '../ort/session';
import { writeSafetensors } from '../safetensors/write';
import { processingMetadata } from '../processing';
import type { Tensor } from '../types';
import {
  heldHeadPattern,
  neuronColumn,
  nextTokenStats,
  packPattern,
  poolPatterns,
  topNeurons,
  vectorNorms,
  type HeldPattern,
} from './panelMath';
import { abortError } from '../../common/errors';

export type PanelOp =
  | {
      readonly op: 'run';
      readonly tokens: Int32Array;
      readonly interventions: readonly Intervention[];
      /** How many next tokens per position. */
      readonly topK: number;
      /** Thumbnail side (cells) of each pooled attention pattern. */
      readonly thumb: number;
    }
  | { readonly op: 'pattern'; readonly runId: number; readonly layer: number; readonly head: number }
  | {
      readonly op: 'neurons';
      readonly runId: number;
      readonly layer: number;
      readonly count: number;
      readonly neuron: number | null;
      readonly from: number;
      readonly to: number;
    }
  /**
   * The logit lens at positions [from, to) (default: all). Rows are unembedded once per run and
   * kept, so the panel asks for the visible window first and more as the user scrolls.
   */
  | { readonly op: 'logitLens'; readonly runId: number; readonly from?: number; readonly to?: number }
  | { readonly op: 'dla'; readonly runId: number; readonly pos: number; readonly token: number }
  | { readonly op: 'export'; readonly runId: number; readonly path: string }
  | { readonly op: 'release' };

export interface PanelSummary {
  readonly runId: number;
  readonly pos: number;
  readonly topK: number;
  readonly loss: Float32Array; // [pos]
  readonly meanLoss: number;
  readonly topIds: Int32Array; // [pos, topK]
  readonly topProbs: Float32Array; // [pos, topK]
  readonly nextProb: Float32Array; // [pos]
  readonly nextRank: Int32Array; // [pos]
  readonly thumb: number;
  readonly thumbs: Float32Array; // [n_layers, n_heads, thumb, thumb]
  readonly residLabels: readonly string[];
  readonly residNorms: Float32Array; // [components, pos]
}

export type PanelResult =
  | ({ readonly op: 'run' } & PanelSummary)
  | { readonly op: 'pattern'; readonly layer: number; readonly head: number; readonly pos: number; readonly data: Float32Array }
  | {
      readonly op: 'neurons';
      readonly layer: number;
      readonly ids: Int32Array;
      readonly values: Float32Array;
      readonly neuron: number;
      readonly neuronValues: Float32Array;
    }
  | {
      readonly op: 'logitLens';
      readonly labels: readonly string[];
      /** The positions [from, to) these rows cover; `to - from` is the window's width w. */
      readonly from: number;
      readonly to: number;
      readonly topIds: Int32Array; // [layers, w]
      readonly topProbs: Float32Array; // [layers, w]
      readonly nextProb: Float32Array; // [layers, w]; NaN at the last position
    }
  | { readonly op: 'dla'; readonly pos: number; readonly token: number; readonly labels: readonly string[]; readonly values: Float32Array }
  | { readonly op: 'export'; readonly path: string; readonly tensors: number }
  | { readonly op: 'release' };

/**
 * The hooks a panel run asks the session for; everything else is never fetched. resid_mid is
 * read once for the residual norms and the patterns once for the thumbnails; keptNames says
 * what stays held afterwards.
 */
export function panelNames(n_layers: number): string[] {
  return [
    'hook_embed',
    'hook_pos_embed',
    'blocks.*.hook_resid_pre',
    'blocks.*.hook_resid_mid',
    `blocks.${n_layers - 1}.hook_resid_post`,
    'blocks.*.attn.hook_pattern',
    'blocks.*.attn.hook_z',
    'blocks.*.hook_mlp_out',
    'blocks.*.mlp.hook_post',
    'ln_final.hook_scale',
  ];
}

/**
 * What the views read later: DLA (embeds, mlp_out, z, ln_final scale), the logit lens
 * (resid_pre, the final resid_post, ln_final scale), neurons (mlp post). Patterns are held
 * packed beside the cache (HeldPattern); resid_mid is not held.
 */
function keptName(name: string, n_layers: number): boolean {
  if (name === 'hook_embed' || name === 'hook_pos_embed' || name === 'ln_final.hook_scale') return true;
  if (name === `blocks.${n_layers - 1}.hook_resid_post`) return true;
  return /^blocks\.\d+\.(hook_resid_pre|attn\.hook_z|hook_mlp_out|mlp\.hook_post)$/.test(name);
}

/** The logit lens rows unembedded so far for one run: [layers, pos] each, `done` per position. */
interface LensTable {
  readonly labels: readonly string[];
  readonly topIds: Int32Array; // [layers, pos]
  readonly topProbs: Float32Array; // [layers, pos]
  readonly nextProb: Float32Array; // [layers, pos]
  readonly done: Uint8Array; // [pos]
}

interface Held {
  readonly runId: number;
  readonly model: HookedGPT2;
  readonly tokens: Int32Array;
  readonly interventions: readonly Intervention[];
  readonly cache: ActivationCache;
  readonly patterns: readonly HeldPattern[]; // [n_layers]
  lens: LensTable | null;
}

let held: Held | null = null;
// Unique across worker threads: after a restart a panel's old runId must not name a new run.
let nextRunId = threadId * 1_000_000 + 1;
let lens: { model: HookedGPT2; session: Promise<EngineSession> } | null = null;

function heldRun(runId: number, model: HookedGPT2): Held {
  if (held === null || held.runId !== runId || held.model !== model) {
    throw new Error(`run ${runId} is no longer held in the engine (a newer run or another model replaced it); run the panel again`);
  }
  return held;
}

/** Buffers to move (not copy) back to the caller. */
export function panelTransfer(r: PanelResult): ArrayBuffer[] {
  const out: ArrayBuffer[] = [];
  for (const v of Object.values(r)) if (ArrayBuffer.isView(v)) out.push(v.buffer as ArrayBuffer);
  return out;
}

export async function handlePanelOp(model: HookedGPT2 | null, op: PanelOp, signal: AbortSignal): Promise<PanelResult> {
  if (op.op === 'release') {
    held = null;
    await releaseLens();
    return { op: 'release' };
  }
  if (model === null) throw new Error('no model loaded');
  switch (op.op) {
    case 'run':
      return runPanel(model, op, signal);
    case 'pattern': {
      const h = heldRun(op.runId, model);
      checkIndex('layer', op.layer, model.cfg.n_layers);
      checkIndex('head', op.head, model.cfg.n_heads);
      return { op: 'pattern', layer: op.layer, head: op.head, pos: h.tokens.length, data: heldHeadPattern(h.patterns[op.layer]!, op.head) };
    }
    case 'neurons': {
      const h = heldRun(op.runId, model);
      checkIndex('layer', op.layer, model.cfg.n_layers);
      const post = h.cache.act('post', op.layer); // [1, pos, d_mlp]
      const top = topNeurons(post, Math.max(1, Math.min(op.count, 256)), op.from, op.to);
      const neuron = op.neuron ?? top.ids[0]!;
      checkIndex('neuron', neuron, model.cfg.d_mlp);
      return { op: 'neurons', layer: op.layer, ids: top.ids, values: top.values, neuron, neuronValues: neuronColumn(post, neuron) };
    }
    case 'logitLens': {
      const h = heldRun(op.runId, model);
      const pos = h.tokens.length;
      const from = op.from ?? 0;
      const to = op.to ?? pos;
      if (!Number.isInteger(from) || !Number.isInteger(to) || from < 0 || to > pos || from >= to) {
        throw new Error(`logit lens window [${from}, ${to}) is not inside 0..${pos}`);
      }
      return logitLens(h, from, to, signal);
    }
    case 'dla': {
      const h = heldRun(op.runId, model);
      checkIndex('position', op.pos, h.tokens.length);
      checkIndex('token', op.token, model.cfg.d_vocab);
      return directLogitAttribution(h, op.pos, op.token);
    }
    case 'export': {
      const h = heldRun(op.runId, model);
      // The export holds every hook point, as TransformerLens's run_with_cache() does, so it is a fresh run.
      const full = await model.runWithInterventions(h.tokens, h.interventions, { names: () => true, signal });
      if (signal.aborted) throw abortError();
      const tensors = full.cache.toSafetensorsTensors();
      await writeSafetensors(op.path, tensors, {
        format: 'pt',
        model_name: model.cfg.model_name,
        source: 'Model Lens',
        transformer_lens_version: model.cfg.transformer_lens_version ?? '3.x',
        // The switches, and the from_pretrained(...) call that loads the same weights in Python.
        ...(model.processing ? processingMetadata(model.processing.options) : {}),
      });
      return { op: 'export', path: op.path, tensors: tensors.length };
    }
    default: {
      const exhaustive: never = op;
      throw new Error(`unknown panel op ${JSON.stringify(exhaustive)}`);
    }
  }
}

function checkIndex(what: string, v: number, limit: number): void {
  if (!Number.isInteger(v) || v < 0 || v >= limit) throw new Error(`${what} ${v} is out of range 0..${limit - 1}`);
}

async function runPanel(model: HookedGPT2, op: Extract<PanelOp, { op: 'run' }>, signal: AbortSignal): Promise<PanelResult> {
  held = null; // drop the previous run's cache before this one allocates its own
  const { logits, cache } = await model.runWithInterventions(op.tokens, op.interventions, {
    names: panelNames(model.cfg.n_layers),
    signal,
  });
  if (signal.aborted) throw abortError();
  const cfg = model.cfg;
  const pos = op.tokens.length;
  const stats = nextTokenStats(logits, op.tokens, op.topK);
  const t = Math.max(1, Math.min(op.thumb, pos));
  const thumbs = new Float32Array(cfg.n_layers * cfg.n_heads * t * t);
  const patterns: HeldPattern[] = [];
  for (let l = 0; l < cfg.n_layers; l++) {
    if (signal.aborted) throw abortError();
    const pattern = cache.act('pattern', l); // [1, n_heads, pos, pos]
    poolPatterns(pattern, t, thumbs, l * cfg.n_heads * t * t);
    patterns.push(packPattern(pattern));
  }
  const resid = cache.accumulatedResid(undefined, { incl_mid: true }); // [components, 1, pos, d_model]
  let sum = 0;
  let n = 0;
  for (const x of stats.loss) {
    if (Number.isNaN(x)) continue;
    sum += x;
    n++;
  }
  const runId = nextRunId++;
  // Hold only what later requests read: the full patterns, resid_mid and the logits go now.
  const kept = new Map(
    cache
      .names()
      .filter((name) => keptName(name, cfg.n_layers))
      .map((name) => [name, cache.get(name)] as const),
  );
  held = {
    runId,
    model,
    tokens: op.tokens,
    interventions: op.interventions,
    cache: new ActivationCache(kept, cfg, model.processedWeights),
    patterns,
    lens: null,
  };
  return {
    op: 'run',
    runId,
    pos,
    topK: stats.topIds.length / pos,
    ...stats,
    meanLoss: n > 0 ? sum / n : NaN,
    thumb: t,
    thumbs,
    residLabels: resid.labels,
    residNorms: vectorNorms(resid.stack),
  };
}

function directLogitAttribution(h: Held, pos: number, token: number): PanelResult {
  const cache = h.cache;
  const { n_layers: L, n_heads: H, d_head, d_model } = cache.cfg;
  // Embeddings and MLP outputs, then each head's write (z @ W_O, without b_O), TransformerLens's
  // labels. Head results are computed at this one position only: stackHeadResults would
  // multiply every position (seconds at 1024 tokens) to keep one.
  const parts = cache.decomposeResid(L, { mode: 'mlp', pos_slice: pos }); // [components, 1, d_model]
  const w = h.model.processedWeights;
  const heads = new Float32Array(L * H * d_model); // [n_layers*n_heads, 1, d_model]
  const labels: string[] = [];
  for (let l = 0; l < L; l++) {
    const z = cache.act('z', l); // [1, pos, n_heads, d_head]
    const W_O = w.blocks[l]!.W_O.data; // [n_heads, d_head, d_model]
    for (let hh = 0; hh < H; hh++) {
      const out = (l * H + hh) * d_model;
      const zBase = (pos * H + hh) * d_head;
      for (let k = 0; k < d_head; k++) {
        const zk = z.data[zBase + k]!;
        const row = (hh * d_head + k) * d_model;
        for (let m = 0; m < d_model; m++) heads[out + m]! += zk * W_O[row + m]!;
      }
      labels.push(`L${l}H${hh}`);
    }
  }
  const embeds = cache.logitAttrs(parts.stack, [token], undefined, pos);
  const headAttrs = cache.logitAttrs({ dims: [L * H, 1, d_model], data: heads }, [token], undefined, pos);
  const all = [...parts.labels, ...labels];
  const values = new Float32Array(all.length);
  values.set(embeds.data, 0);
  values.set(headAttrs.data, parts.labels.length);
  return { op: 'dla', pos, token, labels: all, values };
}

async function releaseLens(): Promise<void> {
  const old = lens;
  lens = null;
  if (old) await (await old.session.catch(() => null))?.release();
}

/** A graph that unembeds rows of a normalised residual [rows, d_model] and summarises each over the vocabulary. */
function lensSession(model: HookedGPT2): Promise<EngineSession> {
  if (lens?.model === model) return lens.session;
  void releaseLens();
  const w = model.processedWeights;
  const b = new GraphBuilder('logit_lens');
  const x = b.input('x', 'float32', ['rows', model.cfg.d_model]);
  const next = b.input('next', 'int64', ['rows', 1]);
  const logits = b.op('Add', [b.op('MatMul', [x, b.weight('W_U', w.W_U)]), b.weight('b_U', w.b_U)]); // [rows, d_vocab]
  b.op('ReduceMax', [logits], { axes: { ints: [-1] }, keepdims: { i: 1 } }, { out: 'top' }); // [rows, 1]
  b.op('ArgMax', [logits], { axis: { i: -1 }, keepdims: { i: 1 } }, { out: 'arg', type: 'int64' }); // [rows, 1]
  b.op('ReduceLogSumExp', [logits], { axes: { ints: [-1] }, keepdims: { i: 1 } }, { out: 'lse' }); // [rows, 1]
  b.op('GatherElements', [logits, next], { axis: { i: -1 } }, { out: 'nextLogit' }); // [rows, 1]
  for (const o of ['top', 'arg', 'lse', 'nextLogit']) b.output(o, ['rows', 1]);
  // W_U and b_U are the model's own arrays, fed as inputs: the lens holds no copy of the unembedding.
  const session = createSharedWeightsSession(b.build(), { device: 'cpu' }).then((c) => c.session);
  lens = { model, session };
  return session;
}

/** Rows per session run: bounds the [rows, d_vocab] logits onnxruntime holds at once (≈100 MB for GPT-2). */
const LENS_ROWS = 512;

/**
 * The logit lens at positions [from, to): rows not unembedded yet for this run are computed in
 * chunks of whole positions (every layer of a position together), then the window is copied out.
 */
async function logitLens(h: Held, from: number, to: number, signal: AbortSignal): Promise<PanelResult> {
  const cache = h.cache;
  const pos = h.tokens.length;
  const d = cache.cfg.d_model;
  const layers = cache.cfg.n_layers + 1;
  const lens = (h.lens ??= {
    labels: cache.accumulatedResid(undefined, { pos_slice: [0, 1] }).labels,
    topIds: new Int32Array(layers * pos),
    topProbs: new Float32Array(layers * pos),
    nextProb: new Float32Array(layers * pos).fill(NaN),
    done: new Uint8Array(pos),
  });
  const session = await lensSession(h.model);
  const chunk = Math.max(1, Math.floor(LENS_ROWS / layers)); // positions per session run
  for (let a = from; a < to;) {
    if (lens.done[a]) {
      a++;
      continue;
    }
    let b = a + 1;
    while (b < to && b - a < chunk && !lens.done[b]) b++;
    if (signal.aborted) throw abortError();
    // Each layer's accumulated residual through the final LayerNorm (cached scale), as
    // TransformerLens's accumulated_resid(apply_ln=True); the unembedding is in the session.
    const stack: Tensor = cache.accumulatedResid(undefined, { apply_ln: true, pos_slice: [a, b] }).stack; // [layers, 1, b-a, d_model]
    const w = b - a;
    const n = layers * w;
    const next = new BigInt64Array(n); // [rows, 1]
    for (let i = 0; i < n; i++) {
      const p = a + (i % w);
      next[i] = BigInt(p + 1 < pos ? h.tokens[p + 1]! : 0);
    }
    const out = await session.run(
      { x: { type: 'float32', dims: [n, d], data: stack.data }, next: { type: 'int64', dims: [n, 1], data: next } },
      ['top', 'arg', 'lse', 'nextLogit'],
    );
    const top = out.top!.data as Float32Array;
    const arg = out.arg!.data as BigInt64Array;
    const lse = out.lse!.data as Float32Array;
    const nl = out.nextLogit!.data as Float32Array;
    for (let i = 0; i < n; i++) {
      const p = a + (i % w);
      const at = Math.floor(i / w) * pos + p;
      lens.topIds[at] = Number(arg[i]!);
      lens.topProbs[at] = Math.exp(top[i]! - lse[i]!);
      if (p + 1 < pos) lens.nextProb[at] = Math.exp(nl[i]! - lse[i]!);
    }
    lens.done.fill(1, a, b);
    a = b;
  }
  const w = to - from;
  const topIds = new Int32Array(layers * w);
  const topProbs = new Float32Array(layers * w);
  const nextProb = new Float32Array(layers * w);
  for (let l = 0; l < layers; l++) {
    topIds.set(lens.topIds.subarray(l * pos + from, l * pos + to), l * w);
    topProbs.set(lens.topProbs.subarray(l * pos + from, l * pos + to), l * w);
    nextProb.set(lens.nextProb.subarray(l * pos + from, l * pos + to), l * w);
  }
  return { op: 'logitLens', labels: lens.labels, from, to, topIds, topProbs, nextProb };
}
