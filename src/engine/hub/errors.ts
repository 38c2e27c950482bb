// One error type for everything that can go wrong while finding or fetching a model, with a
// machine-readable code so callers (extension, CLI, tests) can decide what to offer next
// (retry, set HF_TOKEN, fall back to the demo model) without parsing messages.
import { ABORT_ERROR_NAME } from '../../common/errors';

export type HubErrorCode =
  | 'offline' // HF_HUB_OFFLINE is set and the file is not in the cache
  | 'network' // no connection: refused, DNS failure, reset, timeout
  | 'unauthorized' // 401/403: gated or private repository
  | 'not-found' // 404: unknown repository, revision or file
  | 'http' // any other unexpected HTTP status
  | 'hash-mismatch' // downloaded bytes do not match the Hub's hash
  | 'disk-full' // ENOSPC while writing the cache
  | 'filesystem' // any other file-system failure in the cache
  | 'cancelled' // the caller's AbortSignal fired
  | 'bad-spec' // the model spec is neither a known id nor a usable folder
  | 'bad-response'; // the server's answer lacks what the Hub always sends

export class HubError extends Error {
  readonly code: HubErrorCode;
  constructor(code: HubErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = code === 'cancelled' ? ABORT_ERROR_NAME : 'HubError';
    this.code = code;
  }
}

export function isHubError(err: unknown, code?: HubErrorCode): err is HubError {
  return err instanceof HubError && (code === undefined || err.code === code);
}

/** Codes that mean "the network gave us nothing": the situations where the demo model is a fair offer. */
export const UNREACHABLE_CODES: readonly HubErrorCode[] = ['offline', 'network'];

const NETWORK_ERRNOS = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
  'ECONNABORTED',
  'UND_ERR_SOCKET',
]);

/** The errno-style code of a Node error, if it has one. */
export function errnoOf(err: unknown): string | undefined {
  if (typeof err === 'object' && err !== null && 'code' in err) {
    const code = (err as { code: unknown }).code;
    if (typeof code === 'string') return code;
  }
  return undefined;
}

/** Turns a socket-level failure into a HubError that says what it means for the user. */
export function networkError(url: string, err: unknown): HubError {
  const errno = errnoOf(err) ?? 'unknown';
  const host = safeHost(url);
  const why =
    errno === 'ENOTFOUND' || errno === 'EAI_AGAIN'
      ? `cannot resolve ${host} (no network or DNS?)`
      : errno === 'ECONNREFUSED'
        ? `connection to ${host} refused`
        : errno === 'ETIMEDOUT'
          ? `connection to ${host} timed out`
          : `connection to ${host} failed (${errno})`;
  return new HubError(
    'network',
    `Cannot reach the Hugging Face Hub: ${why}. Check the network, set HF_ENDPOINT for a mirror, or set HF_HUB_OFFLINE=1 to use only cached models.`,
    { cause: err },
  );
}

export function isNetworkErrno(err: unknown): boolean {
  const code = errnoOf(err);
  return code !== undefined && NETWORK_ERRNOS.has(code);
}

/** Maps a write/rename failure in the cache to a clear error; ENOSPC gets its own code. */
export function filesystemError(what: string, path: string, err: unknown): HubError {
  const errno = errnoOf(err);
  if (errno === 'ENOSPC') {
    return new HubError(
      'disk-full',
      `Not enough disk space to ${what} (${path}). Free some space or point HF_HUB_CACHE at a larger disk; the partial download is kept and will resume.`,
      { cause: err },
    );
  }
  const detail = err instanceof Error ? err.message : String(err);
  return new HubError('filesystem', `Cannot ${what} (${path}): ${detail}`, { cause: err });
}

export function cancelledError(what: string): HubError {
  return new HubError('cancelled', `Cancelled: ${what}. The partial download is kept and will resume next time.`);
}

function safeHost(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return url;
  }
}
