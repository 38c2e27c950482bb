// Fetching one file of a Hub repository into the Hugging Face cache: metadata from a HEAD on
// the resolve URL, bytes into blobs/<etag>.incomplete (resumed with Range after a dropped
// connection or a cancel), verified against the Hub's hash, renamed into place, then linked
// from snapshots/<commit>/<file>.
//
// Why not @huggingface/hub's downloadFileToCacheDir: it asks the Hub's JSON API (paths-info)
// rather than the resolve URL's headers, so plain mirrors behind HF_ENDPOINT that only serve
// resolve URLs do not work; and it has no resume, no hash check, no lock and no progress
// (checked against its source). Node's own http does the job in a few hundred lines.

import { createHash, type Hash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rm, stat, statfs, truncate } from 'node:fs/promises';
import { renameOver } from '../../common/renameOver';
import { dirname, join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { IncomingMessage } from 'node:http';
import {
  COMMIT_RE,
  assertSafeEtag,
  assertSafeRepoFile,
  assertSafeRepoId,
  assertSafeRevision,
  blobPath,
  isReadableFile,
  isVerifiableEtag,
  linkIntoSnapshot,
  lockPath,
  readRef,
  snapshotDir,
  writeRef,
} from './cacheLayout';
import { HubError, cancelledError, filesystemError, isHubError, networkError } from './errors';
import { type FileTarget, headerValue, isRedirect, requestOnce, statusError } from './http';
import { acquireFileLock } from './lock';
import { ProgressMeter, type ProgressCallback } from './progress';
import { type HubSettings, type HubSettingsOverrides, hubSettings } from './settings';

export interface DownloadOptions extends HubSettingsOverrides {
  /** Branch, tag or commit; default "main". */
  readonly revision?: string;
  readonly signal?: AbortSignal;
  readonly onProgress?: ProgressCallback;
  /** No byte for this long counts as a dropped connection (default 30 s). */
  readonly idleTimeoutMs?: number;
  /** How many times a dropped connection is resumed automatically within one call (default 3). */
  readonly retries?: number;
  readonly retryDelayMs?: number;
  /** Heartbeat age after which another process's lock is taken to be abandoned (default 30 s). */
  readonly lockStaleMs?: number;
}

export interface DownloadedFile {
  /** snapshots/<commit>/<file>: the path the loader should open. */
  readonly path: string;
  readonly blobPath: string;
  readonly commit: string;
  readonly etag: string;
  readonly size: number;
  /** Bytes this call pulled over the network (0 when the cache had it). */
  readonly transferredBytes: number;
}

/** What a HEAD on the resolve URL says about a file. */
export interface FileMetadata {
  readonly commit: string;
  /** LFS sha256 for large files, git blob sha1 for small ones; the blob's name in the cache. */
  readonly etag: string;
  readonly size: number | undefined;
  /** Where the bytes are: the CDN location of an LFS file, else the resolve URL itself. */
  readonly downloadUrl: string;
}

const MAX_REDIRECTS = 10;

export function resolveUrl(endpoint: string, repoId: string, revision: string, file: string): string {
  return `${endpoint}/${repoId}/resolve/${encodeURIComponent(revision)}/${file.split('/').map(encodeURIComponent).join('/')}`;
}

/** Strips quotes and the weak-validator prefix, as the Hub's ETags come quoted. */
export function normalizeEtag(raw: string | undefined): string | undefined {
  if (!raw) return undefined;
  return raw.trim().replace(/^W\//, '').replace(/^"|"$/g, '');
}

/**
 * HEAD on the resolve URL. Relative redirects (a renamed repository) are followed; a redirect
 * to another origin is where an LFS file's bytes live, and its headers carry the metadata.
 */
export async function fetchFileMetadata(
  target: FileTarget,
  settings: HubSettings,
  opts: { signal?: AbortSignal; idleTimeoutMs?: number } = {},
): Promise<FileMetadata> {
  let url = resolveUrl(settings.endpoint, target.repoId, target.revision, target.file);
  const origin = new URL(url).origin;
  for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
    const res = await requestOnce(
      url,
      { method: 'HEAD', signal: opts.signal, idleTimeoutMs: opts.idleTimeoutMs ?? 30_000, token: settings.token },
      new URL(url).origin === origin,
    );
    res.resume();
    const status = res.statusCode ?? 0;
    const location = headerValue(res.headers, 'location');
    if (isRedirect(status) && location) {
      const next = new URL(location, url);
      if (next.origin === origin && !headerValue(res.headers, 'x-linked-etag')) {
        url = next.toString();
        continue;
      }
      return metadataFrom(res, next.toString(), target);
    }
    if (status >= 200 && status < 300) return metadataFrom(res, url, target);
    throw statusError(res, target, settings.token !== undefined);
  }
  throw new HubError('bad-response', `Too many redirects for ${target.repoId}/${target.file}.`);
}

function metadataFrom(res: IncomingMessage, downloadUrl: string, target: FileTarget): FileMetadata {
  const commit = headerValue(res.headers, 'x-repo-commit');
  const etag = normalizeEtag(headerValue(res.headers, 'x-linked-etag') ?? headerValue(res.headers, 'etag'));
  const sizeText = headerValue(res.headers, 'x-linked-size') ?? headerValue(res.headers, 'content-length');
  if (!commit || !COMMIT_RE.test(commit)) {
    throw new HubError(
      'bad-response',
      `The server at HF_ENDPOINT did not send X-Repo-Commit for ${target.repoId}/${target.file}; it does not look like a Hugging Face Hub.`,
    );
  }
  if (!etag) throw new HubError('bad-response', `The server sent no ETag for ${target.repoId}/${target.file}.`);
  assertSafeEtag(etag);
  if (!isVerifiableEtag(etag)) {
    throw new HubError(
      'bad-response',
      `The server sent ETag "${etag.slice(0, 80)}" for ${target.repoId}/${target.file}, which is neither a sha256 (large files) nor a git sha1 (small files), so the download could not be verified; it was refused and nothing was written. A mirror behind HF_ENDPOINT must pass on the Hub's ETag and X-Linked-Etag headers.`,
    );
  }
  const size = sizeText !== undefined && /^\d+$/.test(sizeText) ? Number(sizeText) : undefined;
  return { commit, etag, size, downloadUrl };
}

/** Downloads (or finds in the cache) one file of a repository. */
export async function downloadFile(repoId: string, file: string, opts: DownloadOptions = {}): Promise<DownloadedFile> {
  const settings = hubSettings(opts);
  const revision = opts.revision ?? 'main';
  // Each becomes part of a path in the cache: none may climb out of it.
  assertSafeRepoId(repoId);
  assertSafeRevision(revision);
  assertSafeRepoFile(file);
  const target: FileTarget = { repoId, file, revision };

  const cached = await cachedPointer(settings.cacheDir, target);
  // A commit hash never moves, so a cached file for it is final; for a branch, offline mode
  // (and a failed HEAD, below) settle for what the cache has.
  if (cached && (COMMIT_RE.test(revision) || settings.offline)) return cached;
  if (settings.offline) {
    throw new HubError(
      'offline',
      `HF_HUB_OFFLINE is set and ${repoId} (${file} at ${revision}) is not in the cache at ${settings.cacheDir}. Unset HF_HUB_OFFLINE to download it, or copy the model into the cache.`,
    );
  }

  let meta: FileMetadata;
  try {
    meta = await fetchFileMetadata(target, settings, opts);
  } catch (err) {
    if (cached && isHubError(err, 'network')) return cached;
    throw err;
  }
  await writeRef(settings.cacheDir, repoId, revision, meta.commit);
  const pointer = join(snapshotDir(settings.cacheDir, repoId, meta.commit), file);
  const blob = blobPath(settings.cacheDir, repoId, meta.etag);
  const done = (transferredBytes: number, size: number): DownloadedFile => ({
    path: pointer,
    blobPath: blob,
    commit: meta.commit,
    etag: meta.etag,
    size,
    transferredBytes,
  });

  if (await isReadableFile(pointer)) return done(0, (await stat(pointer)).size);
  const transfer = await joinTransfer(
    blob,
    (signal, emit) => fetchBlob(target, meta, blob, settings, { ...opts, signal, onProgress: emit }),
    opts.signal,
    opts.onProgress,
  );
  await linkIntoSnapshot(settings.cacheDir, repoId, meta.commit, file, meta.etag);
  return done(transfer.transferredBytes, transfer.size);
}

async function cachedPointer(cacheDir: string, target: FileTarget): Promise<DownloadedFile | undefined> {
  const commit = COMMIT_RE.test(target.revision) ? target.revision : await readRef(cacheDir, target.repoId, target.revision);
  if (!commit) return undefined;
  const pointer = join(snapshotDir(cacheDir, target.repoId, commit), target.file);
  if (!(await isReadableFile(pointer))) return undefined;
  const size = (await stat(pointer)).size;
  return { path: pointer, blobPath: pointer, commit, etag: '', size, transferredBytes: 0 };
}

interface BlobResult {
  readonly size: number;
  readonly transferredBytes: number;
}

// ---- one transfer per blob inside this process ---------------------------------------------

interface Inflight {
  readonly promise: Promise<BlobResult>;
  readonly controller: AbortController;
  readonly listeners: Set<ProgressCallback | undefined>;
}

const inflight = new Map<string, Inflight>();

/**
 * Callers asking for the same blob at once share one transfer. Each caller's own AbortSignal
 * only detaches that caller; the transfer stops when the last one leaves.
 */
function joinTransfer(
  key: string,
  start: (signal: AbortSignal, emit: ProgressCallback) => Promise<BlobResult>,
  signal: AbortSignal | undefined,
  onProgress: ProgressCallback | undefined,
): Promise<BlobResult> {
  if (signal?.aborted) return Promise.reject(cancelledError('download'));
  let entry = inflight.get(key);
  if (!entry || entry.controller.signal.aborted) {
    const controller = new AbortController();
    const listeners = new Set<ProgressCallback | undefined>();
    const promise = start(controller.signal, (p) => {
      for (const l of listeners) l?.(p);
    });
    const created: Inflight = { promise, controller, listeners };
    entry = created;
    inflight.set(key, created);
    promise.then(
      () => inflight.get(key) === created && inflight.delete(key),
      () => inflight.get(key) === created && inflight.delete(key),
    );
  }
  const shared = entry;
  // A distinct listener identity per caller, so two callers with the same callback both count.
  const listener: ProgressCallback = (p) => onProgress?.(p);
  shared.listeners.add(listener);
  return new Promise<BlobResult>((resolvePromise, reject) => {
    const onAbort = (): void => {
      shared.listeners.delete(listener);
      if (shared.listeners.size === 0) shared.controller.abort();
      reject(cancelledError('download'));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    shared.promise.then(
      (r) => {
        signal?.removeEventListener('abort', onAbort);
        shared.listeners.delete(listener);
        resolvePromise(r);
      },
      (err: unknown) => {
        signal?.removeEventListener('abort', onAbort);
        shared.listeners.delete(listener);
        reject(err);
      },
    );
  });
}

// ---- the transfer itself --------------------------------------------------------------------

async function fetchBlob(
  target: FileTarget,
  meta: FileMetadata,
  blob: string,
  settings: HubSettings,
  opts: DownloadOptions & { signal: AbortSignal; onProgress: ProgressCallback },
): Promise<BlobResult> {
  const release = await acquireFileLock(lockPath(settings.cacheDir, target.repoId, meta.etag), {
    signal: opts.signal,
    staleMs: opts.lockStaleMs,
  });
  try {
    // Another process may have finished it while we waited for the lock.
    if (await isReadableFile(blob)) return { size: (await stat(blob)).size, transferredBytes: 0 };
    try {
      await mkdir(dirname(blob), { recursive: true });
    } catch (err) {
      throw filesystemError('create the cache folder', dirname(blob), err);
    }
    const incomplete = `${blob}.incomplete`;
    const retries = opts.retries ?? 3;
    let transferred = 0;
    for (let attempt = 0; ; attempt++) {
      try {
        await transferOnce(target, meta, incomplete, settings, opts, (n) => {
          transferred += n;
        });
        break;
      } catch (err) {
        if (err instanceof Resumable && attempt < retries && !opts.signal.aborted) {
          await delay(opts.retryDelayMs ?? 500, opts.signal);
          continue;
        }
        throw err instanceof Resumable ? err.error : err;
      }
    }
    const size = await verify(target, meta, incomplete);
    try {
      await renameOver(incomplete, blob);
    } catch (err) {
      throw filesystemError('move the downloaded file into the cache', blob, err);
    }
    return { size, transferredBytes: transferred };
  } finally {
    await release();
  }
}

/** The body ran past the announced size (raised inside the byte counter). */
class BodyOverrun extends Error {}

function overrunError(target: FileTarget, meta: FileMetadata, what: string): HubError {
  return new HubError(
    'bad-response',
    `The server ${what} of ${target.file} (${target.repoId}, ${meta.size} bytes in all); the download was stopped and its partial file discarded. Try again; if it repeats, a proxy or mirror is altering the file.`,
  );
}

/** A dropped connection: the partial file is good and the next attempt resumes from it. */
class Resumable extends Error {
  constructor(readonly error: HubError) {
    super(error.message);
  }
}

/**
 * One GET of the remaining bytes, appended to the .incomplete file. Bytes are counted through
 * `count` as they arrive, so an attempt cut short still counts what it got.
 */
async function transferOnce(
  target: FileTarget,
  meta: FileMetadata,
  incomplete: string,
  settings: HubSettings,
  opts: DownloadOptions & { signal: AbortSignal; onProgress: ProgressCallback },
  count: (n: number) => void,
): Promise<void> {
  let have = await fileSize(incomplete);
  if (meta.size !== undefined && have > meta.size) {
    await truncate(incomplete, 0);
    have = 0;
  }
  if (meta.size !== undefined && have === meta.size) return;
  await assertDiskSpace(dirname(incomplete), meta.size === undefined ? 0 : meta.size - have);

  let res: IncomingMessage;
  try {
    res = await getFollowingRedirects(meta.downloadUrl, have, target, settings, opts);
  } catch (err) {
    if (isHubError(err, 'network')) throw new Resumable(err);
    throw err;
  }
  const status = res.statusCode ?? 0;
  if (status === 416) {
    // The server says the range starts past the end: what we have may be the whole file
    // (verify decides) or a stale partial from another version (discard, start over).
    res.resume();
    if (meta.size === undefined) return;
    await truncate(incomplete, 0);
    throw new Resumable(new HubError('http', `The server rejected the resume range for ${target.file}.`));
  }
  if (status !== 200 && status !== 206) throw statusError(res, target, settings.token !== undefined);
  if (status === 200 && have > 0) have = 0; // the server ignored Range: start from scratch
  if (status === 206) {
    const range = headerValue(res.headers, 'content-range');
    const from = range ? /^bytes (\d+)-/.exec(range)?.[1] : undefined;
    if (from === undefined || Number(from) !== have) {
      res.resume();
      await truncate(incomplete, 0);
      throw new Resumable(
        new HubError('bad-response', `The server resumed ${target.file} at the wrong offset (${range ?? 'no Content-Range'}).`),
      );
    }
  }

  // The body may not run past the announced size: stop at the first byte beyond it, so a server
  // that keeps sending cannot fill the disk (the hash check would only come after the last byte).
  const remaining = meta.size === undefined ? Infinity : meta.size - have;
  const announced = headerValue(res.headers, 'content-length');
  if (announced !== undefined && /^\d+$/.test(announced) && Number(announced) > remaining) {
    res.resume();
    throw overrunError(target, meta, `announces ${announced} bytes for the ${remaining} still missing`);
  }
  const meter = new ProgressMeter(target.repoId, target.file, meta.size, have, opts.onProgress);
  meter.report();
  let received = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      received += chunk.length;
      if (received > remaining) {
        cb(new BodyOverrun());
        return;
      }
      meter.add(chunk.length);
      count(chunk.length);
      cb(null, chunk);
    },
  });
  const out = createWriteStream(incomplete, { flags: have > 0 ? 'a' : 'w' });
  try {
    await pipeline(res, counter, out, { signal: opts.signal });
  } catch (err) {
    if (opts.signal.aborted) throw cancelledError(`download of ${target.file}`);
    if (err instanceof BodyOverrun) {
      res.destroy();
      await rm(incomplete, { force: true });
      throw overrunError(target, meta, `sent more than the ${remaining} bytes still missing`);
    }
    const errno = (err as NodeJS.ErrnoException).code;
    if (errno === 'ENOSPC' || errno === 'EACCES' || errno === 'EROFS' || errno === 'EDQUOT') {
      throw filesystemError(`write ${target.file}`, incomplete, err);
    }
    throw new Resumable(networkError(meta.downloadUrl, err));
  } finally {
    meter.report();
  }
  const now = await fileSize(incomplete);
  if (meta.size !== undefined && now < meta.size) {
    throw new Resumable(networkError(meta.downloadUrl, Object.assign(new Error('connection closed early'), { code: 'ECONNRESET' })));
  }
}

