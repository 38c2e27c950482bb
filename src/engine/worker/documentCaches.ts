// The worker's key/value caches for inline logits, one per document key, least recently used
// first out. Bound: at most `maxDocuments` caches (default 4), each at most
// KeyValueCache.maxBytes(cfg) = 2·n_layers·n_ctx·d_model·4 bytes (75.5 MB for gpt2-small, so
// 302 MB in all). Tied to one model: the worker clears them on load and dispose.
import { advanceCache, type AdvanceResult } from '../incremental';
import { KeyValueCache } from '../kvCache';
import type { HookedGPT2 } from '../model';

export const DEFAULT_MAX_DOCUMENTS = 4;

export class DocumentCaches {
  private readonly caches = new Map<string, KeyValueCache>();

  constructor(private readonly maxDocuments = DEFAULT_MAX_DOCUMENTS) {}

  /** Brings `document`'s cache to `tokens` and returns the last position's logits. */
  async nextToken(model: HookedGPT2, document: string, tokens: readonly number[], signal?: AbortSignal): Promise<AdvanceResult> {
    let cache = this.caches.get(document);
    if (cache === undefined) {
      cache = new KeyValueCache(model.cfg);
      while (this.caches.size >= this.maxDocuments) this.forget(this.caches.keys().next().value!);
    }
    this.caches.delete(document); // re-inserted last: Map order is least recently used first
    this.caches.set(document, cache);
    return advanceCache(model, cache, tokens, signal ? { signal } : {});
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
