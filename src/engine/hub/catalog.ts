// What the model picker shows: the GPT-2 family and anything else in the cache, each with
// whether it is cached and what it would cost to download.

import { CHECKPOINT_FILES, KNOWN_MODELS, knownModel } from './models';
import { fetchFileMetadata } from './download';
import { listCachedSnapshots, type CachedModel } from './cacheLayout';
import { hubSettings, type HubSettingsOverrides } from './settings';

export interface DownloadSize {
  readonly bytes: number;
  /** True when the Hub said so just now; false for the built-in approximate table. */
  readonly exact: boolean;
}

export interface ModelChoice {
  readonly repoId: string;
  readonly description: string;
  /** The usable cached snapshot, if any (the one refs/main points at when there are several). */
  readonly cached: CachedModel | undefined;
  /** What a download would cost; undefined when unknown (not a known model and the Hub unreachable). */
  readonly downloadSize: DownloadSize | undefined;
}

export interface SizeOptions extends HubSettingsOverrides {
  readonly revision?: string;
  readonly signal?: AbortSignal;
  /** Per-request timeout for the HEAD requests (default 5 s: the picker must not hang). */
  readonly timeoutMs?: number;
}

/** Size of a checkpoint's files: HEAD requests when online, else the approximate table. */
export async function downloadSize(repoId: string, opts: SizeOptions = {}): Promise<DownloadSize | undefined> {
  const settings = hubSettings(opts);
  const approx = knownModel(repoId)?.approxBytes;
  const fallback = approx !== undefined ? { bytes: approx, exact: false } : undefined;
  if (settings.offline) return fallback;
  try {
    let bytes = 0;
    for (const file of CHECKPOINT_FILES) {
      const meta = await fetchFileMetadata({ repoId, file, revision: opts.revision ?? 'main' }, settings, {
        signal: opts.signal,
        idleTimeoutMs: opts.timeoutMs ?? 5_000,
      });
      if (meta.size === undefined) return fallback;
      bytes += meta.size;
    }
    return { bytes, exact: true };
  } catch {
    return fallback;
  }
}

/** The picker's rows: known GPT-2 models first, then other cached models. */
export async function modelChoices(opts: SizeOptions = {}): Promise<ModelChoice[]> {
  const settings = hubSettings(opts);
  const cached = (await listCachedSnapshots(settings.cacheDir)).filter((c) => c.complete);
  const pick = (repoId: string): CachedModel | undefined => {
    const all = cached.filter((c) => c.repoId === repoId);
    return all.find((c) => c.refs.includes(opts.revision ?? 'main')) ?? all[0];
  };
  const known = await Promise.all(
    KNOWN_MODELS.map(async (m): Promise<ModelChoice> => {
      const c = pick(m.repoId);
      return {
        repoId: m.repoId,
        description: m.description,
        cached: c,
        downloadSize: c ? undefined : await downloadSize(m.repoId, opts),
      };
    }),
  );
  const others = [...new Set(cached.map((c) => c.repoId))]
    .filter((id) => !knownModel(id))
    .map((id): ModelChoice => ({ repoId: id, description: 'in the Hugging Face cache', cached: pick(id), downloadSize: undefined }));
  return [...known, ...others];
}
