// HTTP for the Hub's resolve URLs, on node:http/https rather than fetch: a download needs the
// headers of the Hub's own 302 (X-Linked-Etag, X-Linked-Size, X-Repo-Commit live there, not
// on the CDN's answer), a raw byte stream whose socket errors surface as errno codes
// (ECONNRESET vs ENOSPC vs abort decide what the user is told), and per-socket idle timeouts.

import http from 'node:http';
import https from 'node:https';
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import { HubError, cancelledError, networkError } from './errors';

export interface RequestOptions {
  readonly method: 'HEAD' | 'GET';
  readonly headers?: Readonly<Record<string, string>>;
  readonly signal?: AbortSignal;
  /** Socket idle timeout: no byte for this long counts as a dropped connection. */
  readonly idleTimeoutMs: number;
  /** Sent as Authorization: Bearer, and only to the origin it was meant for. */
  readonly token?: string;
}

export const USER_AGENT = 'model-lens (node)';

/** One request, no redirect following; the body is left unread for the caller. */
export function requestOnce(url: string, opts: RequestOptions, sendToken: boolean): Promise<IncomingMessage> {
  return new Promise((resolvePromise, reject) => {
    if (opts.signal?.aborted) {
      reject(cancelledError('download'));
      return;
    }
    let u: URL;
    try {
      u = new URL(url);
    } catch {
      reject(new HubError('bad-spec', `Invalid Hub URL "${url}": check HF_ENDPOINT.`));
      return;
    }
    const mod = u.protocol === 'https:' ? https : u.protocol === 'http:' ? http : undefined;
    if (!mod) {
      reject(new HubError('bad-spec', `Unsupported protocol in "${url}": HF_ENDPOINT must be http or https.`));
      return;
    }
    const headers: Record<string, string> = {
      'user-agent': USER_AGENT,
      // The Hub's sizes and hashes describe the raw bytes; a compressed body would not match.
      'accept-encoding': 'identity',
      ...opts.headers,
    };
    if (sendToken && opts.token) headers.authorization = `Bearer ${opts.token}`;
    const req = mod.request(u, { method: opts.method, headers, signal: opts.signal });
    req.setTimeout(opts.idleTimeoutMs, () => {
      req.destroy(Object.assign(new Error('socket idle timeout'), { code: 'ETIMEDOUT' }));
    });
    req.on('response', (res) => {
      // The same idle limit applies while the body streams.
      res.socket.setTimeout(opts.idleTimeoutMs);
      resolvePromise(res);
    });
    req.on('error', (err) => {
      if (opts.signal?.aborted) reject(cancelledError('download'));
      else reject(networkError(url, err));
    });
    req.end();
  });
}

export interface FileTarget {
  readonly repoId: string;
  readonly file: string;
  readonly revision: string;
}

/** Turns an unexpected status into an error that says what to do about it. */
export function statusError(res: IncomingMessage, target: FileTarget, hasToken: boolean): HubError {
  const status = res.statusCode ?? 0;
  const hubCode = headerValue(res.headers, 'x-error-code');
  res.resume();
  const what = `${target.repoId} (${target.file} at ${target.revision})`;
  if (status === 401 || status === 403) {
    const advice = hasToken
      ? "HF_TOKEN is set but was not accepted: check that it is valid and has read access, and that you accepted the model's terms on the Hub."
      : 'The repository may be gated or private: accept its terms on the Hub and set HF_TOKEN to an access token with read permission.';
    return new HubError('unauthorized', `Access to ${what} was refused (HTTP ${status}). ${advice}`);
  }
  if (status === 404) {
    const reason =
      hubCode === 'RevisionNotFound'
        ? `revision "${target.revision}" does not exist`
        : hubCode === 'EntryNotFound'
          ? `the repository has no file ${target.file}`
          : hubCode === 'RepoNotFound'
            ? `no repository named ${target.repoId}`
            : 'the model, revision or file does not exist';
    return new HubError('not-found', `Not found on the Hub: ${what}: ${reason} (HTTP 404). Check the model id and revision.`);
  }
  return new HubError('http', `The Hub answered HTTP ${status} for ${what}. Try again later.`);
}

export function headerValue(headers: IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}

export function isRedirect(status: number | undefined): boolean {
  return status === 301 || status === 302 || status === 303 || status === 307 || status === 308;
}
