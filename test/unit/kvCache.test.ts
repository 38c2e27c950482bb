// The incremental forward (src/engine/incremental.ts) against a full forward of the whole
// sequence on real onnxruntime sessions: logits and every hook point at the new positions, in
// both processing modes, with interventions and a function hook, at several split points up to
// n_ctx − 1; and the KeyValueCache that carries the past between calls (extend, an edit that
// truncates, its memory bound).
import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { hookShape, listHookPoints } from '../../src/engine/hookPoints';
import { advanceCache } from '../../src/engine/incremental';
import { emptyPast, KeyValueCache } from '../../src/engine/kvCache';
import { DocumentCaches } from '../../src/engine/worker/documentCaches';
import { HookedGPT2, type Intervention } from '../../src/engine/model';
import { processWeights } from '../../src/engine/processing';
import { DEFAULT_PROCESSING, type Tensor } from '../../src/engine/types';
import { relErr, worst, type HookError } from '../support/compare';
import { seededRandom } from '../support/random';
import { randomWeights, tinyConfig } from './helpers/engineFixtures';

const TIMEOUT = 120_000;
/** The engine's parity tolerance (test/unit/parity.test.ts): relErr per tensor. */
const TOL = 1e-5;
const cfg = tinyConfig(); // n_ctx 32
const N = cfg.n_ctx;
const rnd = seededRandom(13);
const TOKENS = [50256, ...Array.from({ length: N - 1 }, () => Math.floor(rnd() * 50000))];
/** Split points: the past covers [0, s), the step runs [s, N); 31 = n_ctx − 1 leaves one new token. */
const SPLITS = [0, 1, 7, 16, N - 1];

/** Positions [lo, hi) of a hook tensor along its query axis (axis 1 for [batch, pos, …], 2 for scores and pattern). */
function queryRows(t: Tensor, dims: readonly (string | number)[], lo: number, hi: number): Float32Array {
  const axis = dims.indexOf('query_pos') >= 0 ? dims.indexOf('query_pos') : dims.indexOf('pos');
  const outer = t.dims.slice(0, axis).reduce((a, b) => a * b, 1);
  const inner = t.dims.slice(axis + 1).reduce((a, b) => a * b, 1);
  const len = t.dims[axis]!;
  const out = new Float32Array(outer * (hi - lo) * inner);
  for (let o = 0; o < outer; o++) out.set(t.data.subarray((o * len + lo) * inner, (o * len + hi) * inner), o * (hi - lo) * inner);
  return out;
}

/** Keys [0, k) of a [batch, head_index, query_pos, key_pos] tensor. */
function firstKeys(t: Tensor, k: number): Float32Array {
  const len = t.dims[3]!;
  const rows = t.data.length / len;
  const out = new Float32Array(rows * k);
  for (let r = 0; r < rows; r++) out.set(t.data.subarray(r * len, r * len + k), r * k);
  return out;
}

const HOOK_DIMS = new Map(listHookPoints(cfg).map((h) => [h.name, h.dims] as const));

/** Per hook: the incremental step's tensor against the full run's rows [lo, hi) (and keys [0, hi) for scores and pattern). */
function hookErrors(step: ReadonlyMap<string, Tensor>, full: ReadonlyMap<string, Tensor>, lo: number, hi: number): HookError[] {
  const errs: HookError[] = [];
  for (const [name, dims] of HOOK_DIMS) {
    const got = step.get(name);
    const want = full.get(name);
    assert.ok(got && want, `${name} missing`);
    const decl = { name, dims };
    const shape = hookShape(decl, cfg, hi - lo);
    if (dims.includes('key_pos')) shape[3] = hi; // past + new keys
    assert.deepEqual(got.dims, shape, name);
    let rows = queryRows(want, dims, lo, hi);
    if (dims.includes('key_pos')) rows = firstKeys({ dims: [1, cfg.n_heads, hi - lo, want.dims[3]!], data: rows }, hi);
    errs.push({ name, err: relErr(got.data, rows) });
  }
  return errs;
}

