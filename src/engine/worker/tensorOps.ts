// The tensor view's requests, served inside the engine worker: a tensor (a weight, one head's
// OV or QK circuit, a hook's activation on some tokens, or a tensor in a .safetensors file) is
// opened and held here; its statistics and histogram, then the 2-D windows the view draws and
// the tokens ranked along a vocabulary axis, are what cross to the host. Nearest tokens by cosine
// similarity in W_E or W_U, the process's memory, and writing a held tensor to a file live here
// too. No vscode import.
import { threadId } from 'node:worker_threads';
import { readSafetensors } from '../safetensors/read';
import { writeSafetensors } from '../safetensors/write';
import { namedWeights } from '../modelInfo';
import type { HookedGPT2 } from '../model';
import type { Tensor } from '../types';
import { axisNamesFor, vocabAxisOf } from '../inspect/axisNames';
import {
  headCircuit,
  histogram,
  nearestTokens,
  rankAlong,
  slice2d,
  tensorStats,
  type Histogram,
  type SliceRequest,
  type TensorStats,
} from '../inspect/tensorMath';
import { circuitSvd, tokensAlong } from '../inspect/circuitSvd';
import { abortError } from '../../common/errors';
import { MAX_DIRECTIONS, MAX_DIRECTION_TOKENS } from '../inspect/directionLimits';
import { collectGarbage } from '../collectGarbage';

/** Where a tensor comes from. */
export type TensorSource =
  /** A parameter by its TransformerLens name (`blocks.0.attn.W_Q`), as the loaded (processed) model holds it. */
  | { readonly kind: 'weight'; readonly name: string }
  /** `blocks.{layer}.attn.OV[head]` or `.QK[head]`, made dense: [d_model, d_model]. */
  | { readonly kind: 'circuit'; readonly which: 'OV' | 'QK'; readonly layer: number; readonly head: number }
  /** One hook point's activation on these tokens (BOS included when wanted). */
  | { readonly kind: 'hook'; readonly name: string; readonly tokens: Int32Array }
  /** A tensor of a .safetensors file; only its bytes are read. */
  | { readonly kind: 'file'; readonly path: string; readonly name: string };

export type TensorOp =
  | { readonly op: 'open'; readonly source: TensorSource; readonly bins: number }
  | ({ readonly op: 'slice'; readonly key: number } & SliceRequest)
  | { readonly op: 'rank'; readonly key: number; readonly vocabAxis: number; readonly index: readonly number[]; readonly k: number }
  | { readonly op: 'nearest'; readonly matrix: 'W_E' | 'W_U'; readonly token: number; readonly k: number }
  /** The top `k` singular directions of one head's OV or QK circuit, with `tokens` tokens at each end of each side. */
  | {
      readonly op: 'directions';
      readonly which: 'OV' | 'QK';
      readonly layer: number;
      readonly head: number;
      readonly k: number;
      readonly tokens: number;
    }
  | { readonly op: 'export'; readonly key: number; readonly path: string; readonly name: string }
  /**
   * The process's memory; with `settle`, after a full garbage collection of this worker's heap, so
   * that a before/after comparison measures what is held rather than when V8 last collected.
   */
  | { readonly op: 'memory'; readonly settle?: boolean }
  | { readonly op: 'release'; readonly key: number };

export interface OpenedTensor {
  readonly op: 'open';
  /** Names the held tensor in later requests (unique across worker threads). */
  readonly key: number;
  readonly name: string;
  readonly dims: readonly number[];
  readonly axisNames: readonly string[];
  /** How it is stored (a file's dtype; F32 for everything the engine holds). */
  readonly dtype: string;
  readonly vocabAxis: number | null;
  readonly stats: TensorStats;
  readonly histogram: Histogram;
}

export type TensorResult =
  | OpenedTensor
  | ({ readonly op: 'slice' } & ReturnType<typeof slice2d>)
  | ({ readonly op: 'rank' } & ReturnType<typeof rankAlong>)
  | { readonly op: 'nearest'; readonly matrix: 'W_E' | 'W_U'; readonly token: number; readonly ids: Int32Array; readonly cos: Float32Array }
  | CircuitDirections
  | { readonly op: 'export'; readonly path: string }
  | {
      readonly op: 'memory';
      /** The whole process's resident set (a worker thread shares its process): onnxruntime's native memory included. */
      readonly rss: number;
      readonly heapUsed: number;
      readonly external: number;
      readonly arrayBuffers: number;
      /** Activation-panel runs the model holds (HookedGPT2.runs): 0 once every panel closed. */
      readonly heldRuns: number;
    }
  | { readonly op: 'release' };

