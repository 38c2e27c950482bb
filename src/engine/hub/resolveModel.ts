// From what the user typed (a Hub id, a short name, or a folder) to a folder holding
// config.json and model.safetensors: a local folder as is, else the Hugging Face cache without
// any request, else a download into that cache; and, when asked, the built-in demo model when
// the network gives nothing.

import { join, posix, win32 } from 'node:path';
import { readFile, stat } from 'node:fs/promises';
import { ensureTinyGpt2 } from '../tinyGpt2';
import { assertSafeRevision, findCachedSnapshot, isReadableFile, listCachedSnapshots, snapshotDir, type CachedModel } from './cacheLayout';
import { downloadFile, type DownloadOptions } from './download';
import { HubError, UNREACHABLE_CODES } from './errors';
import { CHECKPOINT_FILES, DEFAULT_MODEL_ID, canonicalRepoId } from './models';
import { homeFor, hubSettings, type HubEnv, type HubSettingsOverrides } from './settings';

export type ModelSource = 'local' | 'cache' | 'download' | 'demo';

export interface ResolvedModel {
  /** Folder with config.json and model.safetensors, for loadCheckpoint. */
  readonly folder: string;
  readonly source: ModelSource;
  /** The Hub repository, for 'cache' and 'download'. */
  readonly repoId?: string;
  /** The revision asked for (branch, tag or commit), for 'cache' and 'download'. */
  readonly revision?: string;
  /** The commit the files came from, for 'cache' and 'download'. */
  readonly commit?: string;
  /** True for the built-in model with random weights: callers must label it so. */
  readonly isDemo: boolean;
  /** For 'demo': why the requested model could not be had. */
  readonly fallbackReason?: string;
}

export interface ResolveModelOptions extends DownloadOptions {
  /** Offline or unreachable Hub: return the demo model instead of failing. */
  readonly allowDemo?: boolean;
  /** Where the demo model is generated (default: <user cache>/model-lens). */
  readonly demoCacheDir?: string;
  /** Base for relative folder paths (default: process.cwd()). */
  readonly cwd?: string;
}

export type ModelSpec =
  { readonly kind: 'folder'; readonly path: string } | { readonly kind: 'hub'; readonly repoId: string } | { readonly kind: 'demo' };

/** The spec that names the built-in demo model (random weights) in settings and on the command line. */
export const DEMO_MODEL_SPEC = 'demo';

/**
 * A spec that looks like a path (absolute, ./, ../, ~, or with a backslash) is a folder;
 * "demo" is the built-in demo model; anything else must be a Hub id. A bare relative folder must be written ./name, so that a
 * folder called "gpt2" in the current directory never shadows the real model by surprise.
 * On Windows both separators work (C:/models/gpt2, .\gpt2, ~\models) and ~ is %USERPROFILE%;
 * the folder comes back in the platform's own form. `platform` is passed in by tests.
 */
export function parseModelSpec(
  spec: string | undefined,
  cwd: string = process.cwd(),
  env: HubEnv = process.env,
  platform: NodeJS.Platform = process.platform,
): ModelSpec {
  const path = platform === 'win32' ? win32 : posix;
  const s = (spec ?? '').trim();
  if (s === '') return { kind: 'hub', repoId: DEFAULT_MODEL_ID };
  if (s.toLowerCase() === DEMO_MODEL_SPEC) return { kind: 'demo' };
  if (s === '~' || s.startsWith('~/') || (platform === 'win32' && s.startsWith('~\\'))) {
    return { kind: 'folder', path: path.join(homeFor(env, platform), s.slice(1)) };
  }
  if (path.isAbsolute(s) || /^\.\.?([\\/]|$)/.test(s) || s.includes('\\')) {
    return { kind: 'folder', path: path.resolve(cwd, s) };
  }
  const repoId = canonicalRepoId(s);
  if (!repoId) {
    throw new HubError(
      'bad-spec',
      `"${s}" is neither a Hugging Face model id (like openai-community/gpt2 or gpt2-medium) nor a folder path (start relative folders with ./).`,
    );
  }
  return { kind: 'hub', repoId };
}

export async function resolveModel(spec: string | undefined, opts: ResolveModelOptions = {}): Promise<ResolvedModel> {
  const parsed = parseModelSpec(spec, opts.cwd, opts.env);
  if (parsed.kind === 'folder') {
    const folder = await checkFolder(parsed.path);
    return { folder, source: 'local', isDemo: await hasDemoMarker(folder) };
  }
  if (parsed.kind === 'demo') return { folder: await demoModelFolder(opts), source: 'demo', isDemo: true };
  try {
    return await resolveHubModel(parsed.repoId, opts);
  } catch (err) {
    if (opts.allowDemo && err instanceof HubError && UNREACHABLE_CODES.includes(err.code)) {
      return { folder: await demoModelFolder(opts), source: 'demo', isDemo: true, fallbackReason: err.message };
    }
    throw err;
  }
}

