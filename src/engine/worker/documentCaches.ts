// The worker's key/value caches for inline logits, one per document key, least recently used
// first out. Bound: at most `maxDocuments` caches (default 4), each at most
// KeyValueCache.maxBytes(cfg) = 2·n_layers·n_ctx·d_model·4 bytes (75.5 MB for gpt2-small, so
// 302 MB in all). Tied to one model: the worker clears them on load and dispose.
import { advanceCacheWith } from '../incremental';
import { nextToken } from '../../../kernels/readouts/nextToken';
import { KeyValueCache } from '../kvCache';
import type { HookedGPT2 } from '../model';

export const DEFAULT_MAX_DOCUMENTS = 4;

export interface NextTokenAnswer {
  /** The last position's top-k token ids, most likely first. */
  readonly topIds: Int32Array;
  /** Their probabilities. */
  readonly topProbs: Float32Array;
  /** Positions reused from the cache (the forward ran tokens.length − reused). */
  readonly reused: number;
}

export class DocumentCaches {
  private readonly caches = new Map<string, KeyValueCache>();

  constructor(private readonly maxDocuments = DEFAULT_MAX_DOCUMENTS) {}

  /**
   * Brings `document`'s cache to `tokens` and answers the last position's top-k in the graph
   * (kernels/readouts/nextToken.ts on the incremental graph): only the new tokens run, and only
   * k ids and probabilities leave onnxruntime.
   */
  async nextToken(
    model: HookedGPT2,
    document: string,
    tokens: readonly number[],
    topK: number,
    signal?: AbortSignal,
  ): Promise<NextTokenAnswer> {
    let cache = this.caches.get(document);
    if (cache === undefined) {
      cache = new KeyValueCache(model.cfg);
      while (this.caches.size >= this.maxDocuments) this.forget(this.caches.keys().next().value!);
    }
    this.caches.delete(document); // re-inserted last: Map order is least recently used first
    this.caches.set(document, cache);
    const k = Math.max(1, Math.min(Math.floor(topK), model.cfg.d_vocab_out));
    const readout = nextToken(k, null);
    const r = await advanceCacheWith(cache, tokens, (fresh, past) =>
      model.readoutIncremental(fresh, past, [readout], signal ? { signal } : {}),
    );
    const a = r.answers.get(readout.key);
    if (a?.topIds === undefined || a.topProbs === undefined) throw new Error('internal: the nextToken readout gave no answer');
    return { topIds: Int32Array.from(a.topIds.data, Number), topProbs: Float32Array.from(a.topProbs.data, Number), reused: r.reused };
  }

  forget(document: string): void {
    this.caches.get(document)?.dispose();
    this.caches.delete(document);
  }

  clear(): void {
    for (const c of this.caches.values()) c.dispose();
    this.caches.clear();
  }

  /** For tests and memory views. */
  get size(): number {
    return this.caches.size;
  }

  get bytes(): number {
    let n = 0;
    for (const c of this.caches.values()) n += c.bytes;
    return n;
  }
}
