// Where the Hugging Face cache lives and how to reach the Hub, read from an environment the
// caller passes in (process.env by default) so tests and the extension can point elsewhere.
// Same precedence as Python's huggingface_hub, so a Python user's cache is shared both ways.

import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

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

function expandHome(p: string, env: HubEnv): string {
  if (p === '~' || p.startsWith('~/')) return join(nonEmpty(env.HOME) ?? homedir(), p.slice(1));
  return p;
}

/** HF_HUB_CACHE, else HF_HOME/hub, else XDG_CACHE_HOME/huggingface/hub, else ~/.cache/huggingface/hub. */
export function hubCacheDir(env: HubEnv): string {
  const hubCache = nonEmpty(env.HF_HUB_CACHE) ?? nonEmpty(env.HUGGINGFACE_HUB_CACHE);
  if (hubCache) return resolve(expandHome(hubCache, env));
  const hfHome = nonEmpty(env.HF_HOME);
  if (hfHome) return resolve(expandHome(hfHome, env), 'hub');
  const xdg = nonEmpty(env.XDG_CACHE_HOME);
  if (xdg) return resolve(expandHome(xdg, env), 'huggingface', 'hub');
  return join(nonEmpty(env.HOME) ?? homedir(), '.cache', 'huggingface', 'hub');
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
