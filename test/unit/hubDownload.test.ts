// The download path against a loopback Hub (test/support/fakeHub.ts): real sockets, the
// Hub's redirect to a CDN origin, ranges, faults. Each test gets its own cache folder.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { mkdtemp, readdir, readFile, readlink, rm, stat, utimes, writeFile, mkdir } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { downloadFile, resolveModel, isHubError, type DownloadProgress, HubError } from '../../src/engine/hub';
import { gitBlobSha1, makeTinyRepo, sha256, startFakeHub, type FakeHub, type FakeRepo } from '../support/fakeHub';

const REPO_ID = 'test-org/tiny-gpt2';
const T = { timeout: 30_000 };

let work: string;
let repo: FakeRepo;
let weights: Buffer; // the LFS file's bytes

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'hub-dl-'));
  repo = await makeTinyRepo(REPO_ID, work);
  weights = repo.files.get('model.safetensors')!;
});
after(async () => {
  await rm(work, { recursive: true, force: true });
});

async function freshCache(): Promise<string> {
  return mkdtemp(join(work, 'cache-'));
}

function envFor(hub: FakeHub, cache: string, extra: Record<string, string> = {}): Record<string, string> {
  return { HF_HUB_CACHE: cache, HF_ENDPOINT: hub.endpoint, ...extra };
}

async function withHub(faults: Parameters<typeof startFakeHub>[1], fn: (hub: FakeHub) => Promise<void>): Promise<void> {
  const hub = await startFakeHub([repo], faults, 25_000);
  try {
    await fn(hub);
  } finally {
    await hub.close();
  }
}

const repoDir = (cache: string): string => join(cache, 'models--test-org--tiny-gpt2');
const cdnGets = (hub: FakeHub) => hub.requests.filter((r) => r.server === 'cdn' && r.method === 'GET');

async function listBlobs(cache: string): Promise<string[]> {
  try {
    return (await readdir(join(repoDir(cache), 'blobs'))).sort();
  } catch {
    return [];
  }
}