/**
 * A folder holding the generated tiny GPT-2 (config.json has `model_lens_demo: true`) has random
 * weights wherever it comes from, so callers label it as the demo model too.
 */
async function hasDemoMarker(folder: string): Promise<boolean> {
  try {
    const config: unknown = JSON.parse(await readFile(join(folder, 'config.json'), 'utf8'));
    return typeof config === 'object' && config !== null && (config as Record<string, unknown>)['model_lens_demo'] === true;
  } catch {
    return false; // the loader reports a missing or broken config.json with the path; not this check's job
  }
}

async function resolveHubModel(repoId: string, opts: ResolveModelOptions): Promise<ResolvedModel> {
  const settings = hubSettings(opts);
  const revision = opts.revision ?? 'main';
  assertSafeRevision(revision);
  // Cache first, with no request at all: GPT-2's released files do not change, and a Python
  // user's cache should work on a plane.
  const cached = await findCachedSnapshot(settings.cacheDir, repoId, revision);
  if (cached)
    return { folder: cached.folder, source: 'cache', repoId, revision, commit: cached.commit, isDemo: await hasDemoMarker(cached.folder) };
  if (settings.offline) {
    throw new HubError(
      'offline',
      `HF_HUB_OFFLINE is set and ${repoId} (revision ${revision}) is not in the Hugging Face cache at ${settings.cacheDir}. Unset HF_HUB_OFFLINE to download it, or choose a local folder.`,
    );
  }
  // The first file fixes the commit; the rest are fetched at that commit so a branch moving
  // mid-download cannot mix two versions in one snapshot.
  const [first, ...rest] = CHECKPOINT_FILES;
  const head = await downloadFile(repoId, first, { ...opts, revision });
  let transferred = head.transferredBytes;
  for (const file of rest) {
    const f = await downloadFile(repoId, file, { ...opts, revision: head.commit });
    transferred += f.transferredBytes;
  }
  const folder = snapshotDir(settings.cacheDir, repoId, head.commit);
  return {
    folder,
    source: transferred > 0 ? 'download' : 'cache',
    repoId,
    revision,
    commit: head.commit,
    isDemo: await hasDemoMarker(folder),
  };
}

async function checkFolder(path: string): Promise<string> {
  let isDir: boolean;
  try {
    isDir = (await stat(path)).isDirectory();
  } catch {
    throw new HubError('bad-spec', `Model folder ${path} does not exist.`);
  }
  if (!isDir) throw new HubError('bad-spec', `${path} is a file; give the folder that holds config.json and model.safetensors.`);
  const missing: string[] = [];
  for (const f of CHECKPOINT_FILES) if (!(await isReadableFile(join(path, f)))) missing.push(f);
  if (missing.length > 0) {
    throw new HubError(
      'bad-spec',
      `Model folder ${path} has no ${missing.join(' or ')}: a GPT-2 checkpoint needs config.json and model.safetensors.`,
    );
  }
  return path;
}

/**
 * The default place for the demo model: the user's cache folder, beside Hugging Face's
 * (~/.cache/model-lens, with ~ as hubCacheDir reads it: %USERPROFILE% on Windows).
 */
export function defaultDemoCacheDir(env: HubEnv = process.env, platform: NodeJS.Platform = process.platform): string {
  const path = platform === 'win32' ? win32 : posix;
  const xdg = env.XDG_CACHE_HOME?.trim();
  return xdg ? path.join(xdg, 'model-lens') : path.join(homeFor(env, platform), '.cache', 'model-lens');
}

/** The built-in demo model (random weights, GPT-2's vocabulary), generated once. */
export async function demoModelFolder(opts: { demoCacheDir?: string; env?: HubEnv } = {}): Promise<string> {
  return ensureTinyGpt2(opts.demoCacheDir ?? defaultDemoCacheDir(opts.env));
}

/** The demo model as a ResolvedModel, for callers that offer it after a failure. */
export async function resolveDemoModel(opts: { demoCacheDir?: string; env?: HubEnv; reason?: string } = {}): Promise<ResolvedModel> {
  return { folder: await demoModelFolder(opts), source: 'demo', isDemo: true, fallbackReason: opts.reason };
}

/** Every model snapshot in the Hugging Face cache, usable ones first. */
export function listCachedModels(opts: HubSettingsOverrides = {}): Promise<CachedModel[]> {
  return listCachedSnapshots(hubSettings(opts).cacheDir);
}

/** One line for status bars, panel headers and the CLI; the demo model always says "random weights". */
export function describeModel(m: ResolvedModel): string {
  switch (m.source) {
    case 'demo':
      return 'Demo model (random weights, not GPT-2)';
    case 'local':
      return `${m.folder} (local folder)`;
    case 'cache':
    case 'download': {
      const rev = m.revision && m.revision !== 'main' ? `@${m.revision}` : '';
      return `${m.repoId ?? m.folder}${rev}`;
    }
    default: {
      const never: never = m.source;
      return never;
    }
  }
}
