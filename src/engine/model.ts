// HookedGPT2: TransformerLens's HookedTransformer API for GPT-2 on onnxruntime.
//
// One forward graph per model + flags (+ intervention structure), built from kernels/, with every
// hook point a named tensor. Each session outputs the logits plus only the hook points a call asks
// for (run() is logits-only), so caching is fetching more outputs and onnxruntime can reuse the
// rest. A function hook is a cut of the graph at its tensor (src/engine/cut.ts); sessions are
// cached per hook set, requested outputs and unembedded positions. Hooks are
// arguments of one call, never stored on the model, so a throwing hook cannot leave one behind
// (TransformerLens's "hooks are global state" footgun); the per-call state is cleared in `finally`.
import { ActivationCache } from './activationCache';
import { collectGarbage } from './collectGarbage';
import { loadCheckpoint } from './checkpoint/load';
import { processedCacheEntry, readProcessedWeights, writeProcessedWeights, type CachedProcessedWeights } from './checkpoint/processedCache';
import { cutGraph, type Segment } from './cut';
import { buildModelGraph, LOGITS_OUTPUT, presentNames, TOKENS_INPUT, type LogitsAt, type ModelGraph } from './graph';
import { PastElsewhereError, pastFeeds, presentOf, type PastKeyValues, type PastTensor } from './kvCache';
import { checkIncrementalInterventions, forwardIncremental, type IncrementalOptions, type IncrementalResult } from './incremental';
import { listHookPoints, type HookDecl } from './hookPoints';
import { UNEMBED_HOOK_OUT, unembedInputHook } from '../../kernels/unembed';
import { ATTENTION_MASK_INPUT } from '../../kernels/attention';
import { held, heldActivations } from '../../kernels/readouts/held';
import { emitPastSlice, PAST_KEEP_INPUT } from '../../kernels/kvCache';
import { GraphBuilder } from './onnx/builder';
import { DeviceWeights } from './deviceWeights';
import { compileInterventions, type Intervention } from './interventions';
import { resolveNames } from './names';
import { rmSync } from 'node:fs';
import { encodeModel } from './onnx/encode';
import type { GraphIR } from './onnx/ir';
import { WeightFile } from './onnx/weightFile';
import { createSharedWeightsSession } from './ort/graphSession';
import { runsOnlyOnCpu } from './ort/providerPlan';
import {
  createSession,
  isDeviceTensor,
  type CreatedSession,
  type EngineSession,
  type HostTensor,
  type SessionOptions,
  type SessionTensor,
} from './ort/session';
import { blockTensorsScanned, processBlock, processWeights, resolveProcessing } from './processing';
import { readoutAnswers, readoutFeeds, ReadoutSessions, readoutSetKey, type Readout, type ReadoutAnswer } from './readouts';
import { positionWindows, slicePositions, WINDOWED_ABOVE, WindowJoin } from './readoutWindows';
import { logitsReadout } from '../../kernels/readouts/logits';
import { maskFeed, PAD_TOKEN, rightPadded, tokensFeed, windowOf, type Prompts } from './prompts';
import { RunStates, type HeldActivations } from './runState';
import { halfBlock, halfEncodingOf, HalfSlab, halfWeights, isWeightDtype, WEIGHT_DTYPES, type WeightDtype } from './weightDtype';
import * as tokenizer from '../tokenizer';
import { abortError } from '../common/errors';
import {
  DEFAULT_TL_VERSION,
  type DeviceOption,
  type ExecutionProviderName,
  type GPT2Weights,
  type HookedGPT2Config,
  type NamesFilter,
  type ProcessingOptions,
  type Tensor,
  type TransformerLensVersion,
} from './types';

export type { Intervention } from './interventions';
export type { LogitsAt } from './graph';
export type { WeightDtype } from './weightDtype';

/**
 * One prompt's token ids, or a batch of prompts ([batch][pos]): a batch runs as one session call
 * with TransformerLens's batch axis (logits [batch, pos, d_vocab_out], every hook [batch, ...]).
 * Prompts of different lengths are padded on the right (TransformerLens's default padding_side)
 * to the longest, with an attention mask that every layer's attention respects; results carry
 * each prompt's length (`lengths`) so a caller can drop the padded positions, whose values are
 * not meaningful. At every real position each hook equals the prompt run alone.
 */
export type TokenInput = readonly number[] | Int32Array | readonly (readonly number[])[];

function isTokenBatch(t: TokenInput): t is readonly (readonly number[])[] {
  return Array.isArray(t) && t.length > 0 && Array.isArray(t[0]);
}

/** How HookedGPT2.readout runs its question (see there). */
export interface ReadoutOptions {
  readonly interventions?: readonly Intervention[];
  readonly signal?: AbortSignal;
  /** Hook points held from an earlier run of the same tokens and interventions, fed instead of computed. */
  readonly held?: HeldActivations;
  /**
   * A readout asked once per run (holding hook points on demand): its session is its own and is
   * released after the run, arena and all, instead of kept for the next ask.
   */
  readonly once?: boolean;
}

/** What one forward pass fetched. */
interface Ran {
  readonly logits: Tensor;
  /** Each prompt's length; in a padded batch, positions from a prompt's length on are padding. */
  readonly lengths: readonly number[];
  readonly activations: ReadonlyMap<string, Tensor>;
  /** With ForwardOptions.past: the past keys and values followed by the new ones. */
  readonly present?: PastKeyValues;
}

export type ModelOptions = Partial<ProcessingOptions> & {
  /** false = from_pretrained_no_processing (every processing switch off). */
  readonly processing?: boolean;
  readonly use_attn_result?: boolean;
  readonly use_split_qkv_input?: boolean;
  readonly use_attn_in?: boolean;
  readonly use_hook_mlp_in?: boolean;
  /**
   * Whose hook meanings to follow (docs/HOOKS.md): '3.x' (default, current TransformerLens) or
   * '2.x' (hook_normalized after LayerNorm's gain and bias; no unembed.hook_in/hook_out).
   */
  readonly transformerLensVersion?: TransformerLensVersion;
  readonly device?: DeviceOption;
  /** onnxruntime intra-op threads (default: onnxruntime's choice). */
  readonly threads?: number;
  /** onnxruntime graph optimisation: 'basic' (default, TransformerLens's arithmetic) or 'all' (fused kernels). */
  readonly optimization?: 'basic' | 'all';
  /**
   * How sessions get the weights. 'inputs' (the default on the CPU): they are graph inputs fed from
   * the model's one set of arrays, so any number of sessions adds no copy. 'file' (the default on
   * a GPU provider, which must upload them to the device anyway): ONNX external data in one
   * weights.bin that each session reads. 'device' (the default on webgpu, fp32): graph inputs fed
   * from one copy of the weights uploaded to the device once per model (deviceWeights.ts), so a
   * new variant uploads nothing. See docs/ARCHITECTURE.md, "One copy of the weights".
   */
  readonly weightStorage?: 'inputs' | 'file' | 'device';
  /**
   * How the weights are stored, as TransformerLens's `dtype`: 'fp32' (default), 'fp16' or 'bf16'
   * (half the memory; each weight rounded once to float16 or bfloat16 and decoded inside the graph,
   * so activations are computed in float32; always 'inputs' storage; weightDtype.ts).
   */
  readonly dtype?: WeightDtype;
  /**
   * A folder where fromPretrained keeps processed weights between loads
   * (checkpoint/processedCache.ts): a checkpoint loaded before with the same dtype and processing
   * is read from there instead of processed again (gpt2-small's shape: about a third of the time
   * to ready). The entry is written after the model is ready; the two most recently used are kept.
   * Absent: nothing is kept.
   */
  readonly processedWeightsCache?: string;
  /**
   * Keep the key/value cache on the device between incremental steps where the provider allows
   * it (webgpu: the `present` outputs stay in gpu buffers and are fed back; see kvCache.ts).
   * Default true; false copies them to the host each step, as the CPU provider always does.
   */
  readonly keepPastOnDevice?: boolean;
  /**
   * A session variant whose runs return hook points (runWithCache, run_with_hooks-style names) is
   * released as its call returns, unless it was asked for within this long before (default 2,000
   * ms): then calls come as a loop's, and it is released once unused for this long. onnxruntime-node
   * cannot shrink a session's arena, and such a variant's arena keeps every activation of its
   * largest run. A later call builds it again (about 0.1 s). 0 keeps it until evicted.
   */
  readonly releaseIdleVariantsAfterMs?: number;
  /**
   * FOR TESTS ONLY: makes every run of a session on this provider throw, to exercise the run-time
   * fallback (a GPU provider that starts but fails while running) where no real failure can be
   * provoked. Sessions are still created for real; only their run() is replaced.
   */
  readonly faultInjection?: { readonly failRunsOn: ExecutionProviderName };
};

