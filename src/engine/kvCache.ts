// The keys and values of the tokens a model has already seen, per layer, so the next forward
// computes only the new tokens (src/engine/incremental.ts). Layout [1, n_heads, len, d_head] per
// layer, as the graph's past inputs and present outputs (kernels/kvCache.ts) have it.
//
// Memory bound: 2 (keys and values) · n_layers · len · d_model · 4 bytes, len ≤ n_ctx; for
// gpt2-small that is at most 2·12·1024·768·4 = 75.5 MB per sequence (maxBytes). A cache holds one
// sequence; whoever keeps several (the worker, one per document) bounds how many.
import { pastKeyName, pastValueName, presentKeyName, presentValueName } from '../../kernels/kvCache';
import type { HostTensor } from './ort/session';
import type { HookedGPT2Config, Tensor } from './types';

/** One layer's keys and values, each [1, n_heads, len, d_head]. */
export interface LayerKeyValues {
  readonly key: Tensor;
  readonly value: Tensor;
}

export interface PastKeyValues {
  /** Positions covered (the tensors' axis 2). */
  readonly length: number;
  readonly layers: readonly LayerKeyValues[];
}

type CacheCfg = Pick<HookedGPT2Config, 'n_layers' | 'n_heads' | 'd_head' | 'd_model' | 'n_ctx'>;

/** No positions yet: the first step of an incremental forward. */
export function emptyPast(cfg: CacheCfg): PastKeyValues {
  const t = (): Tensor => ({ dims: [1, cfg.n_heads, 0, cfg.d_head], data: new Float32Array(0) });
  return { length: 0, layers: Array.from({ length: cfg.n_layers }, () => ({ key: t(), value: t() })) };
}

/** The graph feeds for `past`. */
export function pastFeeds(past: PastKeyValues): Record<string, HostTensor> {
  const feeds: Record<string, HostTensor> = {};
  past.layers.forEach((l, L) => {
    feeds[pastKeyName(L)] = { type: 'float32', dims: l.key.dims, data: l.key.data };
    feeds[pastValueName(L)] = { type: 'float32', dims: l.value.dims, data: l.value.data };
  });
  return feeds;
}

/** Reads a run's `present` outputs back into PastKeyValues. */
export function presentOf(cfg: Pick<HookedGPT2Config, 'n_layers'>, get: (name: string) => Tensor): PastKeyValues {
  const layers = Array.from({ length: cfg.n_layers }, (_, L) => ({ key: get(presentKeyName(L)), value: get(presentValueName(L)) }));
  const length = layers[0]?.key.dims[2] ?? 0;
  return { length, layers };
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

/** The keys and values of one token sequence. */
export class KeyValueCache {
  private ids: number[] = [];
  private kv: PastKeyValues;
  private disposed = false;

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

  /** Bytes held now: 2 · n_layers · length · d_model · 4. */
  get bytes(): number {
    return this.kv.layers.reduce((s, l) => s + l.key.data.byteLength + l.value.data.byteLength, 0);
  }

  /** Takes a step's `present` (past followed by `newTokens`) as the new contents. */
  extend(newTokens: readonly number[], present: PastKeyValues): void {
    this.assertLive();
    const want = this.ids.length + newTokens.length;
    if (present.length !== want || present.layers.length !== this.cfg.n_layers) {
      throw new Error(
        `internal: present covers ${present.length} positions in ${present.layers.length} layers, expected ${want} in ${this.cfg.n_layers}`,
      );
    }
    if (want > this.cfg.n_ctx) throw new Error(`a key/value cache holds at most n_ctx=${this.cfg.n_ctx} positions, not ${want}`);
    this.ids = [...this.ids, ...newTokens];
    this.kv = present;
  }

  /** Keeps only the first `n` positions (an edit at token n invalidates what follows it). */
  truncateTo(n: number): void {
    this.assertLive();
    if (!Number.isInteger(n) || n < 0) throw new Error(`cannot truncate a key/value cache to ${n} positions`);
    if (n >= this.ids.length) return;
    this.ids = this.ids.slice(0, n);
    this.kv =
      n === 0
        ? emptyPast(this.cfg)
        : { length: n, layers: this.kv.layers.map((l) => ({ key: firstPositions(l.key, n), value: firstPositions(l.value, n) })) };
  }

  /** Drops the tensors; the cache cannot be used afterwards. */
  dispose(): void {
    this.disposed = true;
    this.ids = [];
    this.kv = emptyPast({ ...this.cfg, n_layers: 0 });
  }

  get isDisposed(): boolean {
    return this.disposed;
  }

  private assertLive(): void {
    if (this.disposed) throw new Error('this key/value cache was disposed');
  }
}