/**
 * σ₁..σ_k of a head's circuit and, per direction i, the tokens at either end of each side, flattened
 * [k, tokens]. Input side: OV's u_i read through W_E rows (the tokens whose embedding the head reads);
 * QK's query side, the same. Output side: OV's v_i through W_U columns (the logits its write raises and
 * lowers); QK's key side through W_E. A singular pair's sign is arbitrary but shared: an input token at
 * the top end sends the output side's top end up (OV), or attends to the key side's top end (QK).
 */
export interface CircuitDirections {
  readonly op: 'directions';
  readonly which: 'OV' | 'QK';
  readonly sigma: Float64Array;
  readonly tokens: number;
  readonly inputTopIds: Int32Array;
  readonly inputTopValues: Float32Array;
  readonly inputBottomIds: Int32Array;
  readonly inputBottomValues: Float32Array;
  readonly outputTopIds: Int32Array;
  readonly outputTopValues: Float32Array;
  readonly outputBottomIds: Int32Array;
  readonly outputBottomValues: Float32Array;
}

/** At most this many directions and tokens per end: the view lists them, not a matrix. */
export { MAX_DIRECTIONS, MAX_DIRECTION_TOKENS };

function circuitDirections(model: HookedGPT2, op: Extract<TensorOp, { op: 'directions' }>): CircuitDirections {
  const w = model.processedWeights;
  const block = w.blocks[op.layer];
  if (block === undefined) throw new Error(`layer ${op.layer} is out of range 0..${model.cfg.n_layers - 1}`);
  const k = Math.max(1, Math.min(MAX_DIRECTIONS, Math.floor(op.k)));
  const t = Math.max(1, Math.min(MAX_DIRECTION_TOKENS, Math.floor(op.tokens)));
  const svd = op.which === 'OV' ? circuitSvd('OV', block.W_V, block.W_O, op.head, k) : circuitSvd('QK', block.W_Q, block.W_K, op.head, k);
  const n = svd.sigma.length;
  const flat = (): { ids: Int32Array; values: Float32Array } => ({ ids: new Int32Array(n * t), values: new Float32Array(n * t) });
  const [inTop, inBottom, outTop, outBottom] = [flat(), flat(), flat(), flat()];
  const put = (into: { ids: Int32Array; values: Float32Array }, i: number, ids: Int32Array, values: Float32Array): void => {
    into.ids.set(ids.subarray(0, t), i * t);
    into.values.set(values.subarray(0, t), i * t);
  };
  for (let i = 0; i < n; i++) {
    const input = tokensAlong(w.W_E, true, svd.left[i]!, t);
    const output = op.which === 'OV' ? tokensAlong(w.W_U, false, svd.right[i]!, t) : tokensAlong(w.W_E, true, svd.right[i]!, t);
    put(inTop, i, input.topIds, input.topValues);
    put(inBottom, i, input.bottomIds, input.bottomValues);
    put(outTop, i, output.topIds, output.topValues);
    put(outBottom, i, output.bottomIds, output.bottomValues);
  }
  return {
    op: 'directions',
    which: op.which,
    sigma: svd.sigma,
    tokens: t,
    inputTopIds: inTop.ids,
    inputTopValues: inTop.values,
    inputBottomIds: inBottom.ids,
    inputBottomValues: inBottom.values,
    outputTopIds: outTop.ids,
    outputTopValues: outTop.values,
    outputBottomIds: outBottom.ids,
    outputBottomValues: outBottom.values,
  };
}

interface HeldTensor {
  readonly tensor: Tensor;
  readonly name: string;
  /** The model it was read from (null for a file): a reload makes it stale. */
  readonly model: HookedGPT2 | null;
}

/** Tensor views open at once keep their tensors here; the oldest goes when a fifth is opened. */
const MAX_HELD = 4;
const held = new Map<number, HeldTensor>();
// Unique across worker threads: after a restart a view's old key must not name another tensor.
let nextKey = threadId * 1_000_000 + 1;

/** Buffers to move (not copy) back to the caller. */
export function tensorTransfer(r: TensorResult): ArrayBuffer[] {
  const out: ArrayBuffer[] = [];
  for (const v of Object.values(r)) if (ArrayBuffer.isView(v)) out.push(v.buffer as ArrayBuffer);
  if (r.op === 'open') out.push(r.histogram.counts.buffer as ArrayBuffer);
  return out;
}

function heldTensor(key: number, model: HookedGPT2 | null): HeldTensor {
  const h = held.get(key);
  if (h === undefined || (h.model !== null && h.model !== model)) {
    throw new TensorNotHeldError(`tensor ${key} is no longer held in the engine (the model was reloaded or other tensors replaced it)`);
  }
  return h;
}

/** The host re-opens the tensor's source when it sees this error name. */
export class TensorNotHeldError extends Error {
  override readonly name = 'TensorNotHeldError';
}

function requireModel(model: HookedGPT2 | null): HookedGPT2 {
  if (model === null) throw new Error('no model loaded');
  return model;
}