/**
 * How far fromPretrained has got, for a caller that shows a load's progress: 'read' as
 * model.safetensors is read (bytes done of total), then 'process' once every weight is in and
 * processing starts, then 'sessions' as the main onnxruntime session is built, and 'sessions' with
 * done = total = 1 when it is open.
 */
export interface LoadProgress {
  readonly stage: 'read' | 'process' | 'sessions';
  readonly done?: number;
  readonly total?: number;
}

/** The processing a model's weights went through (HookedGPT2.processing). */
export interface AppliedProcessing {
  readonly options: ProcessingOptions;
  /** Steps asked for but skipped, as TransformerLens warns and skips them. */
  readonly warnings: readonly string[];
}

/** What a hook function receives besides the tensor, like TransformerLens's `hook` argument. */
export interface HookContext {
  readonly name: string;
}

export interface HookFn {
  readonly name: string;
  /** Read the activation, change it in place, or return a replacement of the same shape. */
  readonly fn: (t: Tensor, hook: HookContext) => Tensor | void | Promise<Tensor | void>;
}

export interface ForwardOptions {
  readonly hooks?: readonly HookFn[];
  readonly interventions?: readonly Intervention[];
  /** Which hook points to return; none when absent. */
  readonly names?: NamesFilter;
  readonly signal?: AbortSignal;
  /** 'last' unembeds only the last position (logits [1, 1, d_vocab_out]); default 'all'. */
  readonly logitsAt?: LogitsAt;
  /**
   * The incremental forward (src/engine/incremental.ts): `tokens` are the new positions after
   * `past`, and the result carries `present`. Use forwardIncremental, which checks interventions.
   */
  readonly past?: PastKeyValues;
}

export interface ForwardResult {
  /** [batch, pos, d_vocab_out], or [batch, 1, d_vocab_out] with logitsAt 'last' (each prompt's own last position) */
  readonly logits: Tensor;
  /** Each prompt's length: in a padded batch, positions from a prompt's length on are padding. */
  readonly lengths: readonly number[];
  /** The requested activations by TransformerLens name, in hook_dict order. */
  readonly activations: ReadonlyMap<string, Tensor>;
  /** With ForwardOptions.past: the past keys and values followed by the new ones. */
  readonly present?: PastKeyValues;
}

export interface ToTokensResult {
  readonly tokens: number[];
  /** True when the text was longer than n_ctx tokens and only the first n_ctx were kept. */
  readonly truncated: boolean;
  /** A human-readable line when something was changed (truncation), else null. */
  readonly notice: string | null;
}

/** Sessions kept per graph variant; older ones are released when more are made. */
const MAX_CACHED_VARIANTS = 8;
const IDLE_VARIANT_RELEASE_MS = 2000;

/**
 * A Hugging Face GPT-2 folder read and processed as TransformerLens's from_pretrained does, in
 * `dtype`. The loaded arrays are this call's own: processed where they lie, no second copy. Each
 * block is processed as soon as it is read, and for fp16/bf16 stored at 16 bits there, so the
 * model never exists whole in float32 (the embeddings and unembedding wait for processWeights).
 */
async function loadProcessed(
  folder: string,
  dtype: WeightDtype,
  processing: ProcessingOptions,
  onProgress: ((p: LoadProgress) => void) | undefined,
): Promise<CachedProcessedWeights> {
  const encoding = halfEncodingOf(dtype);
  let slab: HalfSlab | undefined; // the 16-bit blocks' one buffer (HalfSlab says why)
  const { cfg, weights, warnings } = await loadCheckpoint(folder, {
    ...(onProgress ? { onRead: (done: number, total: number) => onProgress({ stage: 'read', done, total }) } : {}),
    // processBlock counts NaN/Inf in the tensors it reads whole, so the loader does not read them again.
    onBlockScans: (loadedCfg) => blockTensorsScanned(loadedCfg, processing),
    onBlock: (l, block, loadedCfg, scan) => {
      const processedBlock = processBlock(loadedCfg, block, l, processing, { inPlace: true, scan });
      if (encoding === null) return processedBlock;
      slab ??= HalfSlab.forBlocks(loadedCfg);
      return halfBlock(processedBlock, encoding, slab);
    },
  });
  onProgress?.({ stage: 'process' });
  const processed = processWeights(cfg, weights, processing, { inPlace: true, blocksProcessed: true });
  return {
    cfg: processed.cfg,
    weights: encoding === null ? processed.weights : halfWeights(processed.weights, encoding),
    warnings,
    processingWarnings: processed.warnings,
  };
}

/** How fromPretrained used ModelOptions.processedWeightsCache: `why` says why an entry was not read. */
export type ProcessedCacheState =
  | { readonly state: 'read'; readonly path: string }
  | { readonly state: 'written' | 'not written'; readonly path: string; readonly why: string };

/** ModelOptions.dtype, defaulted and checked: an unknown name is refused with the list. */
function checkedDtype(dtype: WeightDtype | undefined): WeightDtype {
  const d = dtype ?? 'fp32';
  if (!isWeightDtype(d)) throw new Error(`dtype '${String(d)}' is not one of ${WEIGHT_DTYPES.join(', ')}`);
  return d;
}

/** An open segment: its session, without the graph (not needed once the session is open). */
type OpenSegment = Omit<Segment, 'graph'> & { readonly session: EngineSession };

interface Variant {
  readonly segments: readonly OpenSegment[];
}

/** A non-CPU session failed while running: forward() switches the model to the CPU and retries once. */
class ProviderRunError extends Error {
  override readonly name = 'ProviderRunError';
  constructor(
    readonly provider: ExecutionProviderName,
    readonly reason: string,
  ) {
    super(`the ${provider} execution provider failed while running the model: ${reason}`);
  }
}

function firstLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n')[0]!;
}

/** The test-only fault of ModelOptions.faultInjection: the session is real, its runs throw. */
function withInjectedFault(session: EngineSession): EngineSession {
  return {
    provider: session.provider,
    inputNames: session.inputNames,
    outputNames: session.outputNames,
    deviceOutputs: session.deviceOutputs,
    run: () => Promise.reject(new Error(`injected fault: runs on ${session.provider} fail (ModelOptions.faultInjection)`)),
    release: () => session.release(),
  };
}

/** [batch, pos, d] → [batch, 1, d]: each batch entry's row at its last real position. */
function lastPosition(t: Tensor, lengths: readonly number[]): Tensor {
  const [batch, pos, d] = t.dims as [number, number, number];
  const data = new Float32Array(batch * d);
  for (let i = 0; i < batch; i++) {
    const last = i * pos + lengths[i]! - 1;
    data.set(t.data.subarray(last * d, (last + 1) * d), i * d);
  }
  return { dims: [batch, 1, d], data };
}

