// Generation and per-document next-token logits through EngineClient ↔ the real engine worker
// thread: tokens stream back before the reply, a cancel stops the stream, the document cache
// reuses what it covers and matches a full forward, and it goes with the model.
import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { EngineClient } from '../../src/engine/worker/engineClient';
import type { GenerateProgress } from '../../src/engine/worker/generationProtocol';
import { generateTinyGpt2 } from '../../src/engine/tinyGpt2';
import { relErr } from '../support/compare';

const WORKER = join(__dirname, 'helpers/engineWorker.ts.cjs');
const TOKENS = [50256, 464, 2068, 7586, 21831, 18045, 625, 262, 16931, 3290];

describe('generation and next-token requests in the engine worker', { timeout: 120_000 }, () => {
  let dir: string;
  let client: EngineClient;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'model-lens-genworker-'));
    await generateTinyGpt2(dir, { seed: 11, tiedLmHead: true });
    client = new EngineClient({ workerPath: WORKER });
    await client.load(dir, { threads: 1 });
  });
  after(async () => {
    await client.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  it('streams each token before the reply; greedy equals the argmax of full forwards', async () => {
    const streamed: GenerateProgress[] = [];
    const r = await client.generate(
      TOKENS.slice(0, 4),
      { temperature: 0, maxNewTokens: 6, stopAtEndOfText: false },
      { onToken: (p) => void streamed.push(p) },
    );
    assert.equal(r.stop, 'maxNewTokens');
    assert.deepEqual(
      streamed.map((p) => p.index),
      [0, 1, 2, 3, 4, 5],
    );
    assert.deepEqual(
      streamed.map((p) => p.token.id),
      r.tokens.map((t) => t.id),
    );
    const seq = TOKENS.slice(0, 4);
    for (const t of r.tokens) {
      const row = (await client.run(seq, { logitsAt: 'last' })).logits.data;
      let best = 0;
      for (let i = 1; i < row.length; i++) if (row[i]! > row[best]!) best = i;
      assert.equal(t.id, best);
      seq.push(best);
    }
  });

  it('a cancel stops the generation between tokens, and the worker keeps serving', async () => {
    const ac = new AbortController();
    let n = 0;
    const p = client.generate(
      TOKENS.slice(0, 2),
      { maxNewTokens: 500, stopAtEndOfText: false },
      {
        signal: ac.signal,
        onToken: () => {
          if (++n === 2) ac.abort();
        },
      },
    );
    await assert.rejects(p, { name: 'AbortError' });
    const after = n;
    const ok = await client.generate(TOKENS.slice(0, 2), { maxNewTokens: 2 });
    assert.equal(ok.tokens.length, 2);
    assert.ok(after < 20, `stopped after ${after} tokens`);
  });

  it("next-token logits come from the document's cache: appending runs only the new tokens, an edit keeps the prefix", async () => {
    const doc = 'file:///a.txt';
    const check = async (tokens: number[], reused: number): Promise<void> => {
      const r = await client.nextToken(doc, tokens);
      assert.equal(r.reused, reused, `reused for ${tokens.length} tokens`);
      assert.deepEqual(r.logits.dims, [1, 1, 50257]);
      const full = await client.run(tokens, { logitsAt: 'last' });
      assert.ok(relErr(r.logits.data, full.logits.data) < 1e-5);
    };
    await check(TOKENS.slice(0, 6), 0);
    await check(TOKENS.slice(0, 7), 6); // one token typed at the end
    await check(TOKENS, 7);
    await check([...TOKENS.slice(0, 3), 40, ...TOKENS.slice(4)], 3); // an edit at token 3
    // Another document has its own cache.
    const other = await client.nextToken('file:///b.txt', TOKENS.slice(0, 5));
    assert.equal(other.reused, 0);
    await client.forgetDocument(doc);
    assert.equal((await client.nextToken(doc, TOKENS)).reused, 0);
    // A model load drops every cache.
    await client.load(dir, { threads: 1 });
    assert.equal((await client.nextToken(doc, TOKENS)).reused, 0);
  });

  it('bad input is an error reply, not a dead worker', async () => {
    await assert.rejects(client.generate([], {}), /at least one prompt token/);
    await assert.rejects(client.generate(TOKENS, { topP: 0 }), /top-p must be in/);
    await assert.rejects(client.nextToken('x', []), /no tokens/);
    assert.equal((await client.generate(TOKENS, { maxNewTokens: 1 })).tokens.length, 1);
  });
});
