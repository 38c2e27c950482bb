// Where the Hugging Face cache lives and how to reach the Hub, read from an environment the
// caller passes in (process.env by default) so tests and the extension can point elsewhere.
// Same precedence as Python's huggingface_hub, so a Python user's cache is shared both ways.

import { homedir } from 'node:os';
import { posix, win32 } from 'node:path';

/** The public Hub. Not a package registry: it is where GPT-2's weights are published. */
export const DEFAULT_HUB_ENDPOINT = 'https://huggingface.co';

export type HubEnv = Readonly<Record<string, string | undefined>>;

export interface HubSettings {
  /** The cache root that holds models--ORG--NAME folders. */
  readonly cacheDir: string;
  /** HF_HUB_OFFLINE: never touch the network. */
  readonly offline: boolean;
  /** Base URL for resolve URLs, without a trailing slash (HF_ENDPOINT for mirrors). */
  readonly endpoint: string;
  /** HF_TOKEN, sent as a Bearer token when set. */
  readonly token: string | undefined;
}

export interface HubSettingsOverrides {
  readonly env?: HubEnv;
  readonly cacheDir?: string;
  readonly offline?: boolean;
  readonly endpoint?: string;
  readonly token?: string;
}

const TRUE_VALUES = new Set(['1', 'true', 'yes', 'on']);

function nonEmpty(v: string | undefined): string | undefined {
  return v !== undefined && v.trim() !== '' ? v.trim() : undefined;
}

/**
 * The home folder as huggingface_hub's `~` expansion sees it: HOME on POSIX systems, USERPROFILE
 * on Windows (where HOME is usually unset), else the OS's idea of it.
 */
export function homeFor(env: HubEnv, platform: NodeJS.Platform = process.platform): string {
  return (platform === 'win32' ? nonEmpty(env.USERPROFILE) : nonEmpty(env.HOME)) ?? homedir();
}

function expandHome(p: string, env: HubEnv, platform: NodeJS.Platform): string {
  const path = platform === 'win32' ? win32 : posix;
  const homePrefix = platform === 'win32' ? /^~[\\/]/ : /^~\//;
  if (p === '~' || homePrefix.test(p)) return path.join(homeFor(env, platform), p.slice(1));
  return p;
}

/**
 * HF_HUB_CACHE, else HF_HOME/hub, else XDG_CACHE_HOME/huggingface/hub, else
 * ~/.cache/huggingface/hub, where ~ is %USERPROFILE% on Windows (as huggingface_hub resolves it).
 * `platform` decides the path rules and the home variable; tests pass it in.
 */
export function hubCacheDir(env: HubEnv, platform: NodeJS.Platform = process.platform): string {
  const path = platform === 'win32' ? win32 : posix;
  const hubCache = nonEmpty(env.HF_HUB_CACHE) ?? nonEmpty(env.HUGGINGFACE_HUB_CACHE);
  if (hubCache) return path.resolve(expandHome(hubCache, env, platform));
  const hfHome = nonEmpty(env.HF_HOME);
  if (hfHome) return path.resolve(expandHome(hfHome, env, platform), 'hub');
  const xdg = nonEmpty(env.XDG_CACHE_HOME);
  if (xdg) return path.resolve(expandHome(xdg, env, platform), 'huggingface', 'hub');
  return path.join(homeFor(env, platform), '.cache', 'huggingface', 'hub');
}

export function hubSettings(overrides: HubSettingsOverrides = {}): HubSettings {
  const env = overrides.env ?? process.env;
  const offlineVar = nonEmpty(env.HF_HUB_OFFLINE) ?? nonEmpty(env.TRANSFORMERS_OFFLINE);
  const endpoint = (overrides.endpoint ?? nonEmpty(env.HF_ENDPOINT) ?? DEFAULT_HUB_ENDPOINT).replace(/\/+$/, '');
  return {
    cacheDir: overrides.cacheDir ?? hubCacheDir(env),
    offline: overrides.offline ?? (offlineVar !== undefined && TRUE_VALUES.has(offlineVar.toLowerCase())),
    endpoint,
    token: overrides.token ?? nonEmpty(env.HF_TOKEN) ?? nonEmpty(env.HUGGING_FACE_HUB_TOKEN),
  };
}
