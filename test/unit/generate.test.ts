// The sampler (src/engine/sampler.ts) on hand-made logits, and generation (src/engine/generate.ts)
// on the tiny model with real onnxruntime sessions: greedy equals the argmax of full forwards,
// seeds replay, and each stop condition and bad input.
import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { END_OF_TEXT, generate } from '../../src/engine/generate';
import { HookedGPT2 } from '../../src/engine/model';
import { mulberry32 } from '../../src/engine/prng';
import { sampleToken } from '../../src/engine/sampler';
import { randomWeights, tinyConfig } from './helpers/engineFixtures';

const TIMEOUT = 120_000;

/** Draw frequencies of `n` samples from `logits`. */
function frequencies(logits: number[], opts: Parameters<typeof sampleToken>[1], n: number, seed = 1): number[] {
  const random = mulberry32(seed);
  const counts = new Array<number>(logits.length).fill(0);
  for (let i = 0; i < n; i++) counts[sampleToken(logits, opts, random).id]! += 1;
  return counts.map((c) => c / n);
}

describe('sampler', () => {
  const L = [Math.log(0.5), Math.log(0.3), Math.log(0.2)];

  it('greedy: argmax, ties to the lower id, no draw; the model probability, rank and top 5', () => {
    const random = (): number => assert.fail('greedy must not draw');
    const t = sampleToken([1, 3, 3, 0, 2, -1, 2.5], { temperature: 0 }, random);
    assert.equal(t.id, 1);
    assert.equal(t.rank, 1);
    assert.deepEqual(
      t.top.map((a) => a.id),
      [1, 2, 6, 4, 0],
    );
    const z = [1, 3, 3, 0, 2, -1, 2.5].reduce((s, x) => s + Math.exp(x), 0);
    assert.ok(Math.abs(t.prob - Math.exp(3) / z) < 1e-12);
    assert.ok(Math.abs(t.top[2]!.prob - Math.exp(2.5) / z) < 1e-12);
  });

  it('temperature 1 draws in proportion to the softmax; temperature 2 flattens it', () => {
    const f = frequencies(L, { temperature: 1 }, 20000);
    [0.5, 0.3, 0.2].forEach((p, i) => assert.ok(Math.abs(f[i]! - p) < 0.015, `token ${i}: ${f[i]} vs ${p}`));
    const hot = [0.5, 0.3, 0.2].map((p) => Math.sqrt(p));
    const z = hot.reduce((a, b) => a + b, 0);
    const f2 = frequencies(L, { temperature: 2 }, 20000);
    hot.forEach((p, i) => assert.ok(Math.abs(f2[i]! - p / z) < 0.015, `T=2, token ${i}: ${f2[i]} vs ${p / z}`));
  });

  it('top-k and top-p keep the likeliest tokens and renormalize over them', () => {
    for (const opts of [{ topK: 2 }, { topP: 0.7 }, { topP: 0.75 }, { topK: 2, topP: 0.9 }]) {
      const f = frequencies(L, opts, 20000);
      assert.equal(f[2], 0, JSON.stringify(opts));
      assert.ok(Math.abs(f[0]! - 0.625) < 0.015, `${JSON.stringify(opts)}: ${f[0]}`);
    }
    assert.deepEqual(frequencies(L, { topK: 1 }, 200), [1, 0, 0]);
    assert.deepEqual(frequencies(L, { topP: 1e-9 }, 200), [1, 0, 0]);
    // 0.81 needs the third token too.
    assert.ok(frequencies(L, { topP: 0.81 }, 2000)[2]! > 0.1);
  });

  it("a sampled token reports the model's own probability and rank, not the tempered ones", () => {
    const random = mulberry32(3);
    const seen = new Set<number>();
    for (let i = 0; i < 200; i++) {
      const t = sampleToken(L, { temperature: 3 }, random);
      seen.add(t.id);
      assert.ok(Math.abs(t.prob - [0.5, 0.3, 0.2][t.id]!) < 1e-12);
      assert.equal(t.rank, t.id + 1);
    }
    assert.equal(seen.size, 3);
  });

  it('the same seed draws the same tokens; another seed other tokens', () => {
    const logits = Array.from({ length: 1000 }, (_, i) => Math.sin(i * 7.1));
    const run = (seed: number): number[] => {
      const r = mulberry32(seed);
      return Array.from({ length: 30 }, () => sampleToken(logits, { temperature: 1 }, r).id);
    };
    assert.deepEqual(run(42), run(42));
    assert.notDeepEqual(run(42), run(43));
  });

  it('refuses bad options and non-finite logits with specific errors', () => {
    const r = mulberry32(1);
    assert.throws(() => sampleToken(L, { temperature: -0.5 }, r), /temperature must be a number ≥ 0 \(0 = greedy\), not -0.5/);
    assert.throws(() => sampleToken(L, { temperature: NaN }, r), /temperature must be/);
    assert.throws(() => sampleToken(L, { topP: 0 }, r), /top-p must be in \(0, 1\] \(1 = no limit; 0 would keep no token\), not 0/);
    assert.throws(() => sampleToken(L, { topP: 1.5 }, r), /top-p must be in/);
    assert.throws(() => sampleToken(L, { topK: 1.5 }, r), /top-k must be a whole number/);
    assert.throws(() => sampleToken([0, NaN, 1], {}, r), /logit for token 1 is NaN/);
    // -inf logits are tokens the model rules out: never picked.
    assert.equal(sampleToken([-Infinity, 0, -Infinity], {}, r).id, 1);
  });
});

