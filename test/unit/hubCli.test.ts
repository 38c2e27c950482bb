// The command line's model resolution: `model-lens run --model ORG/NAME` through the same
// path as the extension, with a progress bar on stderr, against the loopback Hub.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { resolveModelForCli } from '../../src/engine/hub';
import { runCommand } from '../../src/cli/runCommand';
import { makeTinyRepo, startFakeHub, type FakeHub, type FakeRepo } from '../support/fakeHub';

const REPO_ID = 'test-org/tiny-gpt2';
let work: string;
let repo: FakeRepo;
let hub: FakeHub;

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'hub-cli-'));
  repo = await makeTinyRepo(REPO_ID, work);
  hub = await startFakeHub([repo], {}, 60_000);
});
after(async () => {
  await hub.close();
  await rm(work, { recursive: true, force: true });
});

describe('CLI model resolution', () => {
  it('prints progress lines on stderr while downloading, nothing once cached', { timeout: 30_000 }, async () => {
    const cache = await mkdtemp(join(work, 'cache-'));
    const env = { HF_HUB_CACHE: cache, HF_ENDPOINT: hub.endpoint };
    let err = '';
    const model = await resolveModelForCli(REPO_ID, { env, writeStderr: (t) => (err += t), isTTY: false });
    assert.equal(model.source, 'download');
    const lines = err.trim().split('\n');
    assert.ok(
      lines.some((l) => /\[#{24}\] 100% model\.safetensors (\S+ \S?B) \/ \1/.test(l)),
      err,
    );

    err = '';
    const again = await resolveModelForCli(REPO_ID, { env, writeStderr: (t) => (err += t), isTTY: false });
    assert.equal(again.source, 'cache');
    // No progress once cached; only the notice that the served tiny GPT-2 has random weights.
    assert.doesNotMatch(err, /%/);
    assert.match(err, /^model-lens: .* holds the generated demo GPT-2 \(random weights, not GPT-2\)\n$/);
  });

  it('treats an existing relative folder as a folder, not a Hub id', async () => {
    const rel = relative(process.cwd(), join(work, 'tiny-source'));
    const model = await resolveModelForCli(rel, { writeStderr: () => undefined });
    assert.equal(model.source, 'local');
    assert.equal(model.folder, join(work, 'tiny-source'));
  });

  it('runs `model-lens run --model ORG/NAME` end to end', { timeout: 60_000 }, async () => {
    const cache = await mkdtemp(join(work, 'cache-'));
    const saved = { cache: process.env.HF_HUB_CACHE, endpoint: process.env.HF_ENDPOINT };
    process.env.HF_HUB_CACHE = cache;
    process.env.HF_ENDPOINT = hub.endpoint;
    let out = '';
    let err = '';
    try {
      const code = await runCommand.run(['--model', REPO_ID, '--tokens', '50256,464,3290', '--top-k', '3'], {
        stdout: (t) => (out += t),
        stderr: (t) => (err += t),
      });
      assert.equal(code, 0, err);
    } finally {
      restore('HF_HUB_CACHE', saved.cache);
      restore('HF_ENDPOINT', saved.endpoint);
    }
    assert.match(out, /top 3 next tokens/);
    assert.match(err, /model\.safetensors/);
  });
});

function restore(name: string, value: string | undefined): void {
  if (value === undefined) delete process.env[name];
  else process.env[name] = value;
}