async function getFollowingRedirects(
  url: string,
  from: number,
  target: FileTarget,
  settings: HubSettings,
  opts: DownloadOptions & { signal: AbortSignal },
): Promise<IncomingMessage> {
  const hubOrigin = new URL(settings.endpoint).origin;
  let current = url;
  for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
    const headers: Record<string, string> = from > 0 ? { range: `bytes=${from}-` } : {};
    // The token is for the Hub only; a CDN's signed URL must not receive it.
    const res = await requestOnce(
      current,
      { method: 'GET', headers, signal: opts.signal, idleTimeoutMs: opts.idleTimeoutMs ?? 30_000, token: settings.token },
      new URL(current).origin === hubOrigin,
    );
    const location = headerValue(res.headers, 'location');
    if (isRedirect(res.statusCode) && location) {
      res.resume();
      current = new URL(location, current).toString();
      continue;
    }
    return res;
  }
  throw new HubError('bad-response', `Too many redirects while downloading ${target.repoId}/${target.file}.`);
}

/**
 * The LFS sha256 (64 hex) or the git blob sha1 (40 hex) must match before the file may enter
 * the cache; on a mismatch the partial file is discarded so the next try starts clean.
 */
async function verify(target: FileTarget, meta: FileMetadata, incomplete: string): Promise<number> {
  const size = await fileSize(incomplete);
  let problem: string | undefined;
  if (meta.size !== undefined && size !== meta.size) {
    problem = `size ${size} bytes, expected ${meta.size}`;
  } else if (!isVerifiableEtag(meta.etag)) {
    problem = `no sha256 or git sha1 to check it against (ETag "${meta.etag.slice(0, 80)}")`; // fetchFileMetadata refuses these first
  } else {
    const isSha256 = meta.etag.length === 64;
    const hash = createHash(isSha256 ? 'sha256' : 'sha1');
    if (!isSha256) hash.update(`blob ${size}\0`); // git's object header for a blob
    const got = await hashFile(incomplete, hash);
    if (got !== meta.etag) problem = `${isSha256 ? 'sha256' : 'git sha1'} ${got}, expected ${meta.etag}`;
  }
  if (problem) {
    await rm(incomplete, { force: true });
    throw new HubError(
      'hash-mismatch',
      `The downloaded ${target.file} of ${target.repoId} is corrupt (${problem}). It was discarded and the cache is unchanged; try again, and if it repeats, a proxy or mirror is altering the file.`,
    );
  }
  return size;
}

async function hashFile(path: string, hash: Hash): Promise<string> {
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

async function fileSize(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch {
    return 0;
  }
}

async function assertDiskSpace(dir: string, needed: number): Promise<void> {
  if (needed <= 0) return;
  let free: number;
  try {
    const s = await statfs(dir);
    free = s.bavail * s.bsize;
  } catch {
    return; // cannot tell: let the write itself report ENOSPC
  }
  if (free < needed) {
    throw filesystemError(
      `download ${(needed / 1e6).toFixed(1)} MB (only ${(free / 1e6).toFixed(1)} MB free)`,
      dir,
      Object.assign(new Error('no space left on device'), { code: 'ENOSPC' }),
    );
  }
}

function delay(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    const t = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolvePromise();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(t);
      reject(cancelledError('download'));
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