function toTensor(h: SessionTensor, name: string): Tensor {
  if (isDeviceTensor(h)) throw new Error(`internal: '${name}' was left on the device`);
  if (!(h.data instanceof Float32Array)) throw new Error(`internal: '${name}' is not float32`);
  return { dims: [...h.dims], data: h.data };
}

/** A present output as a past tensor: device buffers as they are, host arrays as Tensor. */
function toPastTensor(h: SessionTensor, name: string): PastTensor {
  return isDeviceTensor(h) ? h : toTensor(h, name);
}

/** The host outputs of a run (readout answers); a device output there is an engine bug. */
function hostOutputs(out: Record<string, SessionTensor>): Record<string, HostTensor> {
  const host: Record<string, HostTensor> = {};
  for (const [k, v] of Object.entries(out)) if (!isDeviceTensor(v)) host[k] = v;
  return host;
}

/** Frees the device buffers among `values` that are not in `keep` (a failed or aborted run's outputs). */
function disposeDeviceOutputs(values: Iterable<SessionTensor>, keep: ReadonlySet<SessionTensor> = new Set()): void {
  for (const v of values) if (isDeviceTensor(v) && !keep.has(v)) v.dispose();
}

/** run()'s long-prompt path: every position's logits, answered in windows. */
const LOGITS_READOUT = logitsReadout();

export class HookedGPT2 {
  private readonly graphs = new Map<string, ModelGraph>();
  private readonly variants = new Map<string, Promise<Variant>>();
  /** Calls running on each variant, and the timers that release an idle one (releaseIdleVariantsAfterMs). */
  private readonly variantCalls = new Map<string, number>();
  private readonly idleReleases = new Map<string, ReturnType<typeof setTimeout>>();
  /** When each variant that returned hook points last finished a call: a loop's sign (see finishHookVariantCall). */
  private readonly hookVariantLastEnd = new Map<string, number>();
  private readonly hookTable: readonly HookDecl[];
  private disposed = false;
  /** This model's weights as ONNX external data for 'file' weight storage, made on first use; removed on dispose. */
  private weightFileInst: WeightFile | null = null;
  /** Sessions of "forward + readouts" graphs (readout()), one per intervention structure × readout set. */
  private readonly readoutSessions = new ReadoutSessions();
  /** What the activation panel keeps between a run and its detail views; bounded, cleared on dispose. */
  readonly runs = new RunStates();
  /** Why the requested execution provider was not used, when it was not. */
  notice: string | null = null;
  /**
   * With ModelOptions.processedWeightsCache: whether the weights were read from the cache, or the
   * entry written (settles once the write has finished; dispose waits for it); null without one.
   */
  processedCacheState: Promise<ProcessedCacheState> | null = null;
  /** The weights were read from ModelOptions.processedWeightsCache, not processed from the checkpoint. */
  readFromProcessedCache = false;
  /** What loading the checkpoint found that the user should know (non-finite weights, by name); empty when all is well. */
  loadWarnings: readonly string[] = [];
  provider: ExecutionProviderName = 'cpu';
  /** The provider new sessions are asked for: options.device until a run-time failure forces 'cpu'. */
  private device: DeviceOption;
  /** The weights on the webgpu device ('device' storage), made with the first such session. */
  private deviceWeights: DeviceWeights | null = null;
  /** Why 'device' storage could not be used (then webgpu sessions read weights.bin), or null. */
  private deviceWeightsFailure: string | null = null;

  private constructor(
    readonly cfg: HookedGPT2Config,
    private readonly weights: GPT2Weights,
    private readonly options: ModelOptions,
    /**
     * The from_pretrained switches these weights went through (processingCall() says them in
     * TransformerLens's words) and the steps skipped with a warning; null for fromWeights, whose
     * weights are used as given.
     */
    readonly processing: AppliedProcessing | null,
    /** opts.dtype is 'fp16' or 'bf16': `weights` are 16-bit (weightDtype.ts), decoded on access. */
    private readonly halfPrecision = false,
  ) {
    this.hookTable = listHookPoints(cfg);
    this.device = options.device ?? 'cpu';
  }

  /** Loads a Hugging Face GPT-2 folder and processes it as TransformerLens's from_pretrained does. */
  /** `onProgress` hears each stage of the load (LoadProgress); it is not kept after the load. */
  static async fromPretrained(folder: string, opts: ModelOptions = {}, onProgress?: (p: LoadProgress) => void): Promise<HookedGPT2> {
    const dtype = checkedDtype(opts.dtype);
    const processing = resolveProcessing(opts);
    // A model loaded before with the same dtype and processing is read back processed; otherwise
    // it is processed and, once ready, written for the next load.
    const entry = opts.processedWeightsCache ? await processedCacheEntry(opts.processedWeightsCache, folder, dtype, processing) : null;
    const cached =
      entry === null
        ? null
        : await readProcessedWeights(entry, dtype, onProgress ? (done, total) => onProgress({ stage: 'read', done, total }) : undefined);
    const fromCache = cached === null || 'unused' in cached ? null : cached;
    const missed = cached !== null && 'unused' in cached ? cached.unused : '';
    const loaded = fromCache ?? (await loadProcessed(folder, dtype, processing, onProgress));
    // fp16/bf16: the float32 arrays loadProcessed converted (the embeddings and unembedding: 400 MB at
    // gpt2-medium's size) are dead now that its frame is gone, but V8 frees an array buffer's
    // memory only at a collection, which the native allocations to come (onnxruntime's session,
    // the first run) never prompt: measured, they stayed resident through the first run.
    if (dtype !== 'fp32' && fromCache === null) collectGarbage();
    const model = await HookedGPT2.create(
      loaded.cfg,
      loaded.weights,
      opts,
      { options: processing, warnings: loaded.processingWarnings },
      onProgress,
    );
    model.loadWarnings = loaded.warnings;
    model.readFromProcessedCache = fromCache !== null;
    if (entry !== null) {
      model.processedCacheState =
        fromCache !== null
          ? Promise.resolve({ state: 'read', path: entry.path })
          : writeProcessedWeights(entry, loaded).then(
              () => ({ state: 'written', path: entry.path, why: missed }),
              (err: unknown) => ({ state: 'not written', path: entry.path, why: `${missed}; writing failed: ${firstLine(err)}` }),
            );
    }
    return model;
  }

  /** A model from weights already in TransformerLens's layout, used as given (no processing). */
  static async fromWeights(cfg: HookedGPT2Config, weights: GPT2Weights, opts: ModelOptions = {}): Promise<HookedGPT2> {
    return HookedGPT2.create(cfg, weights, opts, null);
  }

  private static async create(
    cfg: HookedGPT2Config,
    weights: GPT2Weights,
    opts: ModelOptions,
    processing: AppliedProcessing | null,
    onProgress?: (p: LoadProgress) => void,
  ): Promise<HookedGPT2> {
    const withFlags: HookedGPT2Config = {
      ...cfg,
      use_attn_result: opts.use_attn_result ?? cfg.use_attn_result,
      use_split_qkv_input: opts.use_split_qkv_input ?? cfg.use_split_qkv_input,
      use_attn_in: opts.use_attn_in ?? cfg.use_attn_in,
      use_hook_mlp_in: opts.use_hook_mlp_in ?? cfg.use_hook_mlp_in,
      transformer_lens_version: opts.transformerLensVersion ?? cfg.transformer_lens_version ?? DEFAULT_TL_VERSION,
    };
    const dtype = checkedDtype(opts.dtype);
    // fp16/bf16: the float32 arrays are garbage once this returns; the model keeps the 16-bit copy only.
    const encoding = halfEncodingOf(dtype);
    const half = encoding !== null;
    const model = new HookedGPT2(withFlags, half ? halfWeights(weights, encoding) : weights, opts, processing, half);
    onProgress?.({ stage: 'sessions', done: 0, total: 1 });
    try {
      await model.variant(MAIN_VARIANT, '', [], [], 'all', [], false, false); // build and open the main session now, so load errors surface here
      onProgress?.({ stage: 'sessions', done: 1, total: 1 });
    } catch (err) {
      await model.dispose(); // removes the weights folder the failed model already made
      throw err;
    }
    return model;
  }

