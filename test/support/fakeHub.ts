// A Hugging Face Hub on loopback, serving files the way the real one does, for testing the
// download path for real (sockets, redirects, ranges) without the network:
//   HEAD/GET {hub}/{repo}/resolve/{revision}/{file}
//     small (git) file: 200, ETag = git blob sha1, X-Repo-Commit, Content-Length
//     LFS file:         302 to {cdn}/lfs/{sha256} (another origin, like the real CDN), with
//                       X-Linked-Etag = sha256, X-Linked-Size, X-Repo-Commit
//     errors:           404 with X-Error-Code RepoNotFound / RevisionNotFound / EntryNotFound,
//                       401 when a token is required and missing
//   GET {cdn}/lfs/{sha256}, with Range -> 206 and Content-Range
// Faults for tests: cut the connection after N bytes, serve slowly, serve wrong bytes.
// Both servers close themselves after `lifetimeMs` so a failed test cannot hang the run.

import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { generateTinyGpt2 } from '../../src/engine/tinyGpt2';

export interface FakeRepo {
  readonly repoId: string;
  /** Branch or tag names to commit hashes; "main" by default points at `commit`. */
  readonly commit: string;
  readonly refs?: Readonly<Record<string, string>>;
  /** file name -> bytes; files whose name is in `lfs` are served through the CDN redirect. */
  readonly files: ReadonlyMap<string, Buffer>;
  readonly lfs: ReadonlySet<string>;
}

export interface FakeHubFaults {
  /** Destroy the socket after this many body bytes of a CDN GET ... */
  cutAfterBytes?: number;
  /** ... for this many responses (then serve normally). */
  cutTimes?: number;
  /** Pause this long between chunks of a CDN body. */
  chunkDelayMs?: number;
  chunkBytes?: number;
  /** Flip bytes in every CDN body, so the sha256 cannot match. */
  corrupt?: boolean;
  /** Require Authorization: Bearer <token> on the hub (not the CDN). */
  requireToken?: string;
  /** Append this many bytes to every CDN body, beyond the X-Linked-Size the hub announced ... */
  extraBytes?: number;
  /** ... with a Content-Length that counts them ('announced') or none at all, chunked ('chunked'). */
  extraLength?: 'announced' | 'chunked';
  /** Send this as the hub's ETag and X-Linked-Etag for every file (e.g. a plain web server's "5f3c-1a2b"). */
  etag?: string;
}

export interface RecordedRequest {
  readonly server: 'hub' | 'cdn';
  readonly method: string;
  readonly path: string;
  readonly range: string | undefined;
  readonly authorization: string | undefined;
}

export interface FakeHub {
  readonly endpoint: string;
  readonly cdnOrigin: string;
  readonly requests: RecordedRequest[];
  /** Body bytes written by the CDN, across all responses (what went over the wire). */
  cdnBytesSent: number;
  faults: FakeHubFaults;
  close(): Promise<void>;
}

export function gitBlobSha1(data: Buffer): string {
  return createHash('sha1').update(`blob ${data.length}\0`).update(data).digest('hex');
}

export function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

export function randomCommit(): string {
  return randomBytes(20).toString('hex');
}

