// The keys and values of the tokens a model has already seen, per layer, so the next forward
// computes only the new tokens (src/engine/incremental.ts). Layout [1, n_heads, len, d_head] per
// layer, as the graph's past inputs and present outputs (kernels/kvCache.ts) have it.
//
// Memory bound: 2 (keys and values) · n_layers · len · d_model · 4 bytes, len ≤ n_ctx; for
// gpt2-small that is at most 2·12·1024·768·4 = 75.5 MB per sequence (maxBytes). A cache holds one
// sequence; whoever keeps several (the worker, one per document) bounds how many.
//
// Where it lives: on the CPU provider the tensors are host arrays, fed to the next step without a
// copy. On webgpu they stay in device buffers between steps (DeviceTensor: the session leaves its
// `present` outputs on the device, the next step takes them as its past, and the cache disposes
// the ones it replaces), so a step moves only the new tokens and the logits across the bus.
import { pastKeyName, pastValueName, presentKeyName, presentValueName } from '../../kernels/kvCache';
import { deviceBytes, isDeviceTensor, type DeviceTensor } from './ort/deviceTensor';
import type { SessionTensor } from './ort/session';
import type { HookedGPT2Config, Tensor } from './types';

/** One layer's key or value: host arrays, or a buffer left on the device. */
export type PastTensor = Tensor | DeviceTensor;

/** One layer's keys and values, each [1, n_heads, len, d_head]. */
export interface LayerKeyValues {
  readonly key: PastTensor;
  readonly value: PastTensor;
}

/** 'cpu': host arrays; 'gpu-buffer': device buffers that only the provider that made them can read. */
export type PastLocation = 'cpu' | 'gpu-buffer';

export interface PastKeyValues {
  /** Positions covered (the tensors' axis 2). */
  readonly length: number;
  readonly layers: readonly LayerKeyValues[];
  readonly location: PastLocation;
  /**
   * Device pasts only: the first `n` positions as new device tensors (a slice run on the device,
   * since they cannot be read back); the model that made the past supplies it.
   */
  readonly firstPositions?: (n: number) => Promise<PastKeyValues>;
}

/**
 * Thrown by a model asked to run a past that lives on another provider's device (after a switch
 * to the CPU): the caller starts the cache again from the tokens (advanceCacheWith does).
 */
export class PastElsewhereError extends Error {
  override readonly name = 'PastElsewhereError';
  constructor(provider: string) {
    super(`the key/value cache lives on a device this model no longer runs on (now ${provider}); it must be computed again`);
  }
}

/** Frees a past's device buffers (host arrays are left to the garbage collector). */
export function disposePast(past: PastKeyValues): void {
  for (const l of past.layers) for (const t of [l.key, l.value]) if (isDeviceTensor(t)) t.dispose();
}

type CacheCfg = Pick<HookedGPT2Config, 'n_layers' | 'n_heads' | 'd_head' | 'd_model' | 'n_ctx'>;

/** No positions yet: the first step of an incremental forward. */
export function emptyPast(cfg: CacheCfg): PastKeyValues {
  const t = (): Tensor => ({ dims: [1, cfg.n_heads, 0, cfg.d_head], data: new Float32Array(0) });
  return { length: 0, location: 'cpu', layers: Array.from({ length: cfg.n_layers }, () => ({ key: t(), value: t() })) };
}

function feedOf(t: PastTensor): SessionTensor {
  return isDeviceTensor(t) ? t : { type: 'float32', dims: t.dims, data: t.data };
}

/** The graph feeds for `past` (host arrays wrapped without a copy; device buffers as they are). */
export function pastFeeds(past: PastKeyValues): Record<string, SessionTensor> {
  const feeds: Record<string, SessionTensor> = {};
  past.layers.forEach((l, L) => {
    feeds[pastKeyName(L)] = feedOf(l.key);
    feeds[pastValueName(L)] = feedOf(l.value);
  });
  return feeds;
}

/**
 * A run's `present` outputs as PastKeyValues; `firstPositions` is the model's device slice, for a
 * present left on the device.
 */
export function presentOf(
  cfg: Pick<HookedGPT2Config, 'n_layers'>,
  get: (name: string) => PastTensor,
  firstPositions?: (past: PastKeyValues, n: number) => Promise<PastKeyValues>,
): PastKeyValues {
  const layers = Array.from({ length: cfg.n_layers }, (_, L) => ({ key: get(presentKeyName(L)), value: get(presentValueName(L)) }));
  const length = layers[0]?.key.dims[2] ?? 0;
  const onDevice = layers.map((l) => [l.key, l.value].filter(isDeviceTensor).length);
  if (onDevice.every((n) => n === 0)) return { length, layers, location: 'cpu' };
  if (onDevice.some((n) => n !== 2)) throw new Error('internal: a present is partly on the device');
  if (firstPositions === undefined) throw new Error('internal: a device present needs the model that can slice it');
  const past: PastKeyValues = { length, layers, location: 'gpu-buffer', firstPositions: (n) => firstPositions(past, n) };
  return past;
}

/** Bytes a past holds, on the host or on the device. */
export function pastBytes(past: PastKeyValues): number {
  const bytes = (t: PastTensor): number => (isDeviceTensor(t) ? deviceBytes(t) : t.data.byteLength);
  return past.layers.reduce((s, l) => s + bytes(l.key) + bytes(l.value), 0);
}