function logitRows(t: Tensor, lo: number, hi: number): Float32Array {
  return queryRows(t, ['batch', 'pos', 'd_vocab_out'], lo, hi);
}

describe('incremental forward equals the full forward (tiny model, n_ctx 32, real onnxruntime)', { timeout: TIMEOUT }, () => {
  const models: { label: string; model: HookedGPT2 }[] = [];
  before(async () => {
    const w = randomWeights(cfg, 5);
    models.push({ label: 'unprocessed', model: await HookedGPT2.fromWeights(cfg, w, { threads: 1 }) });
    const processed = processWeights(cfg, w, DEFAULT_PROCESSING);
    models.push({ label: 'processed', model: await HookedGPT2.fromWeights(processed.cfg, processed.weights, { threads: 1 }) });
  });
  after(async () => {
    for (const m of models) await m.model.dispose();
  });

  const INTERVENTIONS: readonly Intervention[] = [
    { kind: 'ablateHeads', layer: 0, heads: [1, 3] },
    { kind: 'ablateNeurons', layer: 1, neurons: [0, 5, 9] },
    {
      kind: 'addVector',
      hook: 'blocks.1.hook_resid_pre',
      vector: { dims: [cfg.d_model], data: Float32Array.from({ length: cfg.d_model }, (_, i) => Math.sin(i)) },
    },
  ];

  for (const mode of ['unprocessed', 'processed']) {
    for (const withIv of [false, true]) {
      it(`${mode}${withIv ? ', with interventions' : ''}: logits and every hook at splits ${SPLITS.join(', ')}`, async () => {
        const model = models.find((m) => m.label === mode)!.model;
        const interventions = withIv ? INTERVENTIONS : [];
        const full = await model.forward(TOKENS, { names: () => true, interventions });
        for (const s of SPLITS) {
          // Two steps: the prefix from an empty past (skipped at s = 0), then the rest.
          let past = emptyPast(model.cfg);
          if (s > 0) {
            const first = await model.forwardIncremental(TOKENS.slice(0, s), past, { names: () => true, logitsAt: 'all', interventions });
            assert.equal(first.present.length, s);
            assert.ok(relErr(first.logits.data, logitRows(full.logits, 0, s)) < TOL, `split ${s}: first step's logits`);
            const w0 = worst(hookErrors(first.activations, full.activations, 0, s));
            assert.ok(w0.err < TOL, `split ${s}, first step: ${w0.name} relErr ${w0.err}`);
            past = first.present;
          }
          const step = await model.forwardIncremental(TOKENS.slice(s), past, { names: () => true, logitsAt: 'all', interventions });
          assert.equal(step.present.length, N);
          assert.deepEqual([...step.activations.keys()], [...HOOK_DIMS.keys()], 'hook names in hook_dict order');
          const errL = relErr(step.logits.data, logitRows(full.logits, s, N));
          assert.ok(errL < TOL, `split ${s}: logits relErr ${errL}`);
          const w = worst(hookErrors(step.activations, full.activations, s, N));
          assert.ok(w.err < TOL, `split ${s}: ${w.name} relErr ${w.err}`);
          // Masked scores are -inf exactly where the key comes after the query's absolute position.
          const scores = step.activations.get('blocks.0.attn.hook_attn_scores')!;
          assert.equal(scores.data[N - 1], s === N - 1 ? scores.data[N - 1] : -Infinity, 'the first new query sees no later key');
          assert.ok(Number.isFinite(scores.data[s]!), 'the first new query sees its own key');
          // 'last' unembeds only the last new position, with the same numbers.
          const last = await model.forwardIncremental(TOKENS.slice(s), past, { interventions });
          assert.deepEqual(last.logits.dims, [1, 1, model.cfg.d_vocab_out]);
          assert.ok(relErr(last.logits.data, logitRows(full.logits, N - 1, N)) < TOL, `split ${s}: last-position logits`);
        }
        if (withIv) {
          // The interventions do change the run, so agreeing with the intervened full run means something.
          const plain = await model.run(TOKENS);
          assert.ok(relErr(plain.data, full.logits.data) > 1e-3);
        }
      });
    }
  }

  it('a function hook at the new positions sees [batch, head, new, past + new] and can change the run', async () => {
    const model = models[0]!.model;
    const s = 20;
    const pre = await model.forwardIncremental(TOKENS.slice(0, s), emptyPast(cfg));
    const zeroHead = (t: Tensor): Tensor => {
      const out = Float32Array.from(t.data);
      // hook_z [1, pos, head, d_head]: head 2 to zero at every position.
      for (let p = 0; p < t.dims[1]!; p++) out.fill(0, (p * cfg.n_heads + 2) * cfg.d_head, (p * cfg.n_heads + 3) * cfg.d_head);
      return { dims: t.dims, data: out };
    };
    const seen: number[][] = [];
    const hooks = [
      { name: 'blocks.1.attn.hook_pattern', fn: (t: Tensor) => void seen.push([...t.dims]) },
      { name: 'blocks.0.attn.hook_z', fn: zeroHead },
    ];
    const step = await model.forwardIncremental(TOKENS.slice(s), pre.present, { hooks, logitsAt: 'all' });
    assert.deepEqual(seen, [[1, cfg.n_heads, N - s, N]]);
    // The same hook on the whole sequence, run in two steps (the past under the hook too), equals the full hooked run.
    const prefix = await model.forwardIncremental(TOKENS.slice(0, s), emptyPast(cfg), { hooks: [hooks[1]!] });
    const hooked = await model.forwardIncremental(TOKENS.slice(s), prefix.present, { hooks: [hooks[1]!], logitsAt: 'all' });
    const fullHooked = await model.runWithHooks(TOKENS, [hooks[1]!]);
    assert.ok(relErr(hooked.logits.data, logitRows(fullHooked, s, N)) < TOL);
    assert.ok(relErr(step.logits.data, hooked.logits.data) > 1e-4, 'the past without the hook gives other logits');
  });

  it('refuses what it cannot do, with specific errors', async () => {
    const model = models[0]!.model;
    const past = (await model.forwardIncremental(TOKENS.slice(0, N - 1), emptyPast(cfg))).present;
    await assert.rejects(model.forwardIncremental([1, 2], past), /31 cached \+ 2 new tokens exceed the context window n_ctx=32/);
    await assert.rejects(model.forwardIncremental([], past), /no tokens/);
    const src = { dims: [1, N, cfg.d_model], data: new Float32Array(N * cfg.d_model) };
    await assert.rejects(
      model.forwardIncremental([1], emptyPast(cfg), { interventions: [{ kind: 'patch', hook: 'blocks.0.hook_resid_pre', source: src }] }),
      /intervention 0 \(patch\) patches positions of another run; the incremental forward takes only/,
    );
    await assert.rejects(
      model.forwardIncremental([1], emptyPast(cfg), {
        interventions: [
          {
            kind: 'addVector',
            hook: 'blocks.0.hook_resid_pre',
            vector: { dims: [cfg.d_model], data: new Float32Array(cfg.d_model) },
            positions: [0],
          },
        ],
      }),
      /is limited to some positions/,
    );
  });
});