  /** The processed weights the graph runs (TransformerLens layout), read-only, for analyses such as the logit lens. */
  get processedWeights(): Readonly<GPT2Weights> {
    return this.weights;
  }

  /** The hook points of this model (TransformerLens names and dimension names), hook_dict order. */
  hookPoints(): readonly HookDecl[] {
    return this.hookTable;
  }

  async run(tokens: TokenInput, opts: { signal?: AbortSignal; logitsAt?: LogitsAt } = {}): Promise<Tensor> {
    // A long prompt's logits come from windows of positions (readoutInWindows), so they exist
    // once, in the array returned: one session call would also leave them in its session's arena.
    // GPT-2 small's shape, three 1,024-token runs: peak 1,565 against 1,795 MiB, 1,143 against
    // 1,584 MiB resident afterwards, the same time (3.8 against 3.4–4.0 s, a loaded machine). Its
    // forward's session goes after the run, as the first view's does: kept, its arena stayed at
    // the forward's peak (gpt2-medium's shape in fp16: +770 MiB resident after one 1,024-token
    // run), where building it again costs about 0.1 s of a run of seconds.
    const prompts = this.checkTokens(tokens);
    if ((opts.logitsAt ?? 'all') === 'all' && prompts.pos > WINDOWED_ABOVE) {
      const signal = opts.signal ? { signal: opts.signal } : {};
      const answer = (await this.readoutInWindows(prompts, [LOGITS_READOUT], [LOGITS_READOUT], signal)).get(LOGITS_READOUT.key)!;
      const { dims, data } = answer['logits']!;
      if (!(data instanceof Float32Array)) throw new Error('internal: windowed logits are not float32');
      return { dims: [...dims], data };
    }
    return (await this.forward(tokens, opts)).logits;
  }

  async runWithCache(
    tokens: TokenInput,
    opts: { names?: NamesFilter; signal?: AbortSignal } = {},
  ): Promise<{ logits: Tensor; cache: ActivationCache; lengths: readonly number[] }> {
    const r = await this.forward(tokens, { names: opts.names ?? (() => true), ...(opts.signal ? { signal: opts.signal } : {}) });
    return { logits: r.logits, cache: this.cacheOf(r), lengths: r.lengths };
  }

  async runWithHooks(tokens: TokenInput, hooks: readonly HookFn[], opts: { signal?: AbortSignal } = {}): Promise<Tensor> {
    return (await this.forward(tokens, { hooks, ...opts })).logits;
  }

  async runWithInterventions(
    tokens: TokenInput,
    interventions: readonly Intervention[],
    opts: { names?: NamesFilter; signal?: AbortSignal } = {},
  ): Promise<{ logits: Tensor; cache: ActivationCache; lengths: readonly number[] }> {
    const r = await this.forward(tokens, { interventions, ...opts });
    return { logits: r.logits, cache: this.cacheOf(r), lengths: r.lengths };
  }

  /** Runs only `newTokens` after `past` (a KeyValueCache's), as if the whole sequence had run; see incremental.ts. */
  forwardIncremental(newTokens: readonly number[], past: PastKeyValues, opts: IncrementalOptions = {}): Promise<IncrementalResult> {
    return forwardIncremental(this, newTokens, past, opts);
  }

  private cacheOf(r: ForwardResult): ActivationCache {
    return new ActivationCache(new Map(r.activations), this.cfg, this.weights);
  }

  /**
   * The general forward pass every other method is sugar for. When a session on a GPU provider
   * fails while running, the model releases its sessions, moves to the CPU for good, says so in
   * `notice`, and runs the request once more there; a failure on the CPU propagates.
   */
  async forward(tokens: TokenInput, opts: ForwardOptions = {}): Promise<ForwardResult> {
    try {
      return await this.forwardOnce(tokens, opts);
    } catch (err) {
      if (!(err instanceof ProviderRunError) || this.disposed) throw err;
      await this.switchToCpu(err);
      return await this.forwardOnce(tokens, opts);
    }
  }

  /** Releases every session (they may sit on a failing device) and opens new ones on the CPU. */
  private async switchToCpu(err: ProviderRunError): Promise<void> {
    if (this.device === 'cpu') return; // a concurrent request already switched
    this.device = 'cpu';
    const variants = [...this.variants.values()];
    this.variants.clear();
    await Promise.all(variants.map(async (p) => releaseVariant(await p.catch(() => null))));
    await this.readoutSessions.releaseAll();
    await this.releaseDeviceWeights();
    this.provider = 'cpu';
    this.notice = `${err.provider} failed while running (${err.reason}); switched to cpu`;
  }

  /** One forward pass. */
  private async forwardOnce(tokens: TokenInput, opts: ForwardOptions): Promise<Ran> {
    this.assertLive();
    const past = opts.past;
    const prompts = this.checkTokens(tokens, past?.length ?? 0);
    if (prompts.padded && past !== undefined) throw new Error('a batch of prompts of different lengths cannot run after a past');
    if (opts.signal?.aborted) throw abortError();
    const allNames = this.hookTable.map((h) => h.name);
    const names = opts.names === undefined ? [] : resolveNames(opts.names, allNames);
    const hookFns = new Map<string, HookFn[]>();
    for (const h of opts.hooks ?? []) {
      if (!allNames.includes(h.name)) resolveNames([h.name], allNames); // throws a specific error
      hookFns.set(h.name, [...(hookFns.get(h.name) ?? []), h]);
    }
    const compiled = compileInterventions(this.cfg, opts.interventions ?? []);
    const cuts = [...hookFns.keys()];
    // A 'last' graph has no full-size logits, so a call that reads, hooks or changes
    // unembed.hook_out runs the full graph and keeps the last position's logits here.
    const wantsHookOut = names.includes(UNEMBED_HOOK_OUT) || hookFns.has(UNEMBED_HOOK_OUT) || compiled.transforms.has(UNEMBED_HOOK_OUT);
    const onlyLast = opts.logitsAt === 'last' && wantsHookOut;
    const outputs = names.length === allNames.length ? null : names;
    const logitsAt = onlyLast ? 'all' : (opts.logitsAt ?? 'all');
    const key = variantKey(compiled.key, cuts, logitsAt, outputs, past !== undefined) + (prompts.padded ? '#mask' : '');
    this.variantCalls.set(key, (this.variantCalls.get(key) ?? 0) + 1);
    clearTimeout(this.idleReleases.get(key));
    this.idleReleases.delete(key);
    // Another variant that returned hook points and now waits idle goes at once: at most one such
    // arena (every activation of its largest run) is kept waiting for a loop's next call.
    if (names.length > 0) for (const other of [...this.idleReleases.keys()]) this.releaseVariantNow(other);
    try {
      return await this.forwardOn(key, prompts, names, hookFns, compiled, cuts, logitsAt, outputs, onlyLast, opts);
    } finally {
      const left = this.variantCalls.get(key)! - 1;
      if (left > 0) this.variantCalls.set(key, left);
      else {
        this.variantCalls.delete(key);
        if (names.length > 0) this.finishHookVariantCall(key);
      }
    }
  }

