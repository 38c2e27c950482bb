// Finding models without downloading: cache location from the environment, model specs,
// a cache written the way Python leaves it, offline mode, the demo fallback, the picker's rows.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { mkdtemp, readFile, rm, mkdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  canonicalRepoId,
  hubCacheDir,
  hubSettings,
  isHubError,
  listCachedModels,
  modelChoices,
  parseModelSpec,
  resolveModel,
  describeProgress,
  KNOWN_MODELS,
} from '../../src/engine/hub';
import { filesystemError } from '../../src/engine/hub/errors';
import { ProgressMeter } from '../../src/engine/hub/progress';
import { makeTinyRepo, randomCommit, startFakeHub, writePythonStyleCache, type FakeRepo } from '../support/fakeHub';

const T = { timeout: 30_000 };
let work: string;
let repo: FakeRepo;

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'hub-cache-'));
  repo = await makeTinyRepo('openai-community/gpt2', work);
});
after(async () => {
  await rm(work, { recursive: true, force: true });
});

describe('hub settings', () => {
  it('finds the cache like huggingface_hub: HF_HUB_CACHE, then HF_HOME/hub, then ~/.cache', () => {
    assert.equal(hubCacheDir({ HF_HUB_CACHE: '/a/hub', HF_HOME: '/b', HOME: '/h' }), '/a/hub');
    assert.equal(hubCacheDir({ HF_HOME: '/b', HOME: '/h' }), '/b/hub');
    assert.equal(hubCacheDir({ HOME: '/h' }), '/h/.cache/huggingface/hub');
    assert.equal(hubCacheDir({ HF_HOME: '~/hf', HOME: '/h' }), '/h/hf/hub');
  });

  it('reads offline mode, endpoint and token', () => {
    const s = hubSettings({ env: { HF_HUB_OFFLINE: '1', HF_ENDPOINT: 'http://mirror.test/', HF_TOKEN: 'tok', HOME: '/h' } });
    assert.equal(s.offline, true);
    assert.equal(s.endpoint, 'http://mirror.test');
    assert.equal(s.token, 'tok');
    assert.equal(hubSettings({ env: { HF_HUB_OFFLINE: '0', HOME: '/h' } }).offline, false);
    assert.match(hubSettings({ env: { HOME: '/h' } }).endpoint, /^https:\/\//);
  });
});

describe('model specs', () => {
  it('maps short names to their repositories and keeps other ids', () => {
    assert.equal(canonicalRepoId('gpt2'), 'openai-community/gpt2');
    assert.equal(canonicalRepoId('gpt2-small'), 'openai-community/gpt2');
    assert.equal(canonicalRepoId('GPT2-XL'), 'openai-community/gpt2-xl');
    assert.equal(canonicalRepoId('distilgpt2'), 'distilbert/distilgpt2');
    assert.equal(canonicalRepoId('someone/my-gpt2'), 'someone/my-gpt2');
    assert.equal(canonicalRepoId('a/b/c'), undefined);
    assert.equal(canonicalRepoId('bad name'), undefined);
  });

  it('tells folders from Hub ids', () => {
    assert.deepEqual(parseModelSpec(undefined), { kind: 'hub', repoId: 'openai-community/gpt2' });
    assert.deepEqual(parseModelSpec('gpt2-medium'), { kind: 'hub', repoId: 'openai-community/gpt2-medium' });
    assert.deepEqual(parseModelSpec('./models/x', '/w'), { kind: 'folder', path: '/w/models/x' });
    assert.deepEqual(parseModelSpec('/abs/x', '/w'), { kind: 'folder', path: '/abs/x' });
    assert.deepEqual(parseModelSpec('~/m', '/w', { HOME: '/h' }), { kind: 'folder', path: '/h/m' });
    assert.deepEqual(parseModelSpec('demo'), { kind: 'demo' });
    assert.throws(
      () => parseModelSpec('not a model'),
      (e: unknown) => isHubError(e, 'bad-spec'),
    );
  });

  it('uses a local folder as is and names what is missing', async () => {
    const model = await resolveModel(join(work, 'tiny-source'));
    // The generated tiny GPT-2 carries the demo marker: random weights, labelled as such.
    assert.deepEqual(model, { folder: join(work, 'tiny-source'), source: 'local', isDemo: true });
    const empty = join(work, 'empty-model');
    await mkdir(empty, { recursive: true });
    await writeFile(join(empty, 'config.json'), '{}');
    await assert.rejects(resolveModel(empty), /has no model\.safetensors/);
    await assert.rejects(resolveModel(join(work, 'nowhere')), /does not exist/);
  });

  it('rejects a revision that would leave refs/', async () => {
    await assert.rejects(resolveModel('gpt2', { revision: '../../etc', env: { HF_HUB_CACHE: work } }), /Invalid revision/);
  });
});

describe('hub cache', () => {
  it('uses a Python-style cache (symlinked snapshot) without any request', T, async () => {
    const cache = await mkdtemp(join(work, 'py-'));
    const snap = await writePythonStyleCache(cache, repo);
    const hub = await startFakeHub([repo], {}, 20_000);
    try {
      const model = await resolveModel('gpt2', { env: { HF_HUB_CACHE: cache, HF_ENDPOINT: hub.endpoint } });
      assert.equal(model.source, 'cache');
      assert.equal(model.folder, snap);
      assert.equal(model.commit, repo.commit);
      assert.equal(hub.requests.length, 0, 'zero requests to the Hub');
      // A pinned commit resolves straight to its snapshot, also without a request.
      const pinned = await resolveModel('openai-community/gpt2', {
        revision: repo.commit,
        env: { HF_HUB_CACHE: cache, HF_ENDPOINT: hub.endpoint },
      });
      assert.equal(pinned.folder, snap);
      assert.equal(hub.requests.length, 0);
    } finally {
      await hub.close();
    }
  });

  it('downloads a pinned revision that is not cached and records the branch it came from', T, async () => {
    const cache = await mkdtemp(join(work, 'pin-'));
    const old = randomCommit();
    const pinnedRepo: FakeRepo = { ...repo, refs: { v1: old }, commit: repo.commit };
    // The fake serves one set of files for every revision; what matters is the commit mapping.
    const hub = await startFakeHub([pinnedRepo], {}, 20_000);
    try {
      const model = await resolveModel('gpt2', { revision: 'v1', env: { HF_HUB_CACHE: cache, HF_ENDPOINT: hub.endpoint } });
      assert.equal(model.commit, old);
      assert.equal(model.revision, 'v1');
      assert.equal((await readFile(join(cache, 'models--openai-community--gpt2', 'refs', 'v1'), 'utf8')).trim(), old);
      assert.ok(model.folder.endsWith(old));
    } finally {
      await hub.close();
    }
  });

  it('offline with nothing cached: a clear error, or the demo model when allowed, and no request', T, async () => {
    const cache = await mkdtemp(join(work, 'off-'));
    const hub = await startFakeHub([repo], {}, 20_000);
    try {
      const env = { HF_HUB_CACHE: cache, HF_ENDPOINT: hub.endpoint, HF_HUB_OFFLINE: '1' };
      await assert.rejects(resolveModel('gpt2', { env }), (err: unknown) => {
        assert.ok(isHubError(err, 'offline'), String(err));
        assert.match((err as Error).message, /HF_HUB_OFFLINE/);
        assert.match((err as Error).message, /openai-community\/gpt2/);
        return true;
      });
      const demo = await resolveModel('gpt2', { env, allowDemo: true, demoCacheDir: join(work, 'demo') });
      assert.equal(demo.source, 'demo');
      assert.equal(demo.isDemo, true);
      assert.match(demo.fallbackReason ?? '', /HF_HUB_OFFLINE/);
      const config = JSON.parse(await readFile(join(demo.folder, 'config.json'), 'utf8')) as Record<string, unknown>;
      assert.equal(config.model_lens_demo, true);
      assert.equal(hub.requests.length, 0, 'offline never touches the network');
    } finally {
      await hub.close();
    }
  });

  it('falls back to the demo model when the Hub cannot be reached, but not for a 404', T, async () => {
    const hub = await startFakeHub([repo], {}, 20_000);
    const endpoint = hub.endpoint;
    await hub.close();
    const cache = await mkdtemp(join(work, 'net-'));
    const demo = await resolveModel('gpt2', {
      env: { HF_HUB_CACHE: cache, HF_ENDPOINT: endpoint },
      allowDemo: true,
      demoCacheDir: join(work, 'demo'),
    });
    assert.equal(demo.source, 'demo');
    assert.match(demo.fallbackReason ?? '', /refused/);

    const live = await startFakeHub([repo], {}, 20_000);
    try {
      await assert.rejects(
        resolveModel('someone/missing', {
          env: { HF_HUB_CACHE: cache, HF_ENDPOINT: live.endpoint },
          allowDemo: true,
          demoCacheDir: join(work, 'demo'),
        }),
        (err: unknown) => isHubError(err, 'not-found'),
      );
    } finally {
      await live.close();
    }
  });

  it('lists cached models and prices the rest for the picker', T, async () => {
    const cache = await mkdtemp(join(work, 'list-'));
    await writePythonStyleCache(cache, { ...repo, repoId: 'someone/custom-gpt2' });
    // A half-fetched snapshot (config only) is listed as incomplete.
    await writePythonStyleCache(cache, {
      ...repo,
      repoId: 'distilbert/distilgpt2',
      files: new Map([['config.json', repo.files.get('config.json')!]]),
    });
    const listed = await listCachedModels({ env: { HF_HUB_CACHE: cache } });
    assert.deepEqual(
      listed.map((m) => [m.repoId, m.complete, m.refs]),
      [
        ['someone/custom-gpt2', true, ['main']],
        ['distilbert/distilgpt2', false, ['main']],
      ],
    );
    const size = [...repo.files.values()].reduce((n, b) => n + b.length, 0);
    assert.equal(listed[0]!.sizeBytes, size);

    const hub = await startFakeHub([repo], {}, 20_000);
    try {
      const choices = await modelChoices({ env: { HF_HUB_CACHE: cache, HF_ENDPOINT: hub.endpoint }, timeoutMs: 2_000 });
      const byId = new Map(choices.map((c) => [c.repoId, c]));
      // Served by the fake Hub: the exact size from HEAD requests.
      assert.deepEqual(byId.get('openai-community/gpt2')!.downloadSize, { bytes: size, exact: true });
      // Not served (404): the approximate table.
      const medium = KNOWN_MODELS.find((m) => m.shortName === 'gpt2-medium')!;
      assert.deepEqual(byId.get(medium.repoId)!.downloadSize, { bytes: medium.approxBytes, exact: false });
      assert.ok(byId.get('someone/custom-gpt2')!.cached, 'other cached models are offered too');
      assert.equal(byId.get('distilbert/distilgpt2')!.cached, undefined, 'an incomplete snapshot is not offered as cached');
    } finally {
      await hub.close();
    }
  });
});

describe('hub errors and progress', () => {
  it('turns ENOSPC into a disk-full error that says what to do', () => {
    const err = filesystemError('write model.safetensors', '/cache/x', Object.assign(new Error('no space'), { code: 'ENOSPC' }));
    assert.equal(err.code, 'disk-full');
    assert.match(err.message, /Not enough disk space/);
    assert.match(err.message, /HF_HUB_CACHE/);
  });

  it('measures speed and time left', () => {
    let now = 0;
    const events: string[] = [];
    const meter = new ProgressMeter(
      'r',
      'model.safetensors',
      100e6,
      0,
      (p) => events.push(describeProgress(p)),
      () => now,
    );
    for (let i = 0; i < 10; i++) {
      now += 1000;
      meter.add(5e6); // 5 MB each second
    }
    const p = meter.snapshot();
    assert.equal(p.bytes, 50e6);
    assert.ok(Math.abs(p.bytesPerSecond - 5e6) < 1, `speed ${p.bytesPerSecond}`);
    assert.ok(Math.abs((p.etaSeconds ?? 0) - 10) < 0.01, `eta ${p.etaSeconds}`);
    assert.equal(events.at(-1), 'model.safetensors 50.0 MB / 100.0 MB · 5.0 MB/s · 10 s left');
  });
});
