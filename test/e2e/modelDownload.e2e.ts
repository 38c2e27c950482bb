/**
 * Model acquisition in a real VS Code (code-server): the first use of a model feature
 * downloads the model named by modelLens.model from a Hugging Face Hub on loopback
 * (test/support/fakeHub.ts, served slowly so the progress notification can be seen), then the
 * activation panel renders with it, and the files sit in HF_HUB_CACHE in the Hub's layout.
 * A second session with HF_HUB_OFFLINE=1 and an empty cache gets the plain "could not get the
 * model" warning, chooses the built-in demo model, and the panel says "random weights".
 * Screenshots: test-results/screenshots/model-download-*.png.
 */
import { strict as assert } from 'node:assert';
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, mkdtempSync, readFileSync, readdirSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { Page } from 'playwright-core';
import { gitBlobSha1, makeTinyRepo, sha256, startFakeHub, type FakeHub, type FakeRepo } from '../support/fakeHub';
import { SAMPLES, startVSCode, type E2ESuite, type VSCodeSession } from './harness';

const REPO_ID = 'test-org/tiny-gpt2';
const SENTENCE = 'The quick brown fox jumps over the lazy dog.';
// About 22 MB in 128 KiB chunks with 35 ms between them: roughly 6 to 8 s of download, long
// enough for the notification to show a speed, short enough for the suite.
const THROTTLE = { chunkBytes: 128 * 1024, chunkDelayMs: 35 };
// What acquire.ts shows: the notification title, and the warning when nothing can be had.
const PROGRESS_TITLE = `getting ${REPO_ID}`;
const USE_DEMO = 'Use Demo Model (random weights)';

let work = '';
let cache = '';
let repo: FakeRepo | undefined;
let hub: FakeHub | undefined;

/** Texts of the visible notification toasts. */
async function toastTexts(page: Page): Promise<string[]> {
  return page.locator('.notifications-toasts .notification-toast').allInnerTexts();
}

/** Polls the toasts until one matches, returning its text; throws with what was seen. */
async function waitForToast(page: Page, test: (text: string) => boolean, timeoutMs: number, what: string): Promise<string> {
  const seen = new Set<string>();
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    for (const t of await toastTexts(page)) {
      const text = t.replace(/\s+/g, ' ').trim();
      if (test(text)) return text;
      seen.add(text);
    }
    await page.waitForTimeout(50);
  }
  throw new Error(`no ${what} notification within ${timeoutMs} ms; toasts seen: ${JSON.stringify([...seen])}`);
}

/** Opens the activation panel on the sample sentence and waits for its token labels. */
async function openPanel(s: VSCodeSession): Promise<void> {
  await s.openFile('hello.txt');
  await s.selectText(SENTENCE);
  await s.runCommand('Model Lens: Open Activation Panel');
}

