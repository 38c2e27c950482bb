// One copy of the weights: a model's sessions (the main one, last-position logits, every hook,
// an intervention, a cut for a function hook) all read the same weight arrays, so opening them
// adds compute buffers, not weights. Resident memory is read from /proc (Linux), after a full
// garbage collection; the bound is generous (half the weights' bytes), and no timing is asserted.
import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { HookedGPT2 } from '../../src/engine/model';
import { collectGarbage } from '../../src/engine/collectGarbage';
import { generateTinyGpt2 } from '../../src/engine/tinyGpt2';
import { MiB, rssBytes } from './helpers/residentMemory';

const TIMEOUT = 300_000;
const TOKENS = [50256, 464, 2068, 7586, 21831, 18045, 625, 11, 290, 262, 3290, 13];

function weightBytes(w: unknown): number {
  if (ArrayBuffer.isView(w)) return w.byteLength;
  if (w === null || typeof w !== 'object') return 0;
  return Object.values(w).reduce((a: number, v) => a + weightBytes(v), 0);
}

describe(
  'one copy of the weights across session variants',
  { timeout: TIMEOUT, skip: rssBytes() === null && 'needs /proc (Linux)' },
  () => {
    let dir: string;
    before(async () => {
      // ~180 MB of float32 weights: large against the sessions' own buffers at 12 tokens, small enough for CI.
      dir = mkdtempSync(join(tmpdir(), 'model-lens-share-'));
      await generateTinyGpt2(dir, { n_layer: 4, n_embd: 384, n_head: 6, tiedLmHead: true });
    });
    after(() => rmSync(dir, { recursive: true, force: true }));

    it('five more variants grow resident memory by less than half the weights', async () => {
      // Every variant stays open while the test measures them (see releaseIdleVariantsAfterMs).
      const model = await HookedGPT2.fromPretrained(dir, { threads: 1, releaseIdleVariantsAfterMs: 0 });
      try {
        const bytes = weightBytes(model.processedWeights);
        assert.ok(bytes > 150 * MiB, `weights are ${(bytes / MiB).toFixed(0)} MiB`);
        await model.run(TOKENS); // the main session, opened at load, has run once
        collectGarbage();
        const before = rssBytes()!;
        await model.run(TOKENS, { logitsAt: 'last' });
        const { cache } = await model.runWithCache(TOKENS);
        await model.runWithInterventions(TOKENS, [{ kind: 'ablateHeads', layer: 1, heads: [0, 2] }]);
        await model.runWithHooks(TOKENS, [{ name: 'blocks.2.hook_resid_post', fn: () => undefined }]);
        await model.runWithCache(TOKENS, { names: (n) => n.endsWith('hook_pattern') });
        assert.equal(model.openSessions, 6, 'main + five variants');
        const cacheBytes = cache.names().reduce((a, k) => a + cache.get(k).data.byteLength, 0);
        collectGarbage();
        const grown = rssBytes()! - before - cacheBytes;
        assert.ok(
          grown < bytes / 2,
          `five variants grew resident memory by ${(grown / MiB).toFixed(0)} MiB (activations left out) for ${(bytes / MiB).toFixed(0)} MiB of weights`,
        );
      } finally {
        await model.dispose();
      }
    });
  },
);