describe('KeyValueCache', { timeout: TIMEOUT }, () => {
  let model: HookedGPT2;
  before(async () => {
    model = await HookedGPT2.fromWeights(cfg, randomWeights(cfg, 9), { threads: 1 });
  });
  after(async () => {
    await model.dispose();
  });

  it('typing token by token: each step runs one token and its logits equal the full last-position forward', async () => {
    const cache = new KeyValueCache(cfg);
    for (let n = 1; n <= N; n++) {
      const r = await advanceCache(model, cache, TOKENS.slice(0, n));
      assert.equal(r.reused, n - 1);
      const full = await model.run(TOKENS.slice(0, n), { logitsAt: 'last' });
      assert.ok(relErr(r.logits.data, full.data) < TOL, `after ${n} tokens`);
      assert.deepEqual(cache.tokens, TOKENS.slice(0, n));
      // The bound: 2 · n_layers · len · d_model · 4 bytes, at most maxBytes at n_ctx.
      assert.equal(cache.bytes, 2 * cfg.n_layers * n * cfg.d_model * 4);
      assert.ok(cache.bytes <= KeyValueCache.maxBytes(cfg));
    }
    assert.equal(cache.bytes, KeyValueCache.maxBytes(cfg));
    cache.dispose();
    assert.throws(() => cache.past, /disposed/);
  });

  it('an edit earlier in the text keeps only the tokens before it', async () => {
    const cache = new KeyValueCache(cfg);
    await advanceCache(model, cache, TOKENS.slice(0, 24));
    const edited = [...TOKENS.slice(0, 10), 318, 257, ...TOKENS.slice(12, 26)];
    const r = await advanceCache(model, cache, edited, { logitsAt: 'all' });
    assert.equal(r.reused, 10);
    assert.equal(r.logits.dims[1], edited.length - 10);
    const full = await model.run(edited);
    assert.ok(relErr(r.logits.data, logitRows(full, 10, edited.length)) < TOL);
    // The same tokens again: only the last one runs (its logits are needed), the rest is reused.
    const again = await advanceCache(model, cache, edited);
    assert.equal(again.reused, edited.length - 1);
    assert.ok(relErr(again.logits.data, logitRows(full, edited.length - 1, edited.length)) < TOL);
    // Deleting at the end truncates.
    const shorter = edited.slice(0, 15);
    const cut = await advanceCache(model, cache, shorter);
    assert.equal(cut.reused, 14);
    assert.equal(cache.length, 15);
    const fullShort = await model.run(shorter, { logitsAt: 'last' });
    assert.ok(relErr(cut.logits.data, fullShort.data) < TOL);
    await cache.truncateTo(0);
    assert.equal(cache.bytes, 0);
    assert.equal(cache.location, 'cpu');
    await assert.rejects(cache.truncateTo(-1), /cannot truncate/);
  });
});