describe('hub download', () => {
  it('lands a full download in the Hugging Face cache layout, with progress', T, async () => {
    await withHub({}, async (hub) => {
      const cache = await freshCache();
      const events: DownloadProgress[] = [];
      const model = await resolveModel(REPO_ID, { env: envFor(hub, cache), onProgress: (p) => events.push(p) });

      assert.equal(model.source, 'download');
      assert.equal(model.isDemo, true, 'the served tiny GPT-2 has the demo marker (random weights)');
      assert.equal(model.commit, repo.commit);
      assert.equal(model.folder, join(repoDir(cache), 'snapshots', repo.commit));
      assert.equal((await readFile(join(repoDir(cache), 'refs', 'main'), 'utf8')).trim(), repo.commit);
      // Snapshot entries are relative symlinks into blobs/, named by the LFS sha256 for weights.
      const link = await readlink(join(model.folder, 'model.safetensors'));
      assert.equal(link, join('..', '..', 'blobs', sha256(weights)));
      assert.ok((await readFile(join(model.folder, 'model.safetensors'))).equals(weights));
      assert.ok((await readFile(join(model.folder, 'config.json'))).equals(repo.files.get('config.json')!));
      assert.ok(!(await listBlobs(cache)).some((b) => b.endsWith('.incomplete')));

      const w = events.filter((e) => e.file === 'model.safetensors');
      assert.ok(w.length >= 2, `expected several progress events, got ${w.length}`);
      assert.equal(w[w.length - 1]!.bytes, weights.length);
      assert.equal(w[w.length - 1]!.total, weights.length);
      for (let i = 1; i < w.length; i++) assert.ok(w[i]!.bytes >= w[i - 1]!.bytes, 'progress never goes back');
      // The weights went through the CDN origin, once, without a Range.
      assert.equal(cdnGets(hub).length, 1);
      assert.equal(cdnGets(hub)[0]!.range, undefined);
    });
  });

  it('resumes with Range after the connection is cut halfway', T, async () => {
    const cut = Math.floor(weights.length / 2);
    await withHub({ cutAfterBytes: cut, cutTimes: 1 }, async (hub) => {
      const cache = await freshCache();
      const file = await downloadFile(REPO_ID, 'model.safetensors', { env: envFor(hub, cache), retryDelayMs: 10 });
      assert.ok((await readFile(file.path)).equals(weights));
      const gets = cdnGets(hub);
      assert.equal(gets.length, 2, 'one cut request, one resumed request');
      assert.equal(gets[0]!.range, undefined);
      const m = /^bytes=(\d+)-$/.exec(gets[1]!.range ?? '');
      assert.ok(m, `second request should carry a Range header, got ${gets[1]!.range}`);
      const resumedAt = Number(m[1]);
      assert.ok(resumedAt > 0 && resumedAt <= cut, `resumed at ${resumedAt}, cut at ${cut}`);
      // Nothing fetched twice beyond what was in flight when the socket died.
      assert.ok(
        hub.cdnBytesSent >= weights.length && hub.cdnBytesSent <= weights.length * 1.05,
        `sent ${hub.cdnBytesSent} for ${weights.length}`,
      );
      // Bytes received but not yet written when the socket died are fetched again.
      assert.ok(file.transferredBytes >= weights.length && file.transferredBytes <= hub.cdnBytesSent);
    });
  });

  it('keeps the partial file when retries run out, and the next call resumes it', T, async () => {
    const cut = Math.floor(weights.length / 3);
    await withHub({ cutAfterBytes: cut, cutTimes: 1 }, async (hub) => {
      const cache = await freshCache();
      const env = envFor(hub, cache);
      await assert.rejects(downloadFile(REPO_ID, 'model.safetensors', { env, retries: 0 }), (err: unknown) => {
        assert.ok(isHubError(err, 'network'), String(err));
        return true;
      });
      const partial = join(repoDir(cache), 'blobs', `${sha256(weights)}.incomplete`);
      const kept = (await stat(partial)).size;
      assert.ok(kept > 0 && kept <= cut, `partial of ${kept} bytes`);
      assert.deepEqual(await listBlobs(cache), [`${sha256(weights)}.incomplete`]);

      const file = await downloadFile(REPO_ID, 'model.safetensors', { env });
      assert.ok((await readFile(file.path)).equals(weights));
      assert.equal(cdnGets(hub).at(-1)!.range, `bytes=${kept}-`);
      assert.equal(file.transferredBytes, weights.length - kept);
    });
  });

  it('discards wrong bytes with a clear error and leaves the cache untouched', T, async () => {
    await withHub({ corrupt: true }, async (hub) => {
      const cache = await freshCache();
      await assert.rejects(downloadFile(REPO_ID, 'model.safetensors', { env: envFor(hub, cache) }), (err: unknown) => {
        assert.ok(isHubError(err, 'hash-mismatch'), String(err));
        assert.match((err as Error).message, /sha256/);
        assert.match((err as Error).message, /discarded/);
        return true;
      });
      assert.deepEqual(await listBlobs(cache), [], 'no blob and no partial file');
      await assert.rejects(stat(join(repoDir(cache), 'snapshots', repo.commit, 'model.safetensors')));
    });
  });

  it('reports 404 for an unknown model and an unknown file', T, async () => {
    await withHub({}, async (hub) => {
      const cache = await freshCache();
      await assert.rejects(resolveModel('test-org/no-such-model', { env: envFor(hub, cache) }), (err: unknown) => {
        assert.ok(isHubError(err, 'not-found'), String(err));
        assert.match((err as Error).message, /test-org\/no-such-model/);
        assert.match((err as Error).message, /404/);
        return true;
      });
      await assert.rejects(downloadFile(REPO_ID, 'pytorch_model.bin', { env: envFor(hub, cache) }), (err: unknown) => {
        assert.ok(isHubError(err, 'not-found'));
        assert.match((err as Error).message, /no file pytorch_model\.bin/);
        return true;
      });
      await assert.rejects(resolveModel(REPO_ID, { env: envFor(hub, cache), revision: 'v9' }), /revision "v9" does not exist/);
    });
  });

  it('cancels a slow download with an AbortSignal, keeps the partial file, then resumes', T, async () => {
    await withHub({ chunkDelayMs: 20, chunkBytes: 64 * 1024 }, async (hub) => {
      const cache = await freshCache();
      const env = envFor(hub, cache);
      const controller = new AbortController();
      const started = Date.now();
      await assert.rejects(
        downloadFile(REPO_ID, 'model.safetensors', {
          env,
          signal: controller.signal,
          onProgress: (p) => {
            if (p.bytes >= 256 * 1024) controller.abort();
          },
        }),
        (err: unknown) => {
          assert.ok(isHubError(err, 'cancelled'), String(err));
          assert.equal((err as Error).name, 'AbortError');
          return true;
        },
      );
      assert.ok(Date.now() - started < 5_000, 'cancel is prompt');
      const partial = join(repoDir(cache), 'blobs', `${sha256(weights)}.incomplete`);
      const kept = (await stat(partial)).size;
      assert.ok(kept > 0 && kept < weights.length, `partial of ${kept} bytes`);
      assert.deepEqual(await listBlobs(cache), [`${sha256(weights)}.incomplete`]);

      hub.faults = {};
      const file = await downloadFile(REPO_ID, 'model.safetensors', { env });
      assert.ok((await readFile(file.path)).equals(weights));
      assert.equal(cdnGets(hub).at(-1)!.range, `bytes=${kept}-`);
    });
  });

  it('does one transfer for two concurrent downloads of the same model', T, async () => {
    await withHub({ chunkDelayMs: 2, chunkBytes: 256 * 1024 }, async (hub) => {
      const cache = await freshCache();
      const env = envFor(hub, cache);
      const seen = [0, 0];
      const [a, b] = await Promise.all([
        resolveModel(REPO_ID, { env, onProgress: () => seen[0]!++ }),
        resolveModel(REPO_ID, { env, onProgress: () => seen[1]!++ }),
      ]);
      assert.equal(a.folder, b.folder);
      assert.equal(cdnGets(hub).length, 1, 'one transfer of the weights');
      assert.ok(seen[0]! > 0 && seen[1]! > 0, 'both callers see progress');
      assert.ok((await readFile(join(a.folder, 'model.safetensors'))).equals(weights));
      assert.deepEqual(await listBlobs(cache), [repoBlobSha1Config(), sha256(weights)].sort());
    });
  });

  it('waits for another process holding the lock, then uses its result', T, async () => {
    await withHub({}, async (hub) => {
      const cache = await freshCache();
      const env = envFor(hub, cache);
      // A lock held by a live process (our parent) with a fresh heartbeat.
      const lock = join(cache, '.locks', 'models--test-org--tiny-gpt2', `${sha256(weights)}.modellens.lock`);
      await mkdir(join(lock, '..'), { recursive: true });
      await writeFile(lock, JSON.stringify({ pid: process.ppid, host: hostname() }));
      const pending = downloadFile(REPO_ID, 'model.safetensors', { env, lockStaleMs: 10_000 });
      await new Promise((r) => setTimeout(r, 600));
      assert.equal(cdnGets(hub).length, 0, 'no transfer while another process holds the lock');
      // The "other process" finishes: the blob appears and the lock goes away.
      await mkdir(join(repoDir(cache), 'blobs'), { recursive: true });
      await writeFile(join(repoDir(cache), 'blobs', sha256(weights)), weights);
      await rm(lock);
      const file = await pending;
      assert.equal(cdnGets(hub).length, 0, "the other process's blob is used");
      assert.equal(file.transferredBytes, 0);
      assert.ok((await readFile(file.path)).equals(weights));
    });
  });

  it('takes over a stale lock left by a crashed process', T, async () => {
    await withHub({}, async (hub) => {
      const cache = await freshCache();
      const lock = join(cache, '.locks', 'models--test-org--tiny-gpt2', `${sha256(weights)}.modellens.lock`);
      await mkdir(join(lock, '..'), { recursive: true });
      await writeFile(lock, JSON.stringify({ pid: 1, host: 'another-host' }));
      const old = new Date(Date.now() - 120_000);
      await utimes(lock, old, old);
      const file = await downloadFile(REPO_ID, 'model.safetensors', { env: envFor(hub, cache), lockStaleMs: 1_000 });
      assert.ok((await readFile(file.path)).equals(weights));
      await assert.rejects(stat(lock), 'lock released');
    });
  });

  it('sends HF_TOKEN to the Hub only, and explains a 401', T, async () => {
    await withHub({ requireToken: 'hf_secret' }, async (hub) => {
      const cache = await freshCache();
      await assert.rejects(resolveModel(REPO_ID, { env: envFor(hub, cache) }), (err: unknown) => {
        assert.ok(isHubError(err, 'unauthorized'), String(err));
        assert.match((err as Error).message, /HF_TOKEN/);
        assert.match((err as Error).message, /gated or private/);
        return true;
      });
      const model = await resolveModel(REPO_ID, { env: envFor(hub, cache, { HF_TOKEN: 'hf_secret' }) });
      assert.equal(model.source, 'download');
      const hubAuth = hub.requests.filter((r) => r.server === 'hub').map((r) => r.authorization);
      assert.ok(hubAuth.includes('Bearer hf_secret'));
      assert.ok(
        cdnGets(hub).every((r) => r.authorization === undefined),
        'the CDN never sees the token',
      );
    });
  });

  it('says the Hub is unreachable when the connection is refused', T, async () => {
    const hub = await startFakeHub([repo]);
    const endpoint = hub.endpoint;
    await hub.close(); // nothing listens there any more
    const cache = await freshCache();
    await assert.rejects(resolveModel(REPO_ID, { env: { HF_HUB_CACHE: cache, HF_ENDPOINT: endpoint } }), (err: unknown) => {
      assert.ok(err instanceof HubError && err.code === 'network', String(err));
      assert.match(err.message, /refused/);
      return true;
    });
  });
});