  /**
   * A variant that returned hook points has just finished its last running call. Its arena holds
   * every activation of that run, so a one-off call (a cache export, a single runWithCache) lets it
   * go at once; a call that follows another on the same variant within the idle time is a loop's,
   * and the variant stays for the next one until idle (one rebuild, about 0.1 s at gpt2-small's
   * shape, is a loop's whole cost). Measured, gpt2-small shape at 128 tokens: resident right after
   * run + last + every hook + the panel's hooks +366 MiB over the loaded model when each waited for
   * its idle release (the bench's target is +281).
   */
  private finishHookVariantCall(key: string): void {
    const ms = this.options.releaseIdleVariantsAfterMs ?? IDLE_VARIANT_RELEASE_MS;
    if (ms <= 0) return;
    const now = performance.now();
    for (const [k, end] of this.hookVariantLastEnd) if (now - end > ms) this.hookVariantLastEnd.delete(k);
    const looping = this.hookVariantLastEnd.has(key);
    this.hookVariantLastEnd.set(key, now);
    if (looping) this.releaseWhenIdle(key);
    else this.releaseVariantNow(key);
  }

  /** Releases variant `key` once no call has used it for releaseIdleVariantsAfterMs (see ModelOptions). */
  private releaseWhenIdle(key: string): void {
    const ms = this.options.releaseIdleVariantsAfterMs ?? IDLE_VARIANT_RELEASE_MS;
    if (ms <= 0 || this.disposed) return;
    const timer = setTimeout(() => this.releaseVariantNow(key), ms);
    timer.unref(); // an idle model does not keep a CLI process alive
    this.idleReleases.set(key, timer);
  }

  /** Releases variant `key` (waiting for its idle release) now, unless a call is using it. */
  private releaseVariantNow(key: string): void {
    clearTimeout(this.idleReleases.get(key));
    this.idleReleases.delete(key);
    const v = this.variants.get(key);
    if (v === undefined || this.variantCalls.has(key) || this.disposed) return;
    this.variants.delete(key);
    void v.then(releaseVariant, () => undefined);
  }

  private async forwardOn(
    key: string,
    prompts: Prompts,
    names: readonly string[],
    hookFns: ReadonlyMap<string, HookFn[]>,
    compiled: ReturnType<typeof compileInterventions>,
    cuts: readonly string[],
    logitsAt: LogitsAt,
    outputs: readonly string[] | null,
    onlyLast: boolean,
    opts: ForwardOptions,
  ): Promise<Ran> {
    const past = opts.past;
    const { batch, pos } = prompts;
    const variant = await this.variant(
      key,
      compiled.key,
      cuts,
      compiled.key === '' ? [] : (opts.interventions ?? []),
      logitsAt,
      outputs,
      past !== undefined,
      prompts.padded,
    );
    const elsewhere = variant.segments.find((sg) => sg.session.provider !== 'webgpu');
    if (past?.location === 'gpu-buffer' && elsewhere) throw new PastElsewhereError(elsewhere.session.provider);

    const pool = new Map<string, SessionTensor>();
    const fed = new Set<SessionTensor>(); // what the caller owns; anything else on the device is this call's
    pool.set(TOKENS_INPUT, tokensFeed(prompts));
    if (prompts.padded) pool.set(ATTENTION_MASK_INPUT, maskFeed(prompts));
    for (const [k, v] of Object.entries(compiled.feeds(pos, batch))) pool.set(k, v);
    if (past) for (const [k, v] of Object.entries(pastFeeds(past))) pool.set(k, v);
    for (const v of pool.values()) fed.add(v);
    const wanted = new Set(past ? [...names, ...presentNames(this.cfg)] : names);
    const activations = new Map<string, Tensor>();
    let logits: Tensor;
    let present: PastKeyValues | undefined;
    try {
      const segs = variant.segments;
      for (let s = 0; s < segs.length; s++) {
        const seg = segs[s]!;
        if (opts.signal?.aborted) throw abortError();
        const laterInputs = new Set(segs.slice(s + 1).flatMap((x) => x.inputs));
        const fetch = seg.outputs.filter((o) => o === seg.cut || o === LOGITS_OUTPUT || wanted.has(o) || laterInputs.has(o));
        const feeds: Record<string, SessionTensor> = {};
        for (const i of seg.inputs) {
          const v = pool.get(i);
          if (v === undefined) throw new Error(`internal: segment ${s} needs '${i}', which no earlier segment produced`);
          feeds[i] = v;
        }
        let out: Record<string, SessionTensor>;
        try {
          out = await seg.session.run(feeds, fetch);
        } catch (err) {
          // Only a GPU provider's own failure qualifies for the fallback; hook functions run outside.
          if (seg.session.provider === 'cpu') throw err;
          throw new ProviderRunError(seg.session.provider, firstLine(err));
        }
        for (const [k, v] of Object.entries(out)) pool.set(k, v);
        if (seg.cut !== null) {
          let t = toTensor(pool.get(seg.cut)!, seg.cut);
          for (const h of hookFns.get(seg.cut) ?? []) {
            const replaced = await h.fn(t, { name: seg.cut });
            if (replaced) {
              if (
                replaced.dims.length !== t.dims.length ||
                replaced.dims.some((d, k) => d !== t.dims[k]) ||
                replaced.data.length !== t.data.length
              ) {
                throw new Error(`hook on '${seg.cut}' returned shape [${replaced.dims.join(', ')}], expected [${t.dims.join(', ')}]`);
              }
              t = replaced;
            }
          }
          pool.set(seg.cut, { type: 'float32', dims: t.dims, data: t.data });
        }
      }
      for (const n of names) activations.set(n, toTensor(pool.get(n)!, n));
      logits = toTensor(pool.get(LOGITS_OUTPUT)!, LOGITS_OUTPUT);
      if (onlyLast) logits = lastPosition(logits, prompts.lengths);
      if (past) present = presentOf(this.cfg, (n) => toPastTensor(pool.get(n)!, n), this.slicePast);
      if (opts.signal?.aborted) throw abortError();
    } catch (err) {
      // The device buffers this call made (presents, tensors between segments) have no other owner.
      disposeDeviceOutputs(pool.values(), fed);
      throw err;
    } finally {
      // Per-call state only; nothing about these hooks outlives the call, even when one threw.
      pool.clear();
    }
    // Between segments a present may also have been an input of a later one; only the returned ones stay.
    return { logits, activations, lengths: prompts.lengths, ...(present ? { present } : {}) };
  }

  /**
   * The forward pass with `readouts` (kernels/readouts/) appended: the session fetches only their
   * answers, by readout key, never a whole activation. One session per intervention structure ×
   * readout set; parameters (positions, tokens, heads) are inputs, so asking again is a run only.
   * `held`: hook points kept from an earlier run of the same tokens and interventions (the `held`
   * readout's answers). The graph takes them as inputs and drops what only they needed, so a
   * readout that reads layer 5's resid_pre runs layer 5 alone, and one that reads only held hook
   * points (the logit lens, DLA) runs no transformer block at all.
   * Sessions keep their arena. Over more than WINDOWED_ABOVE (256) positions, the readouts that allow
   * it (Readout.windows: loss, top-k, rank, the loss metric) are answered over windows of
   * positions from the held unembedding input (readoutWindows.ts), so no session's arena holds a
   * long prompt's [pos, d_vocab] logits. A batch of prompts ([batch][pos]) runs as one call; each
   * answer keeps the batch axis.
   */
  async readout(tokens: TokenInput, readouts: readonly Readout[], opts: ReadoutOptions = {}): Promise<Map<string, ReadoutAnswer>> {
    this.assertLive();
    const prompts = this.checkTokens(tokens);
    const pos = prompts.pos;
    const windowed = readouts.filter((r) => r.windows !== undefined && r.logitsAt !== 'last');
    // An intervention on the logits themselves is position by position too, but its feeds span
    // every position; such a run unembeds whole (and its session's arena keeps that peak).
    const onLogits = compileInterventions(this.cfg, opts.interventions ?? []).transforms.has(UNEMBED_HOOK_OUT);
    if (pos <= WINDOWED_ABOVE || windowed.length === 0 || onLogits)
      return (await this.runReadouts(prompts, readouts, opts, undefined, opts.once === true ? 'once' : this.readoutSessions)).answers;
    return this.readoutInWindows(prompts, readouts, windowed, opts);
  }