async function readSource(model: HookedGPT2 | null, source: TensorSource, signal: AbortSignal): Promise<HeldTensor & { dtype: string }> {
  switch (source.kind) {
    case 'weight': {
      const m = requireModel(model);
      const found = namedWeights(m.processedWeights).find(([n]) => n === source.name);
      if (found === undefined) {
        throw new Error(`the loaded model has no parameter "${source.name}" (LayerNorm weights are folded away by fold_ln)`);
      }
      // The model's own array, not a copy: nothing here writes to it.
      return { tensor: found[1], name: source.name, model: m, dtype: 'F32' };
    }
    case 'circuit': {
      const m = requireModel(model);
      const block = m.processedWeights.blocks[source.layer];
      if (block === undefined) throw new Error(`layer ${source.layer} is out of range 0..${m.cfg.n_layers - 1}`);
      const tensor =
        source.which === 'OV' ? headCircuit('OV', block.W_V, block.W_O, source.head) : headCircuit('QK', block.W_Q, block.W_K, source.head);
      return { tensor, name: `blocks.${source.layer}.attn.${source.which}[${source.head}]`, model: m, dtype: 'F32' };
    }
    case 'hook': {
      const m = requireModel(model);
      if (!m.hookPoints().some((h) => h.name === source.name)) {
        throw new Error(`hook ${source.name} does not fire with this model's flags (flag-gated hooks need use_attn_result and friends)`);
      }
      const r = await m.forward(source.tokens, { names: [source.name], signal });
      const t = r.activations.get(source.name);
      if (t === undefined) throw new Error(`the run did not return ${source.name}`);
      return { tensor: t, name: source.name, model: m, dtype: 'F32' };
    }
    case 'file': {
      const file = await readSafetensors(source.path);
      const info = file.tensors.get(source.name);
      if (info === undefined) throw new Error(`${source.path}: no tensor named "${source.name}"`);
      return { tensor: await file.getTensor(source.name), name: source.name, model: null, dtype: info.dtype };
    }
    default: {
      const exhaustive: never = source;
      throw new Error(`unknown tensor source ${JSON.stringify(exhaustive)}`);
    }
  }
}

export async function handleTensorOp(model: HookedGPT2 | null, op: TensorOp, signal: AbortSignal): Promise<TensorResult> {
  switch (op.op) {
    case 'open': {
      const read = await readSource(model, op.source, signal);
      if (signal.aborted) throw abortError();
      const stats = tensorStats(read.tensor.data);
      const key = nextKey++;
      held.set(key, { tensor: read.tensor, name: read.name, model: read.model });
      while (held.size > MAX_HELD) held.delete(held.keys().next().value!);
      const axisNames = op.source.kind === 'circuit' ? ['d_model', 'd_model'] : axisNamesFor(read.name, read.tensor.dims.length);
      return {
        op: 'open',
        key,
        name: read.name,
        dims: [...read.tensor.dims],
        axisNames,
        dtype: read.dtype,
        vocabAxis: vocabAxisOf(axisNames),
        stats,
        histogram: histogram(read.tensor.data, stats, Math.min(256, Math.max(1, op.bins))),
      };
    }
    case 'slice':
      return { op: 'slice', ...slice2d(heldTensor(op.key, model).tensor, op) };
    case 'rank':
      return { op: 'rank', ...rankAlong(heldTensor(op.key, model).tensor, op.vocabAxis, op.index, Math.min(100, op.k)) };
    case 'nearest': {
      const w = requireModel(model).processedWeights;
      const r =
        op.matrix === 'W_E'
          ? nearestTokens(w.W_E, true, op.token, Math.min(200, op.k))
          : nearestTokens(w.W_U, false, op.token, Math.min(200, op.k));
      return { op: 'nearest', matrix: op.matrix, token: op.token, ids: r.ids, cos: r.cos };
    }
    case 'directions':
      return circuitDirections(requireModel(model), op);
    case 'export': {
      const h = heldTensor(op.key, model);
      await writeSafetensors(op.path, [{ name: op.name, dims: h.tensor.dims, dtype: 'F32', data: h.tensor.data }], {
        format: 'pt',
        source: 'Model Lens',
        ...(model !== null ? { model_name: model.cfg.model_name } : {}),
      });
      return { op: 'export', path: op.path };
    }
    case 'memory': {
      if (op.settle === true) collectGarbage();
      const m = process.memoryUsage();
      return {
        op: 'memory',
        rss: m.rss,
        heapUsed: m.heapUsed,
        external: m.external,
        arrayBuffers: m.arrayBuffers,
        heldRuns: model?.runs.size ?? 0,
      };
    }
    case 'release':
      held.delete(op.key);
      return { op: 'release' };
    default: {
      const exhaustive: never = op;
      throw new Error(`unknown tensor op ${JSON.stringify(exhaustive)}`);
    }
  }
}