describe("the worker's per-document caches", { timeout: TIMEOUT }, () => {
  it('keep at most maxDocuments caches, least recently used out, each within its bound; clear drops all', async () => {
    const model = await HookedGPT2.fromWeights(cfg, randomWeights(cfg, 3), { threads: 1 });
    try {
      const caches = new DocumentCaches(2);
      await caches.nextToken(model, 'a', TOKENS.slice(0, 10), 5);
      await caches.nextToken(model, 'b', TOKENS.slice(0, 20), 5);
      assert.equal((await caches.nextToken(model, 'a', TOKENS.slice(0, 11), 5)).reused, 10); // 'a' is now the most recent
      await caches.nextToken(model, 'c', TOKENS.slice(0, 5), 5); // evicts 'b'
      assert.equal(caches.size, 2);
      assert.equal(caches.bytes, 2 * cfg.n_layers * (11 + 5) * cfg.d_model * 4);
      assert.ok(caches.bytes <= 2 * KeyValueCache.maxBytes(cfg));
      assert.equal((await caches.nextToken(model, 'b', TOKENS.slice(0, 20), 5)).reused, 0, "'b' was evicted");
      assert.equal((await caches.nextToken(model, 'c', TOKENS.slice(0, 6), 5)).reused, 5);
      caches.clear();
      assert.equal(caches.size, 0);
      assert.equal(caches.bytes, 0);
    } finally {
      await model.dispose();
    }
  });
});
