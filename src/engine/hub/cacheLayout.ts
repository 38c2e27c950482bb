// The Hugging Face cache layout on disk, as Python's huggingface_hub writes and reads it:
//   <cache>/models--ORG--NAME/blobs/<etag>                 the bytes, named by git sha1 or LFS sha256
//   <cache>/models--ORG--NAME/snapshots/<commit>/<file>    relative symlink to ../../blobs/<etag>
//   <cache>/models--ORG--NAME/refs/<revision>              the commit a branch or tag pointed to
// Keeping to it exactly means a model fetched by Python is used here without a request, and a
// model fetched here is found by transformers.from_pretrained.

import { randomBytes } from 'node:crypto';
import { constants as fsConstants } from 'node:fs';
import { access, copyFile, lstat, mkdir, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { renameOver } from '../../common/renameOver';
import { dirname, join, relative } from 'node:path';
import { HubError, filesystemError } from './errors';
import { CHECKPOINT_FILES } from './models';

/** Unique per call, so concurrent writers in one process never share a temporary name. */
function tmpSuffix(): string {
  return `${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
}

export const COMMIT_RE = /^[0-9a-f]{40}$/;

export function repoFolderName(repoId: string): string {
  return `models--${repoId.split('/').join('--')}`;
}

export function repoIdFromFolderName(folder: string): string | undefined {
  if (!folder.startsWith('models--')) return undefined;
  return folder.slice('models--'.length).split('--').join('/');
}

export function repoDir(cacheDir: string, repoId: string): string {
  return join(cacheDir, repoFolderName(repoId));
}

export function blobPath(cacheDir: string, repoId: string, etag: string): string {
  return join(repoDir(cacheDir, repoId), 'blobs', etag);
}

export function snapshotDir(cacheDir: string, repoId: string, commit: string): string {
  return join(repoDir(cacheDir, repoId), 'snapshots', commit);
}

/** Same place Python keeps its locks, under a different file name (see lock.ts for why). */
export function lockPath(cacheDir: string, repoId: string, etag: string): string {
  return join(cacheDir, '.locks', repoFolderName(repoId), `${etag}.modellens.lock`);
}

/** A revision names a file under refs/, so it must not climb out of it. */
export function assertSafeRevision(revision: string): void {
  const parts = revision.split('/');
  if (revision === '' || revision.startsWith('/') || parts.some((p) => p === '' || p === '.' || p === '..') || /[\0\\]/.test(revision)) {
    throw new HubError('bad-spec', `Invalid revision "${revision}": expected a branch, tag or 40-character commit hash.`);
  }
}

/**
 * A repository id becomes the folder models--ORG--NAME: one or two plain segments (letters,
 * digits, '-', '_', '.'; no '..', no leading '.', no '--' which the folder name uses as a separator).
 */
export function assertSafeRepoId(repoId: string): void {
  const parts = repoId.split('/');
  const plain = (p: string): boolean =>
    /^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(p) && !p.includes('..') && !p.includes('--') && !p.endsWith('.');
  if (parts.length < 1 || parts.length > 2 || !parts.every(plain) || repoId.length > 96) {
    throw new HubError(
      'bad-spec',
      `Invalid repository id "${repoId.slice(0, 100)}": expected NAME or ORG/NAME (letters, digits, '-', '_', '.').`,
    );
  }
}

/**
 * A file name inside a repository becomes a path under snapshots/<commit>/, so it must stay
 * there: relative, '/'-separated, no empty, '.' or '..' segment, no backslash, drive letter or NUL.
 */
export function assertSafeRepoFile(file: string): void {
  const parts = file.split('/');
  const bad = file === '' || file.length > 1024 || /[\0\\:]/.test(file) || parts.some((p) => p === '' || p === '.' || p === '..');
  if (bad) {
    throw new HubError(
      'bad-spec',
      `Invalid file name "${file.slice(0, 100)}" in a repository: expected a relative path such as model.safetensors, without '..', '\\' or ':'.`,
    );
  }
}

/**
 * Only a hash can be checked: the LFS sha256 (64 hex) of a large file or the git blob sha1 (40
 * hex) of a small one, which is what the Hub and its mirrors send. Any other ETag (a plain web
 * server's "5f3c-1a2b") would let bytes into the cache unverified, so it is refused.
 */
export function isVerifiableEtag(etag: string): boolean {
  return /^[0-9a-f]{64}$/.test(etag) || /^[0-9a-f]{40}$/.test(etag);
}

/** A blob name comes from a server header; it becomes a file name, so it must be plain. */
export function assertSafeEtag(etag: string): void {
  if (!/^[A-Za-z0-9._-]{1,128}$/.test(etag) || etag === '.' || etag === '..') {
    throw new HubError('bad-response', `The Hub sent an unusable ETag "${etag.slice(0, 80)}".`);
  }
}

export async function readRef(cacheDir: string, repoId: string, revision: string): Promise<string | undefined> {
  try {
    const text = (await readFile(join(repoDir(cacheDir, repoId), 'refs', revision), 'utf8')).trim();
    return COMMIT_RE.test(text) ? text : undefined;
  } catch {
    return undefined;
  }
}

/** Writes refs/<revision> through a temporary file so a reader never sees half a hash. */
export async function writeRef(cacheDir: string, repoId: string, revision: string, commit: string): Promise<void> {
  if (revision === commit) return;
  const target = join(repoDir(cacheDir, repoId), 'refs', revision);
  const tmp = `${target}.${tmpSuffix()}`;
  try {
    await mkdir(dirname(target), { recursive: true });
    await writeFile(tmp, commit);
    await renameOver(tmp, target);
  } catch (err) {
    await rm(tmp, { force: true });
    throw filesystemError('record the revision', target, err);
  }
}

/** True when path resolves (through symlinks) to a regular file. */
export async function isReadableFile(path: string): Promise<boolean> {
  try {
    const s = await stat(path);
    if (!s.isFile()) return false;
    await access(path, fsConstants.R_OK);
    return true;
  } catch {
    return false;
  }
}

export interface CachedSnapshot {
  readonly commit: string;
  readonly folder: string;
}

/** The snapshot for a revision, when every checkpoint file is there (a half-fetched one does not count). */
export async function findCachedSnapshot(
  cacheDir: string,
  repoId: string,
  revision: string,
  files: readonly string[] = CHECKPOINT_FILES,
): Promise<CachedSnapshot | undefined> {
  const commit = COMMIT_RE.test(revision) ? revision : await readRef(cacheDir, repoId, revision);
  if (!commit) return undefined;
  const folder = snapshotDir(cacheDir, repoId, commit);
  for (const f of files) if (!(await isReadableFile(join(folder, f)))) return undefined;
  return { commit, folder };
}

/**
 * Points snapshots/<commit>/<file> at the blob with a relative symlink, as Python does, made
 * under a temporary name and renamed over so a reader never sees a missing file. Where
 * symlinks are not allowed (Windows without developer mode) the blob is copied instead, which
 * is also what Python falls back to.
 */
export async function linkIntoSnapshot(cacheDir: string, repoId: string, commit: string, file: string, etag: string): Promise<string> {
  const pointer = join(snapshotDir(cacheDir, repoId, commit), file);
  const blob = blobPath(cacheDir, repoId, etag);
  const tmp = `${pointer}.${tmpSuffix()}`;
  try {
    await mkdir(dirname(pointer), { recursive: true });
    try {
      await symlink(relative(dirname(pointer), blob), tmp);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'EPERM' && code !== 'EACCES' && code !== 'ENOTSUP') throw err;
      await copyFile(blob, tmp);
    }
    await renameOver(tmp, pointer);
    return pointer;
  } catch (err) {
    await rm(tmp, { force: true });
    throw filesystemError('link the downloaded file into the cache snapshot', pointer, err);
  }
}

export interface CachedModel {
  readonly repoId: string;
  /** Revisions (branches/tags) that point at this snapshot; empty when only the commit is known. */
  readonly refs: readonly string[];
  readonly commit: string;
  readonly folder: string;
  /** config.json and model.safetensors both present: usable by the loader. */
  readonly complete: boolean;
  /** Bytes of the snapshot's files (following links). */
  readonly sizeBytes: number;
}

/** Every model snapshot in the cache, usable ones first; never throws on a missing or odd cache. */
export async function listCachedSnapshots(cacheDir: string): Promise<CachedModel[]> {
  const out: CachedModel[] = [];
  let entries: string[];
  try {
    entries = await readdir(cacheDir);
  } catch {
    return out;
  }
  for (const entry of entries.sort()) {
    const repoId = repoIdFromFolderName(entry);
    if (!repoId) continue;
    const dir = join(cacheDir, entry);
    const refs = await readAllRefs(join(dir, 'refs'));
    let commits: string[];
    try {
      commits = (await readdir(join(dir, 'snapshots'))).filter((c) => COMMIT_RE.test(c));
    } catch {
      continue;
    }
    for (const commit of commits) {
      const folder = join(dir, 'snapshots', commit);
      let complete = true;
      let sizeBytes = 0;
      for (const f of CHECKPOINT_FILES) {
        try {
          const s = await stat(join(folder, f));
          sizeBytes += s.size;
        } catch {
          complete = false;
        }
      }
      out.push({
        repoId,
        refs: refs.filter(([, c]) => c === commit).map(([r]) => r),
        commit,
        folder,
        complete,
        sizeBytes,
      });
    }
  }
  return out.sort((a, b) => Number(b.complete) - Number(a.complete) || a.repoId.localeCompare(b.repoId));
}

async function readAllRefs(refsDir: string, prefix = ''): Promise<[string, string][]> {
  const out: [string, string][] = [];
  let names: string[];
  try {
    names = await readdir(refsDir);
  } catch {
    return out;
  }
  for (const name of names) {
    const p = join(refsDir, name);
    try {
      const s = await lstat(p);
      if (s.isDirectory()) out.push(...(await readAllRefs(p, `${prefix}${name}/`)));
      else if (s.isFile()) {
        const commit = (await readFile(p, 'utf8')).trim();
        if (COMMIT_RE.test(commit)) out.push([`${prefix}${name}`, commit]);
      }
    } catch {
      // A ref that vanished mid-scan is simply not listed.
    }
  }
  return out;
}
