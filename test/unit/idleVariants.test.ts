// A session variant that returns hook points (runWithCache) is released right after a one-off call,
// and once unused for releaseIdleVariantsAfterMs when calls on it come as a loop's: its onnxruntime
// arena keeps every activation of its largest run, and onnxruntime-node cannot shrink an arena. Real sessions on generated models; session counts
// from HookedGPT2.openSessions, resident memory from /proc (a generous bound, no timing asserted).
import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { HookedGPT2 } from '../../src/engine/model';
import { generateTinyGpt2 } from '../../src/engine/tinyGpt2';
import { MiB, rssBytes, settledRss } from './helpers/residentMemory';

const TOKENS = [50256, 464, 2068, 7586, 21831, 18045, 625, 11, 290, 262, 3290, 13];
const IDLE_MS = 150;

describe('variants that return hook points are released when idle', { timeout: 300_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'model-lens-idle-'));
  before(async () => {
    await generateTinyGpt2(join(dir, 'tiny'), { preset: 'tiny' });
    await generateTinyGpt2(join(dir, 'wide'), { n_layer: 4, n_embd: 384, n_head: 6, tiedLmHead: true });
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('released at once after a one-off call; in a loop kept until idle; never the logits-only sessions', async () => {
    const model = await HookedGPT2.fromPretrained(join(dir, 'tiny'), { threads: 1, releaseIdleVariantsAfterMs: IDLE_MS });
    try {
      await model.run(TOKENS);
      await model.run(TOKENS, { logitsAt: 'last' });
      const logitsOnly = model.openSessions;
      assert.equal(logitsOnly, 2, 'the main session and the last-position variant');
      const first = await model.runWithCache(TOKENS);
      assert.equal(model.openSessions, logitsOnly, 'a one-off call: its variant goes as it returns');
      // A loop of calls, each sooner than the idle time: the first of them builds the variant again,
      // and that session serves the rest.
      for (let i = 0; i < 4; i++) {
        await sleep(IDLE_MS / 3);
        const again = await model.runWithCache(TOKENS);
        assert.equal(model.openSessions, logitsOnly + 1, `call ${i}: the variant was released between calls`);
        assert.deepEqual(again.cache.get('blocks.0.hook_resid_pre').data, first.cache.get('blocks.0.hook_resid_pre').data);
      }
      await sleep(IDLE_MS * 3);
      assert.equal(model.openSessions, logitsOnly, 'the every-hook variant is released once idle; the logits-only ones stay');
      // Built again on the next call, with the same answers; a one-off again, so released at once.
      const rebuilt = await model.runWithCache(TOKENS);
      assert.deepEqual(rebuilt.logits.data, first.logits.data);
      assert.equal(model.openSessions, logitsOnly);
    } finally {
      await model.dispose();
    }
  });

  it('a second variant that returns hook points releases the first at once; the same answers after', async () => {
    const model = await HookedGPT2.fromPretrained(join(dir, 'tiny'), { threads: 1, releaseIdleVariantsAfterMs: 60_000 });
    try {
      await model.run(TOKENS);
      const logitsOnly = model.openSessions;
      // Each asked twice, as a loop would: kept after the second call.
      await model.runWithCache(TOKENS);
      const every = await model.runWithCache(TOKENS);
      assert.equal(model.openSessions, logitsOnly + 1);
      const fewNames = (n: string): boolean => n.endsWith('hook_resid_pre');
      await model.runWithCache(TOKENS, { names: fewNames });
      assert.equal(model.openSessions, logitsOnly, 'the every-hook variant went when the names variant ran (itself a one-off)');
      const few = await model.runWithCache(TOKENS, { names: fewNames });
      assert.equal(model.openSessions, logitsOnly + 1, 'the names variant, asked again, is kept');
      assert.deepEqual(few.cache.get('blocks.1.hook_resid_pre').data, every.cache.get('blocks.1.hook_resid_pre').data);
      const everyAgain = await model.runWithCache(TOKENS);
      assert.equal(
        model.openSessions,
        logitsOnly + 1,
        'the names variant went when the every-hook one ran again (kept: asked within the idle time)',
      );
      assert.deepEqual(everyAgain.logits.data, every.logits.data);
      // Logits-only calls release nothing.
      await model.run(TOKENS, { logitsAt: 'last' });
      assert.equal(model.openSessions, logitsOnly + 2);
    } finally {
      await model.dispose();
    }
  });

  it('0 keeps the variant', async () => {
    const model = await HookedGPT2.fromPretrained(join(dir, 'tiny'), { threads: 1, releaseIdleVariantsAfterMs: 0 });
    try {
      await model.runWithCache(TOKENS);
      const open = model.openSessions;
      await sleep(IDLE_MS * 3);
      assert.equal(model.openSessions, open);
    } finally {
      await model.dispose();
    }
  });

  it('the released arena goes back to the system', { skip: rssBytes() === null && 'needs /proc (Linux)' }, async () => {
    const model = await HookedGPT2.fromPretrained(join(dir, 'wide'), { threads: 1, releaseIdleVariantsAfterMs: 1000 });
    try {
      const tokens = Array.from({ length: 256 }, (_, i) => (i * 7919 + 13) % 50257);
      await model.runWithCache(tokens); // asked twice, as a loop would: the variant is kept until idle
      const { cache, logits } = await model.runWithCache(tokens);
      let returned = logits.data.byteLength;
      for (const name of cache.names()) returned += cache.get(name).data.byteLength;
      const held = await settledRss(); // the answers are garbage now; the variant's arena is not
      await sleep(1500);
      const released = await settledRss();
      const say = (b: number): string => `${(b / MiB).toFixed(0)} MiB`;
      console.log(`every hook at 256 tokens returned ${say(returned)}; resident ${say(held)} → ${say(released)} once released`);
      assert.ok(held - released > returned / 3, `releasing the variant gave back ${say(held - released)} (returned ${say(returned)})`);
    } finally {
      await model.dispose();
    }
  });
});