function repoBlobSha1Config(): string {
  return gitBlobSha1(repo.files.get('config.json')!);
}

describe('hub download against a hostile server or caller', () => {
  it('refuses an ETag that is not a hash before downloading anything', T, async () => {
    await withHub({ etag: '5f3c-1a2b3c' }, async (hub) => {
      const cache = await freshCache();
      for (const file of ['model.safetensors', 'config.json']) {
        await assert.rejects(downloadFile(REPO_ID, file, { env: envFor(hub, cache) }), (err: unknown) => {
          assert.ok(isHubError(err, 'bad-response'), String(err));
          assert.match(
            (err as Error).message,
            /ETag "5f3c-1a2b3c" .* neither a sha256 .* nor a git sha1 .* could not be verified; it was refused/,
          );
          return true;
        });
      }
      assert.equal(cdnGets(hub).length, 0, 'no byte was fetched');
      assert.deepEqual(await listBlobs(cache), []);
    });
  });

  for (const extraLength of ['chunked', 'announced'] as const) {
    it(`stops a body that runs past the announced size (${extraLength}) and keeps nothing`, T, async () => {
      // 64 MB beyond the ~22 MB file: written whole before the size check came, now cut at the first byte past it.
      const extra = 64 << 20;
      await withHub({ extraBytes: extra, extraLength }, async (hub) => {
        const cache = await freshCache();
        await assert.rejects(downloadFile(REPO_ID, 'model.safetensors', { env: envFor(hub, cache), retries: 0 }), (err: unknown) => {
          assert.ok(isHubError(err, 'bad-response'), String(err));
          assert.match(
            (err as Error).message,
            extraLength === 'chunked' ? /sent more than the \d+ bytes still missing/ : /announces \d+ bytes for the \d+ still missing/,
          );
          return true;
        });
        assert.deepEqual(await listBlobs(cache), [], 'no blob and no partial file');
        // Socket buffers let some bytes past before the stop; nowhere near the 64 MB.
        assert.ok(hub.cdnBytesSent < weights.length + (16 << 20), `the server got to send ${hub.cdnBytesSent} bytes`);
      });
    });
  }

  it('refuses repository ids, revisions and file names that would leave the cache, before any request', T, async () => {
    await withHub({}, async (hub) => {
      const cache = await freshCache();
      const env = envFor(hub, cache);
      const bad: [string, string, string | undefined][] = [
        [REPO_ID, '../../../escape.txt', undefined],
        [REPO_ID, 'a/../../b', undefined],
        [REPO_ID, '/etc/passwd', undefined],
        [REPO_ID, 'dir\\..\\..\\x', undefined],
        [REPO_ID, 'C:evil', undefined],
        [REPO_ID, 'a//b', undefined],
        [REPO_ID, '', undefined],
        ['../escape', 'config.json', undefined],
        ['org/../../x', 'config.json', undefined],
        ['a/b/c', 'config.json', undefined],
        ['org--x/name', 'config.json', undefined],
        [REPO_ID, 'config.json', '../../escape'],
      ];
      for (const [repoId, file, revision] of bad) {
        await assert.rejects(downloadFile(repoId, file, { env, ...(revision ? { revision } : {}) }), (err: unknown) => {
          assert.ok(isHubError(err, 'bad-spec'), `${repoId} ${file} ${revision}: ${String(err)}`);
          return true;
        });
      }
      assert.equal(hub.requests.length, 0, 'no request was made');
      assert.deepEqual(await readdir(cache), []);
      // A nested file name that stays inside is fine.
      await assert.rejects(downloadFile(REPO_ID, 'sub/dir/file.bin', { env }), (err: unknown) => isHubError(err, 'not-found'));
    });
  });
});