describe('generate (tiny model, n_ctx 32, real onnxruntime)', { timeout: TIMEOUT }, () => {
  const cfg = tinyConfig();
  let model: HookedGPT2;
  let eotModel: HookedGPT2;
  const PROMPT = [50256, 464, 2068, 7586];
  before(async () => {
    model = await HookedGPT2.fromWeights(cfg, randomWeights(cfg, 11), { threads: 1 });
    const w = randomWeights(cfg, 11);
    w.b_U.data[END_OF_TEXT] = 100; // the model always says <|endoftext|>
    eotModel = await HookedGPT2.fromWeights(cfg, w, { threads: 1 });
  });
  after(async () => {
    await model.dispose();
    await eotModel.dispose();
  });

  it('greedy generation equals the argmax of a full forward, token by token, for 20 steps', async () => {
    const streamed: number[] = [];
    const r = await generate(model, PROMPT, {
      temperature: 0,
      maxNewTokens: 20,
      stopAtEndOfText: false,
      onToken: (t) => void streamed.push(t.id),
    });
    assert.equal(r.tokens.length, 20);
    assert.equal(r.stop, 'maxNewTokens');
    assert.deepEqual(
      streamed,
      r.tokens.map((t) => t.id),
    );
    const seq = [...PROMPT];
    for (const t of r.tokens) {
      const logits = (await model.run(seq, { logitsAt: 'last' })).data;
      let best = 0;
      for (let i = 1; i < logits.length; i++) if (logits[i]! > logits[best]!) best = i;
      assert.equal(t.id, best, `step ${seq.length - PROMPT.length}`);
      assert.equal(t.rank, 1);
      let z = 0;
      for (const x of logits) z += Math.exp(x - logits[best]!);
      assert.ok(Math.abs(t.prob - 1 / z) < 1e-5, `prob ${t.prob} vs ${1 / z}`);
      seq.push(best);
    }
  });

  it('sampling with a seed replays; another seed gives other text', async () => {
    const opts = { temperature: 1, topK: 50, maxNewTokens: 12, stopAtEndOfText: false };
    const a = await generate(model, PROMPT, { ...opts, seed: 7 });
    const b = await generate(model, PROMPT, { ...opts, seed: 7 });
    const c = await generate(model, PROMPT, { ...opts, seed: 8 });
    const ids = (r: typeof a): number[] => r.tokens.map((t) => t.id);
    assert.deepEqual(ids(a), ids(b));
    assert.notDeepEqual(ids(a), ids(c));
    for (const t of a.tokens) assert.ok(t.rank <= 50, 'top-k 50 keeps ranks 1..50');
  });

  it('stops at n_ctx, at <|endoftext|>, at the budget; refuses an empty prompt', async () => {
    const long = Array.from({ length: 28 }, (_, i) => 100 + i);
    const full = await generate(model, long, { temperature: 0, maxNewTokens: 10 });
    assert.equal(full.tokens.length, 4);
    assert.equal(full.stop, 'contextFull');
    const atCtx = await generate(
      model,
      Array.from({ length: 32 }, (_, i) => 100 + i),
      { maxNewTokens: 10 },
    );
    assert.deepEqual(atCtx.tokens, []);
    assert.equal(atCtx.stop, 'contextFull');
    const eot = await generate(eotModel, PROMPT, { temperature: 0, maxNewTokens: 10 });
    assert.deepEqual(
      eot.tokens.map((t) => t.id),
      [END_OF_TEXT],
    );
    assert.equal(eot.stop, 'endOfText');
    const none = await generate(model, PROMPT, { maxNewTokens: 0 });
    assert.equal(none.tokens.length, 0);
    await assert.rejects(generate(model, [], {}), /at least one prompt token/);
    await assert.rejects(generate(model, new Array<number>(33).fill(1), {}), /the prompt is 33 tokens; .* n_ctx=32/);
    await assert.rejects(generate(model, PROMPT, { topP: 0 }), /top-p must be in/);
    await assert.rejects(generate(model, PROMPT, { maxNewTokens: -1 }), /max new tokens must be a whole number ≥ 0/);
  });

  it('an abort stops between tokens with an AbortError', async () => {
    const ac = new AbortController();
    let n = 0;
    await assert.rejects(
      generate(model, PROMPT, {
        maxNewTokens: 20,
        signal: ac.signal,
        onToken: () => {
          if (++n === 3) ac.abort();
        },
      }),
      { name: 'AbortError' },
    );
    assert.equal(n, 3);
  });
});