  /**
   * readout() of a long prompt: one run of the readouts that see every position at once, holding
   * the unembedding's input (unless the caller holds it), then `windowed` over windows of
   * positions fed that input, in one kept session with no transformer block.
   */
  private async readoutInWindows(
    t: Prompts,
    readouts: readonly Readout[],
    windowed: readonly Readout[],
    opts: ReadoutOptions,
  ): Promise<Map<string, ReadoutAnswer>> {
    const rest = readouts.filter((r) => !windowed.includes(r));
    const hook = unembedInputHook(this.cfg);
    let input = opts.held?.get(hook);
    const answers = new Map<string, ReadoutAnswer>();
    if (input === undefined || rest.length > 0) {
      const hold = input === undefined ? [held([hook])] : [];
      // The forward over every position runs in a session of its own, released after the run:
      // kept, its arena would stay at this run's peak (the first view's: +518 MiB at 1,024 tokens
      // for GPT-2 small, +825 after a second run), beyond the panel's budget; built, it costs
      // about 0.1 s (docs/ARCHITECTURE.md, "Memory given back").
      const first = (await this.runReadouts(t, [...rest, ...hold], opts, undefined, 'once')).answers;
      for (const r of rest) answers.set(r.key, first.get(r.key)!);
      if (input === undefined) input = heldActivations([hook], first.get(hold[0]!.key)!).get(hook)!;
    }
    const whole = input;
    const join = new WindowJoin(windowed, t.pos, t.lengths);
    // The windows' session lives for this call only: kept, its arena stayed at a window's peak
    // (the unembedding's float32 slices and a window's [128, d_vocab] rows: +133 MiB at
    // gpt2-medium's shape in fp16), one such arena per readout set, beside the next long run's
    // own; built, it is a graph with no transformer block (docs/ARCHITECTURE.md, "Memory given back").
    const windowSessions = new ReadoutSessions(1);
    try {
      for (const w of positionWindows(t.pos)) {
        if (opts.signal?.aborted) throw abortError();
        // No interventions: those before the held input are pruned with what computes it, and one on
        // the logits sends the run down the unwindowed path (readout()), so every window of every
        // intervention set shares one session.
        const fed = new Map([[hook, slicePositions(whole.data, whole.dims, w.from, w.fedTo)]]);
        const window = (
          await this.runReadouts(
            windowOf(t, w.from, w.fedTo),
            windowed,
            { held: fed, ...(opts.signal ? { signal: opts.signal } : {}) },
            undefined,
            windowSessions,
          )
        ).answers;
        join.add({ window: w, answers: window });
      }
    } finally {
      await windowSessions.releaseAll();
    }
    for (const [k, a] of join.result()) answers.set(k, a);
    return new Map(readouts.map((r) => [r.key, answers.get(r.key)!] as const));
  }

  /**
   * readout() on the incremental forward: only `newTokens` run, after `past` (a KeyValueCache's),
   * and the answers come with the present keys and values. Inline logits use it so that typing at
   * the end of a long document runs the new tokens only and fetches only the top-k.
   */
  async readoutIncremental(
    newTokens: readonly number[],
    past: PastKeyValues,
    readouts: readonly Readout[],
    opts: { interventions?: readonly Intervention[]; signal?: AbortSignal } = {},
  ): Promise<{ answers: Map<string, ReadoutAnswer>; present: PastKeyValues }> {
    checkIncrementalInterventions(this.cfg, opts.interventions ?? []);
    const r = await this.runReadouts(this.checkTokens(newTokens, past.length), readouts, opts, past, this.readoutSessions);
    return { answers: r.answers, present: r.present! };
  }

  private async runReadouts(
    prompts: Prompts,
    readouts: readonly Readout[],
    opts: ReadoutOptions,
    past: PastKeyValues | undefined,
    sessions: ReadoutSessions | 'once',
  ): Promise<{ answers: Map<string, ReadoutAnswer>; present: PastKeyValues | undefined }> {
    this.assertLive();
    const { batch, pos } = prompts;
    if (prompts.padded && past !== undefined) throw new Error('a batch of prompts of different lengths cannot run after a past');
    if (readouts.length === 0) throw new Error('readout: no readouts asked for');
    if (past !== undefined && opts.held !== undefined) throw new Error('internal: held activations with a past');
    const compiled = compileInterventions(this.cfg, opts.interventions ?? []);
    const lastOnly = readouts.filter((r) => r.logitsAt === 'last').length;
    if (lastOnly !== 0 && lastOnly !== readouts.length)
      throw new Error('readout: last-position readouts cannot share a request with every-position ones');
    const logitsAt: LogitsAt = lastOnly > 0 ? 'last' : 'all';
    const withPast = past !== undefined;
    const held = opts.held ?? new Map<string, never>();
    const given = new Set(held.keys());
    const heldKey = given.size > 0 ? `#held:${[...given].sort().join(',')}` : '';
    const attentionMask = prompts.padded;
    const key = `${compiled.key}#${logitsAt}#${readoutSetKey(readouts)}${withPast ? '#past' : ''}${attentionMask ? '#mask' : ''}${heldKey}`;
    for (let attempt = 0; ; attempt++) {
      if (opts.signal?.aborted) throw abortError();
      const open = (): Promise<EngineSession> =>
        this.openReadoutSession(
          buildModelGraph(this.cfg, this.weights, compiled.transforms, logitsAt, { readouts, withPast, given, attentionMask }).graph,
          withPast,
        );
      // 'once': a session of its own, released after the run, so its arena goes with it.
      const session = sessions === 'once' ? await open() : await sessions.get(key, open);
      if (past?.location === 'gpu-buffer' && session.provider !== 'webgpu') throw new PastElsewhereError(session.provider);
      const feeds: Record<string, SessionTensor> = {
        [TOKENS_INPUT]: tokensFeed(prompts),
        ...(attentionMask ? { [ATTENTION_MASK_INPUT]: maskFeed(prompts) } : {}),
        ...readoutFeeds(readouts, session.inputNames),
        ...(past ? pastFeeds(past) : {}),
      };
      for (const [k, v] of Object.entries(compiled.feeds(pos, batch))) if (session.inputNames.includes(k)) feeds[k] = v;
      for (const name of session.inputNames) {
        const t = held.get(name);
        if (t !== undefined) feeds[name] = { type: 'float32', dims: t.dims, data: t.data };
      }
      try {
        const out = await session.run(feeds, session.outputNames);
        if (opts.signal?.aborted) {
          disposeDeviceOutputs(Object.values(out));
          throw abortError();
        }
        const present = past ? presentOf(this.cfg, (n) => toPastTensor(out[n]!, n), this.slicePast) : undefined;
        return { answers: readoutAnswers(readouts, hostOutputs(out)), present };
      } catch (err) {
        if (session.provider === 'cpu' || attempt > 0 || this.disposed) throw err;
        await this.switchToCpu(new ProviderRunError(session.provider, firstLine(err)));
        // switchToCpu released the model's kept sessions; a caller's own (a long readout's windows) go too.
        if (sessions !== 'once' && sessions !== this.readoutSessions) await sessions.releaseAll();
      } finally {
        if (sessions === 'once') await session.release();
      }
    }
  }