/** The first `n` positions of [1, n_heads, len, d_head], copied (so the longer tensor can be freed). */
function firstPositions(t: Tensor, n: number): Tensor {
  const [batch, heads, len, dHead] = t.dims as [number, number, number, number];
  if (n === len) return t;
  const out = new Float32Array(batch * heads * n * dHead);
  for (let h = 0; h < batch * heads; h++) out.set(t.data.subarray(h * len * dHead, (h * len + n) * dHead), h * n * dHead);
  return { dims: [batch, heads, n, dHead], data: out };
}

/** Length of the common prefix of two token sequences. */
export function commonPrefix(a: readonly number[], b: readonly number[]): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a[i] === b[i]) i++;
  return i;
}

/** The first `n` positions of a host past. */
function hostFirstPositions(past: PastKeyValues, n: number): PastKeyValues {
  const host = (t: PastTensor): Tensor => {
    if (isDeviceTensor(t)) throw new Error('internal: a host past holds a device tensor');
    return firstPositions(t, n);
  };
  return { length: n, location: 'cpu', layers: past.layers.map((l) => ({ key: host(l.key), value: host(l.value) })) };
}

/**
 * The keys and values of one token sequence. It owns its tensors: device buffers it replaces
 * (extend, truncateTo) or drops (dispose) are freed then, never while a step that reads them runs
 * (`using`).
 */
export class KeyValueCache {
  private ids: number[] = [];
  private kv: PastKeyValues;
  private disposed = false;
  /** The step reading `kv` now, if any: dispose waits for it before freeing device buffers. */
  private inUse: Promise<unknown> | null = null;

  constructor(private readonly cfg: CacheCfg) {
    this.kv = emptyPast(cfg);
  }

  /** The most one cache can hold, in bytes: 2 · n_layers · n_ctx · d_model · 4. */
  static maxBytes(cfg: CacheCfg): number {
    return 2 * cfg.n_layers * cfg.n_ctx * cfg.d_model * 4;
  }

  /** The tokens whose keys and values are held. */
  get tokens(): readonly number[] {
    return this.ids;
  }

  get length(): number {
    return this.ids.length;
  }

  /** What the next incremental forward takes as its past. */
  get past(): PastKeyValues {
    this.assertLive();
    return this.kv;
  }

  /** Bytes held now, on the host or the device: 2 · n_layers · length · d_model · 4. */
  get bytes(): number {
    return pastBytes(this.kv);
  }

  /** Where the keys and values live: host arrays ('cpu') or device buffers ('gpu-buffer', webgpu). */
  get location(): PastLocation {
    return this.kv.location;
  }

  /** Runs `step` (which reads `past`) so that a dispose meanwhile frees the buffers only after it. */
  async using<R>(step: Promise<R>): Promise<R> {
    this.inUse = step;
    try {
      return await step;
    } finally {
      if (this.inUse === step) this.inUse = null;
    }
  }

  /** Takes a step's `present` (past followed by `newTokens`) as the new contents; the old ones are freed. */
  extend(newTokens: readonly number[], present: PastKeyValues): void {
    if (this.disposed) {
      disposePast(present); // nobody else will
      this.assertLive();
    }
    const want = this.ids.length + newTokens.length;
    if (present.length !== want || present.layers.length !== this.cfg.n_layers) {
      throw new Error(
        `internal: present covers ${present.length} positions in ${present.layers.length} layers, expected ${want} in ${this.cfg.n_layers}`,
      );
    }
    if (want > this.cfg.n_ctx) throw new Error(`a key/value cache holds at most n_ctx=${this.cfg.n_ctx} positions, not ${want}`);
    this.ids = [...this.ids, ...newTokens];
    this.replace(present);
  }

  /**
   * Keeps only the first `n` positions (an edit at token n invalidates what follows it). A host
   * past is copied down at once; a device past is sliced on the device (one small run).
   */
  async truncateTo(n: number): Promise<void> {
    this.assertLive();
    if (!Number.isInteger(n) || n < 0) throw new Error(`cannot truncate a key/value cache to ${n} positions`);
    if (n >= this.ids.length) return;
    let kept: PastKeyValues;
    if (n === 0) kept = emptyPast(this.cfg);
    else if (this.kv.location === 'cpu') kept = hostFirstPositions(this.kv, n);
    else {
      const slice = this.kv.firstPositions;
      if (slice === undefined) throw new Error('internal: a device past without its slice');
      kept = await this.using(slice(n));
      if (this.disposed) {
        disposePast(kept);
        this.assertLive();
      }
    }
    this.ids = this.ids.slice(0, n);
    this.replace(kept);
  }

  /** Drops the tensors (device buffers once no step reads them); the cache cannot be used afterwards. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.ids = [];
    const old = this.kv;
    this.kv = emptyPast({ ...this.cfg, n_layers: 0 });
    if (this.inUse === null) disposePast(old);
    else
      void this.inUse.then(
        () => disposePast(old),
        () => disposePast(old),
      );
  }

  private replace(next: PastKeyValues): void {
    const old = this.kv;
    this.kv = next;
    if (old !== next) disposePast(old);
  }

  get isDisposed(): boolean {
    return this.disposed;
  }

  private assertLive(): void {
    if (this.disposed) throw new Error('this key/value cache was disposed');
  }
}