export async function startFakeHub(repos: readonly FakeRepo[], faults: FakeHubFaults = {}, lifetimeMs = 60_000): Promise<FakeHub> {
  const blobsBySha = new Map<string, Buffer>();
  for (const r of repos) for (const name of r.lfs) blobsBySha.set(sha256(r.files.get(name)!), r.files.get(name)!);

  const state = {
    requests: [] as RecordedRequest[],
    cdnBytesSent: 0,
    faults,
    cutsDone: 0,
  };
  const record = (server: 'hub' | 'cdn', req: http.IncomingMessage): void => {
    state.requests.push({
      server,
      method: req.method ?? '',
      path: req.url ?? '',
      range: req.headers.range,
      authorization: req.headers.authorization,
    });
  };

  const cdn = http.createServer((req, res) => {
    record('cdn', req);
    const m = /^\/lfs\/([0-9a-f]{64})$/.exec(req.url ?? '');
    const data = m ? blobsBySha.get(m[1]!) : undefined;
    if (!data) {
      res.writeHead(404).end();
      return;
    }
    let start = 0;
    const range = req.headers.range ? /^bytes=(\d+)-$/.exec(req.headers.range) : null;
    if (range) {
      start = Number(range[1]);
      if (start >= data.length) {
        res.writeHead(416, { 'content-range': `bytes */${data.length}` }).end();
        return;
      }
    }
    let body = data.subarray(start);
    if (state.faults.corrupt) {
      body = Buffer.from(body);
      for (let i = 0; i < body.length; i += 4096) body[i]! ^= 0xff;
    }
    if (state.faults.extraBytes) body = Buffer.concat([body, Buffer.alloc(state.faults.extraBytes, 0x55)]);
    const chunked = state.faults.extraBytes !== undefined && state.faults.extraLength === 'chunked';
    const headers: Record<string, string> = {
      ...(chunked ? {} : { 'content-length': String(body.length) }),
      'content-type': 'application/octet-stream',
      etag: `"${m![1]}"`,
      'accept-ranges': 'bytes',
    };
    if (range) headers['content-range'] = `bytes ${start}-${data.length - 1}/${data.length}`;
    res.writeHead(range ? 206 : 200, headers);
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    const cut =
      state.faults.cutAfterBytes !== undefined && state.cutsDone < (state.faults.cutTimes ?? 1) ? state.faults.cutAfterBytes : undefined;
    if (cut !== undefined) state.cutsDone++;
    const chunk = state.faults.chunkBytes ?? 64 * 1024;
    const delay = state.faults.chunkDelayMs ?? 0;
    let offset = 0;
    const pump = (): void => {
      while (offset < body.length) {
        if (res.destroyed) return;
        let end = Math.min(body.length, offset + chunk);
        if (cut !== undefined && end >= cut) {
          end = cut;
          const piece = body.subarray(offset, end);
          state.cdnBytesSent += piece.length;
          res.write(piece, () => res.socket?.destroy());
          return;
        }
        const piece = body.subarray(offset, end);
        state.cdnBytesSent += piece.length;
        offset = end;
        const more = res.write(piece);
        if (delay > 0) {
          setTimeout(pump, delay);
          return;
        }
        if (!more) {
          res.once('drain', pump);
          return;
        }
      }
      res.end();
    };
    pump();
  });

  const cdnOrigin = await listen(cdn);

  const hub = http.createServer((req, res) => {
    record('hub', req);
    const url = new URL(req.url ?? '/', 'http://x');
    const m = /^\/(.+)\/resolve\/([^/]+)\/(.+)$/.exec(url.pathname);
    if (!m || (req.method !== 'HEAD' && req.method !== 'GET')) {
      res.writeHead(404, { 'x-error-code': 'RepoNotFound' }).end();
      return;
    }
    if (state.faults.requireToken && req.headers.authorization !== `Bearer ${state.faults.requireToken}`) {
      res.writeHead(401, { 'x-error-code': 'GatedRepo' }).end();
      return;
    }
    const repoId = decodeURIComponent(m[1]!);
    const revision = decodeURIComponent(m[2]!);
    const file = m[3]!.split('/').map(decodeURIComponent).join('/');
    const repo = repos.find((r) => r.repoId === repoId);
    if (!repo) {
      res.writeHead(404, { 'x-error-code': 'RepoNotFound' }).end();
      return;
    }
    const refs: Record<string, string> = { main: repo.commit, ...repo.refs };
    const commit = /^[0-9a-f]{40}$/.test(revision) ? (Object.values(refs).includes(revision) ? revision : undefined) : refs[revision];
    if (!commit) {
      res.writeHead(404, { 'x-error-code': 'RevisionNotFound' }).end();
      return;
    }
    const data = repo.files.get(file);
    if (!data) {
      res.writeHead(404, { 'x-error-code': 'EntryNotFound', 'x-repo-commit': commit }).end();
      return;
    }
    if (repo.lfs.has(file)) {
      const sha = sha256(data);
      res
        .writeHead(302, {
          location: `${cdnOrigin}/lfs/${sha}`,
          'x-repo-commit': commit,
          'x-linked-etag': `"${state.faults.etag ?? sha}"`,
          'x-linked-size': String(data.length),
          etag: `"${gitBlobSha1(Buffer.from(`version https://git-lfs.github.com/spec/v1\noid sha256:${sha}\nsize ${data.length}\n`))}"`,
        })
        .end();
      return;
    }
    res.writeHead(200, {
      'content-length': String(data.length),
      'content-type': 'application/json',
      etag: `"${state.faults.etag ?? gitBlobSha1(data)}"`,
      'x-repo-commit': commit,
    });
    res.end(req.method === 'HEAD' ? undefined : data);
  });
  const endpoint = await listen(hub);

  let closed = false;
  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    clearTimeout(timer);
    for (const s of [hub, cdn]) s.closeAllConnections();
    await Promise.all([hub, cdn].map((s) => new Promise<void>((r) => s.close(() => r()))));
  };
  const timer = setTimeout(() => void close(), lifetimeMs);
  timer.unref();

  return {
    endpoint,
    cdnOrigin,
    get requests() {
      return state.requests;
    },
    get cdnBytesSent() {
      return state.cdnBytesSent;
    },
    set cdnBytesSent(n: number) {
      state.cdnBytesSent = n;
    },
    get faults() {
      return state.faults;
    },
    set faults(f: FakeHubFaults) {
      state.faults = f;
      state.cutsDone = 0;
    },
    close,
  };
}

function listen(server: http.Server): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      resolvePromise(`http://127.0.0.1:${port}`);
    });
  });
}

/**
 * Writes a cache the way Python's huggingface_hub leaves it: blobs named by hash, a snapshot
 * of relative symlinks, and refs/main.
 */
export async function writePythonStyleCache(cacheDir: string, repo: FakeRepo): Promise<string> {
  const dir = join(cacheDir, `models--${repo.repoId.split('/').join('--')}`);
  const snap = join(dir, 'snapshots', repo.commit);
  for (const [name, data] of repo.files) {
    const etag = repo.lfs.has(name) ? sha256(data) : gitBlobSha1(data);
    const blob = join(dir, 'blobs', etag);
    await mkdir(dirname(blob), { recursive: true });
    await writeFile(blob, data);
    const pointer = join(snap, name);
    await mkdir(dirname(pointer), { recursive: true });
    await symlink(relative(dirname(pointer), blob), pointer);
  }
  await mkdir(join(dir, 'refs'), { recursive: true });
  await writeFile(join(dir, 'refs', 'main'), repo.commit);
  return snap;
}

/** The project's generated tiny GPT-2, as a Hub repository (model.safetensors through LFS). */
export async function makeTinyRepo(repoId: string, workDir: string, commit: string = randomCommit()): Promise<FakeRepo> {
  const dir = join(workDir, 'tiny-source');
  // Tied lm_head keeps the file at about 22 MB: big enough to cut, slow down and resume.
  await generateTinyGpt2(dir, { tiedLmHead: true });
  const files = new Map<string, Buffer>();
  for (const name of ['config.json', 'model.safetensors']) files.set(name, await readFile(join(dir, name)));
  return { repoId, commit, files, lfs: new Set(['model.safetensors']) };
}