  /**
   * A readout session keeps onnxruntime's CPU arena, like every other session: without it each
   * intermediate tensor is its own malloc, and glibc, once such buffers are freed, raises its mmap
   * threshold and keeps later ones in its heaps for good (measured: +378 MiB after one 1,024-token
   * panel, not given back even after dispose). An arena's memory goes back when its session is
   * released (the panel's close). With a past, the
   * present keys and values may stay on the device (keepPastOnDevice).
   */
  private async openReadoutSession(graph: GraphIR, withPast = false): Promise<EngineSession> {
    return (await this.openSession(graph, this.device, { deviceOutputs: withPast ? this.pastOutputs(presentNames(this.cfg)) : [] }))
      .session;
  }

  /** Of `outputs`, the present keys and values a session should leave on the device (keepPastOnDevice). */
  private pastOutputs(outputs: readonly string[]): string[] {
    if (this.options.keepPastOnDevice === false) return [];
    const present = new Set(presentNames(this.cfg));
    return outputs.filter((o) => present.has(o));
  }

  /**
   * A device past's first `n` positions, sliced on the device by a small session of its own
   * (kernels/kvCache.ts emitPastSlice); the past itself is left as it was (its owner frees it).
   */
  private readonly slicePast = async (past: PastKeyValues, n: number): Promise<PastKeyValues> => {
    this.assertLive();
    const session = await this.readoutSessions.get('past-slice', async () => {
      const b = new GraphBuilder('past_slice');
      emitPastSlice(b, this.cfg.n_layers, this.cfg.n_heads, this.cfg.d_head);
      return (await this.openSession(b.build(), this.device, { memArena: false, deviceOutputs: presentNames(this.cfg) })).session;
    });
    if (session.provider !== 'webgpu') throw new PastElsewhereError(session.provider);
    const out = await session.run(
      { ...pastFeeds(past), [PAST_KEEP_INPUT]: { type: 'int64', dims: [1], data: BigInt64Array.of(BigInt(n)) } },
      session.outputNames,
    );
    return presentOf(this.cfg, (name) => toPastTensor(out[name]!, name), this.slicePast);
  };

  /**
   * A session on this model's weights, stored as weightStorageFor(device) says: CPU sessions are
   * fed the model's own arrays (no copy per session); other providers map the one weights.bin.
   */
  private async openSession(graph: GraphIR, device: DeviceOption, extra: Partial<SessionOptions> = {}): Promise<CreatedSession> {
    const sessionOpts: SessionOptions = {
      device,
      shareWeights: true,
      ...(this.options.threads !== undefined ? { threads: this.options.threads } : {}),
      ...(this.options.optimization ? { optimization: this.options.optimization } : {}),
      ...extra,
    };
    // The .onnx holds nodes and small constants; the session is fed the model's own arrays (a
    // 16-bit model's arrays, decoded in the graph just before each reader: weightInputs.ts).
    // Every session keeps onnxruntime's arena, a 16-bit model's too: without one, each freed
    // mid-sized tensor went to the glibc heap of whichever libuv thread ran that call, and stayed
    // there (gpt2-medium's shape in fp16, a 1,024-token run peaked anywhere from +372 to +2,280 MiB
    // over the loaded model across five fresh processes; the panel's first view +2,591 against
    // +1,117 with the arena). With the decodes gated on their readers an arena holds one block's
    // decoded weights, not the model's.
    const storage = this.weightStorageFor(device);
    // bfloat16's fast decode needs opset 26, kept to sessions that can only be on the CPU.
    if (storage === 'inputs')
      return createSharedWeightsSession(graph, { ...sessionOpts, bf16Decode: runsOnlyOnCpu(device) ? 'bitcast' : 'table' });
    if (storage === 'device') {
      try {
        const weights = this.weightsOnDevice();
        await weights.ensure([...graph.initializers.values()].filter(WeightFile.isExternal), async (g, deviceOutputs) => {
          return (await createSession(encodeModel(g), { ...sessionOpts, device: 'webgpu', deviceOutputs, memArena: false })).session;
        });
        return await createSharedWeightsSession(graph, { ...sessionOpts, device: 'webgpu', bind: weights.bind });
      } catch (err) {
        if (this.disposed) throw err;
        // From now on this model's webgpu sessions read weights.bin (and may fall back to the CPU);
        // weights already uploaded stay for the sessions that read them, until dispose.
        this.deviceWeightsFailure = firstLine(err);
      }
    }
    // Weights go to the model's weights.bin once; this session's .onnx holds only the nodes.
    const path = this.weightFile.writeModel(encodeModel(graph, this.weightFile));
    try {
      return await createSession(path, sessionOpts);
    } finally {
      // onnxruntime has read the graph; only weights.bin stays referenced (mapped) by the session.
      rmSync(path, { force: true });
    }
  }

  /** Token ids for text, with BOS (50256) first unless prependBos is false; keeps at most n_ctx. */
  toTokens(text: string, opts: { prependBos?: boolean } = {}): ToTokensResult {
    const body = tokenizer.encode(text);
    const all = opts.prependBos === false ? body : [tokenizer.END_OF_TEXT_ID, ...body];
    if (all.length <= this.cfg.n_ctx) return { tokens: all, truncated: false, notice: null };
    return {
      tokens: all.slice(0, this.cfg.n_ctx),
      truncated: true,
      notice: `the text is ${all.length} tokens; ${this.cfg.model_name} reads at most n_ctx=${this.cfg.n_ctx}, so only the first ${this.cfg.n_ctx} are used`,
    };
  }

  /** One string per token, like TransformerLens's to_str_tokens. */
  toStrTokens(input: string | readonly number[], opts: { prependBos?: boolean } = {}): string[] {
    const ids = typeof input === 'string' ? this.toTokens(input, opts).tokens : input;
    return tokenizer.toStrTokens(ids);
  }

  decode(ids: readonly number[]): string {
    return tokenizer.decode(ids);
  }