export const suite: E2ESuite = {
  name: 'model-download',
  async before() {
    work = mkdtempSync(join(tmpdir(), 'model-lens-dl-e2e-'));
    cache = join(work, 'hf-cache'); // does not exist yet: the download creates it
    repo = await makeTinyRepo(REPO_ID, work);
    // Lives well past the suite's timeouts; after() closes it.
    hub = await startFakeHub([repo], { ...THROTTLE }, 10 * 60_000);
    return {
      workspace: SAMPLES,
      settings: { 'modelLens.model': REPO_ID, 'git.openRepositoryInParentFolders': 'never' },
      // An empty value counts as unset for the hub settings (a developer's own HF_HUB_OFFLINE
      // or token must not leak into the session).
      env: { HF_ENDPOINT: hub.endpoint, HF_HUB_CACHE: cache, HF_HUB_OFFLINE: '', TRANSFORMERS_OFFLINE: '', HF_TOKEN: '' },
      viewport: { width: 1500, height: 1000 },
    };
  },
  async after() {
    await hub?.close();
    hub = undefined;
    if (work) rmSync(work, { recursive: true, force: true });
  },
  tests: [
    {
      name: 'first use downloads with a progress notification, then the panel renders',
      timeoutMs: 180_000,
      fn: async (s) => {
        assert.ok(hub && repo);
        assert.equal(existsSync(cache), false, 'the cache must start empty');
        await openPanel(s);

        // The notification with a measured speed for the weights, while bytes are still coming
        // (config.json comes first and can show its own line for a moment).
        const progress = await waitForToast(
          s.page,
          (t) => t.includes(PROGRESS_TITLE) && /model\.safetensors .*MB\/s/.test(t),
          60_000,
          'download progress',
        );
        const shot = await s.screenshot('model-download-progress');
        assert.match(progress, /model\.safetensors [\d.]+ (kB|MB) \/ [\d.]+ MB · [\d.]+ MB\/s · .* left/, progress);
        const weights = repo.files.get('model.safetensors')!;
        assert.ok(hub.cdnBytesSent < weights.length, `the screenshot (${shot}) was taken after the download had finished`);
        // Meanwhile the panel says what it is waiting for (not a blank page).
        const w = await s.webview('Activations');
        // (the progress line: label, moving bar, seconds, Cancel; webview/activation/progress.ts)
        await w.locator('[data-testid=busy-label]').filter({ hasText: 'Loading the model' }).waitFor({ timeout: 10_000 });
        assert.ok(hub.cdnBytesSent < weights.length, 'the download finished before the panel said it was loading');
        await s.screenshot('model-download-progress-panel');

        // The feature works with the downloaded model.
        await w.locator('[data-testid=mean-loss]').filter({ hasText: 'mean loss' }).waitFor({ timeout: 90_000 });
        const tokens = w.locator('[data-testid=tokens] .tok');
        assert.ok((await tokens.count()) > 5, 'the panel shows no token labels');
        assert.match((await tokens.nth(2).textContent()) ?? '', /quick/);
        const label = (await w.locator('[data-testid=model-label]').textContent()) ?? '';
        // The model is named by its repository, not by the snapshot folder's commit hash, and the served model is the generated tiny GPT-2: its random weights are labelled wherever numbers show.
        assert.match(label.trim(), new RegExp(`^demo model: random weights · .*${REPO_ID.replace('/', '\\/')}`));
        await s.screenshot('model-download-panel');
        // The progress notification goes away once the download is done.
        const end = Date.now() + 10_000;
        while ((await toastTexts(s.page)).some((t) => t.includes(PROGRESS_TITLE)) && Date.now() < end) await s.page.waitForTimeout(100);
        assert.ok(!(await toastTexts(s.page)).some((t) => t.includes(PROGRESS_TITLE)), 'the progress notification stayed');

        // The Hugging Face layout: refs/main -> commit, snapshot entries are links into blobs/
        // named by the LFS sha256 (weights) and the git blob sha1 (config).
        const repoDir = join(cache, 'models--test-org--tiny-gpt2');
        assert.equal(readFileSync(join(repoDir, 'refs', 'main'), 'utf8').trim(), repo.commit);
        const snap = join(repoDir, 'snapshots', repo.commit);
        for (const [file, etag] of [
          ['model.safetensors', sha256(weights)],
          ['config.json', gitBlobSha1(repo.files.get('config.json')!)],
        ] as const) {
          const entry = join(snap, file);
          assert.ok(lstatSync(entry).isSymbolicLink(), `${entry} is not a link`);
          const target = realpathSync(entry);
          assert.equal(target, realpathSync(join(repoDir, 'blobs', etag)), `${file} resolves to ${target}`);
          assert.equal(dirname(target), realpathSync(join(repoDir, 'blobs')));
        }
        assert.equal(
          createHash('sha256')
            .update(readFileSync(join(snap, 'model.safetensors')))
            .digest('hex'),
          sha256(weights),
        );
        assert.deepEqual(
          readdirSync(join(repoDir, 'blobs')).filter((f) => /incomplete|lock/.test(f)),
          [],
          'leftover partial files',
        );

        // What the server saw: metadata from the Hub for both files, the weights once from the
        // CDN origin in one piece (no retries, no ranges), and nothing else.
        const seen = hub.requests.map((r) => `${r.server} ${r.method} ${r.path}${r.range ? ` ${r.range}` : ''}`);
        const hubPaths = hub.requests.filter((r) => r.server === 'hub').map((r) => r.path);
        assert.ok(
          hubPaths.some((p) => p === `/${REPO_ID}/resolve/main/config.json`),
          seen.join('\n'),
        );
        assert.ok(
          hubPaths.some((p) => p.endsWith('/model.safetensors')),
          seen.join('\n'),
        );
        assert.ok(
          hubPaths.every((p) => p.startsWith(`/${REPO_ID}/resolve/`)),
          seen.join('\n'),
        );
        const cdnGets = hub.requests.filter((r) => r.server === 'cdn' && r.method === 'GET');
        assert.deepEqual(
          cdnGets.map((r) => [r.path, r.range]),
          [[`/lfs/${sha256(weights)}`, undefined]],
          seen.join('\n'),
        );
        assert.equal(hub.cdnBytesSent, weights.length);
      },
    },
    {
      name: 'offline with an empty cache: the plain message offers the demo model, which opens labelled',
      timeoutMs: 180_000,
      fn: async () => {
        const emptyCache = join(work, 'offline-cache');
        const before = hub?.requests.length ?? 0;
        const s = await startVSCode({
          workspace: SAMPLES,
          settings: { 'modelLens.model': REPO_ID, 'git.openRepositoryInParentFolders': 'never' },
          // HF_ENDPOINT still points at the live fake Hub: offline must mean no request at all.
          env: { HF_ENDPOINT: hub!.endpoint, HF_HUB_CACHE: emptyCache, HF_HUB_OFFLINE: '1', HF_TOKEN: '' },
          viewport: { width: 1500, height: 1000 },
        });
        try {
          await openPanel(s);
          const warning = await waitForToast(s.page, (t) => t.includes('could not get the model'), 60_000, '"could not get the model"');
          assert.match(warning, new RegExp(`could not get the model "${REPO_ID}"`));
          assert.match(warning, /HF_HUB_OFFLINE is set/);
          assert.match(warning, /built-in demo model/);
          assert.ok(!warning.includes(PROGRESS_TITLE));
          await s.screenshot('model-download-offline-offer');

          const button = s.page.locator('.notifications-toasts .notification-toast .monaco-button', { hasText: USE_DEMO });
          await button.click();
          const w = await s.webview('Activations');
          await w.locator('[data-testid=mean-loss]').filter({ hasText: 'mean loss' }).waitFor({ timeout: 120_000 });
          assert.ok((await w.locator('[data-testid=tokens] .tok').count()) > 5, 'the panel shows no token labels');
          assert.equal(((await w.locator('[data-testid=model-label]').textContent()) ?? '').trim(), 'demo model: random weights');
          await s.screenshot('model-download-offline-demo');
          assert.equal(hub?.requests.length ?? 0, before, 'an offline session made requests to the Hub');
          assert.equal(existsSync(join(emptyCache, 'models--test-org--tiny-gpt2')), false, 'the offline session wrote into the HF cache');
        } finally {
          await s.close();
        }
      },
    },
  ],
};