  /** Releases every onnxruntime session; the model cannot run afterwards. */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    for (const timer of this.idleReleases.values()) clearTimeout(timer);
    this.idleReleases.clear();
    const variants = [...this.variants.values()];
    this.variants.clear();
    this.graphs.clear();
    await Promise.all(variants.map(async (p) => releaseVariant(await p.catch(() => null))));
    this.runs.clear();
    await this.readoutSessions.releaseAll();
    await this.releaseDeviceWeights();
    this.weightFileInst?.dispose();
    // A write in flight reads the weights' arrays; the caller may remove the cache folder next.
    await this.processedCacheState;
  }

  get isDisposed(): boolean {
    return this.disposed;
  }

  /**
   * The temp folder holding this model's weights.bin (ONNX external data), or null while no
   * session stores its weights there ('inputs' storage); gone after dispose (for tests).
   */
  get weightsFolder(): string | null {
    return this.weightFileInst?.dir ?? null;
  }

  private get weightFile(): WeightFile {
    if (this.disposed) throw new Error('this model was disposed');
    this.weightFileInst ??= new WeightFile();
    return this.weightFileInst;
  }

  /** Where this device's sessions get their weights (ModelOptions.weightStorage). */
  private weightStorageFor(device: DeviceOption): 'inputs' | 'file' | 'device' {
    if (this.halfPrecision) return 'inputs'; // weights.bin would take the decoded float32 arrays
    // 'auto' resolves with the first session, which then reads weights.bin; later ones share the device copy.
    const onWebgpu = device === 'webgpu' || (device === 'auto' && this.provider === 'webgpu');
    const want = this.options.weightStorage ?? (device === 'cpu' ? 'inputs' : onWebgpu ? 'device' : 'file');
    if (want === 'device' && (!onWebgpu || this.deviceWeightsFailure !== null)) return 'file';
    return want;
  }

  private weightsOnDevice(): DeviceWeights {
    this.deviceWeights ??= new DeviceWeights();
    return this.deviceWeights;
  }

  private async releaseDeviceWeights(): Promise<void> {
    const w = this.deviceWeights;
    this.deviceWeights = null;
    await w?.dispose();
  }

  /**
   * Where the weights of this model's sessions are: 'device' with the bytes uploaded once to
   * webgpu, or the storage its sessions read ('inputs', 'file'), and why 'device' was not used.
   */
  get weightPlacement(): { readonly storage: 'inputs' | 'file' | 'device'; readonly deviceBytes: number; readonly note: string | null } {
    const storage = this.deviceWeights !== null && this.deviceWeights.count > 0 ? 'device' : this.weightStorageFor(this.device);
    return { storage, deviceBytes: this.deviceWeights?.bytes ?? 0, note: this.deviceWeightsFailure };
  }

  /** Number of open onnxruntime sessions (for tests and memory views). */
  get openSessions(): number {
    return this.variants.size + this.readoutSessions.size;
  }

  /** Releases the readout sessions (and the memory their runs grew), as when a panel closes; the model stays loaded. */
  async releaseReadouts(): Promise<void> {
    await this.readoutSessions.releaseAll();
  }

  private assertLive(): void {
    if (this.disposed) throw new Error('this model was disposed');
  }

  /** Flattens one prompt or a batch of prompts to row-major ids, checking each; shorter prompts are right-padded. */
  private checkTokens(tokens: TokenInput, pastLength = 0): Prompts {
    const batched = isTokenBatch(tokens);
    const rows = batched ? tokens.map((r) => Array.from(r)) : [Array.from(tokens as readonly number[] | Int32Array)];
    rows.forEach((r, k) => {
      if (batched && r.length === 0) throw new Error(`prompt ${k} of the batch is empty; every prompt needs at least one token`);
      this.checkIds(r, pastLength);
    });
    return rightPadded(rows, Math.min(PAD_TOKEN, this.cfg.d_vocab - 1));
  }

  private checkIds(ids: readonly number[], pastLength: number): void {
    if (ids.length === 0) throw new Error('no tokens to run (an empty sequence)');
    if (pastLength + ids.length > this.cfg.n_ctx) {
      const what = pastLength === 0 ? `${ids.length} tokens` : `${pastLength} cached + ${ids.length} new tokens`;
      throw new Error(`${what} exceed the context window n_ctx=${this.cfg.n_ctx}; truncate first (toTokens does)`);
    }
    ids.forEach((t, i) => {
      if (!Number.isInteger(t) || t < 0 || t >= this.cfg.d_vocab) {
        throw new Error(`token ${i} is ${t}, not an id in 0..${this.cfg.d_vocab - 1}`);
      }
    });
  }

  private graphFor(
    ivKey: string,
    interventions: readonly Intervention[],
    logitsAt: LogitsAt,
    withPast: boolean,
    attentionMask = false,
  ): ModelGraph {
    const key = `${ivKey}|${logitsAt}|${withPast ? 'past' : ''}|${attentionMask ? 'mask' : ''}`;
    let g = this.graphs.get(key);
    if (g === undefined) {
      const { transforms } = compileInterventions(this.cfg, interventions);
      g = buildModelGraph(this.cfg, this.weights, transforms, logitsAt, { withPast, attentionMask });
      this.graphs.set(key, g);
    }
    return g;
  }

  /**
   * Sessions for one graph variant: intervention structure × cut points × unembedded positions ×
   * the hook points it outputs (`null`: all). Declaring only the requested hook points as outputs
   * lets onnxruntime reuse and fuse the rest, which matters most on the GPU providers.
   */
  private variant(
    key: string,
    ivKey: string,
    cuts: readonly string[],
    interventions: readonly Intervention[],
    logitsAt: LogitsAt,
    outputs: readonly string[] | null,
    withPast: boolean,
    attentionMask: boolean,
  ): Promise<Variant> {
    const hit = this.variants.get(key);
    if (hit !== undefined) {
      this.variants.delete(key); // re-insert: Map order doubles as least-recently-used order
      this.variants.set(key, hit);
      return hit;
    }
    const made = this.makeVariant(ivKey, cuts, interventions, logitsAt, outputs, withPast, attentionMask);
    this.variants.set(key, made);
    made.catch(() => {
      // Only this promise's own entry: after a switch to the CPU the key may hold a newer variant.
      if (this.variants.get(key) === made) this.variants.delete(key);
    });
    if (this.variants.size > MAX_CACHED_VARIANTS) {
      // Evict the least recently used variant, never the main (logits-only) session.
      const oldest = [...this.variants.keys()].find((k) => k !== MAIN_VARIANT && k !== key);
      if (oldest !== undefined) {
        const evicted = this.variants.get(oldest)!;
        this.variants.delete(oldest);
        void evicted.then(releaseVariant, () => undefined);
      }
    }
    return made;
  }

  private async makeVariant(
    ivKey: string,
    cuts: readonly string[],
    interventions: readonly Intervention[],
    logitsAt: LogitsAt,
    outputs: readonly string[] | null,
    withPast: boolean,
    attentionMask: boolean,
  ): Promise<Variant> {
    const { graph } = this.graphFor(ivKey, interventions, logitsAt, withPast, attentionMask);
    const hookNames = outputs ?? this.hookTable.map((h) => h.name);
    const segments = cutGraph(graph, cuts, [LOGITS_OUTPUT, ...hookNames, ...(withPast ? presentNames(this.cfg) : [])]);
    const device = this.device;
    const opened: OpenSegment[] = [];
    try {
      for (const seg of segments) {
        const deviceOutputs = withPast ? this.pastOutputs(seg.outputs) : [];
        const created = await this.openSession(seg.graph, device, { deviceOutputs });
        if (device !== this.device) {
          // The model moved to the CPU while this session was being made: it must not be used.
          await created.session.release();
          throw new ProviderRunError(created.session.provider, 'the model switched to cpu while this session was being created');
        }
        // After a run-time fallback, the notice that says why stays (new CPU sessions have none).
        if (device === (this.options.device ?? 'cpu')) this.notice = created.notice;
        this.provider = created.session.provider;
        const fault = this.options.faultInjection?.failRunsOn;
        const session = fault === created.session.provider ? withInjectedFault(created.session) : created.session;
        opened.push({ inputs: seg.inputs, outputs: seg.outputs, cut: seg.cut, session });
      }
    } catch (err) {
      await releaseVariant({ segments: opened });
      throw err;
    }
    if (this.disposed) {
      await releaseVariant({ segments: opened });
      throw new Error('this model was disposed');
    }
    return { segments: opened };
  }
}

function variantKey(
  ivKey: string,
  cuts: readonly string[],
  logitsAt: LogitsAt,
  outputs: readonly string[] | null,
  withPast: boolean,
): string {
  const key = [ivKey, [...cuts].sort().join(','), logitsAt, outputs === null ? '*' : outputs.join(',')].join('#');
  return withPast ? `${key}#past` : key;
}

/** run()'s session: no interventions, no cuts, all positions, logits only. */
const MAIN_VARIANT = variantKey('', [], 'all', [], false);

async function releaseVariant(v: Variant | null): Promise<void> {
  if (v === null) return;
  await Promise.all(v.segments.map((s) => s.session.release()));
}
