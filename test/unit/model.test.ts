// HookedGPT2 on real onnxruntime sessions: hook names and shapes, caching, function hooks as graph
// cuts, in-graph interventions, errors and disposal. Numeric parity with the float64 reference
// lives in parity.test.ts; here the checks are internal consistency and causal structure.
import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { hookShape, listHookPoints } from '../../src/engine/hookPoints';
import { HookedGPT2 } from '../../src/engine/model';
import { generateTinyGpt2 } from '../../src/engine/tinyGpt2';
import type { Tensor } from '../../src/engine/types';
import { maxAbsDiff } from '../support/compare';
import { randomWeights, tinyConfig } from './helpers/engineFixtures';

const TIMEOUT = 60_000;
const TOKENS = [50256, 464, 2068, 7586, 21831, 18045, 625];
const OTHER = [50256, 40, 588, 257, 1110, 286, 262];
const ALL_FLAGS = { use_attn_result: true, use_split_qkv_input: true, use_attn_in: true, use_hook_mlp_in: true };

describe('HookedGPT2 (random weights, real onnxruntime)', { timeout: TIMEOUT }, () => {
  let model: HookedGPT2;
  let flagged: HookedGPT2;
  before(async () => {
    const cfg = tinyConfig();
    model = await HookedGPT2.fromWeights(cfg, randomWeights(cfg, 7), { threads: 1 });
    flagged = await HookedGPT2.fromWeights(cfg, randomWeights(cfg, 7), { ...ALL_FLAGS, threads: 1 });
  });
  after(async () => {
    await model.dispose();
    await flagged.dispose();
  });

  for (const [label, get] of [
    ['default flags', () => model],
    ['every flag', () => flagged],
  ] as const) {
    it(`caches every hook point with TransformerLens's name and shape (${label})`, async () => {
      const m = get();
      const { logits, cache } = await m.runWithCache(TOKENS);
      const table = listHookPoints(m.cfg);
      assert.deepEqual(
        cache.names(),
        table.map((h) => h.name),
      );
      for (const h of table) {
        const t = cache.get(h.name);
        assert.deepEqual(t.dims, hookShape(h, m.cfg, TOKENS.length), h.name);
        assert.ok(
          t.data.every((x) => !Number.isNaN(x)),
          `${h.name} has NaN`,
        );
      }
      assert.deepEqual(logits.dims, [1, TOKENS.length, m.cfg.d_vocab_out]);
    });
  }

  it('the flag-gated hooks hold what TransformerLens puts there', async () => {
    const { cache } = await flagged.runWithCache(TOKENS, {
      names: [
        'blocks.1.hook_resid_pre',
        'blocks.1.hook_attn_in',
        'blocks.1.attn.hook_result',
        'blocks.1.hook_attn_out',
        'blocks.1.hook_resid_mid',
        'blocks.1.hook_mlp_in',
      ],
    });
    const { n_heads: H, d_model: D } = flagged.cfg;
    const pre = cache.get('blocks.1.hook_resid_pre').data;
    const attnIn = cache.get('blocks.1.hook_attn_in').data;
    for (let p = 0; p < TOKENS.length; p++)
      for (let h = 0; h < H; h++)
        for (let d = 0; d < D; d++) {
          assert.equal(attnIn[(p * H + h) * D + d], pre[p * D + d]);
        }
    assert.deepEqual(cache.get('blocks.1.hook_mlp_in').data, cache.get('blocks.1.hook_resid_mid').data);
    // attn_out = Σ_heads result + b_O: checked against the sum without b_O via a second model-free sum.
    const result = cache.get('blocks.1.attn.hook_result').data;
    const out = cache.get('blocks.1.hook_attn_out').data;
    const w = randomWeights(flagged.cfg, 7).blocks[1]!.b_O.data;
    for (let p = 0; p < TOKENS.length; p++)
      for (let d = 0; d < D; d++) {
        let s = w[d]!;
        for (let h = 0; h < H; h++) s += result[(p * H + h) * D + d]!;
        assert.ok(Math.abs(s - out[p * D + d]!) < 1e-5, `attn_out at ${p},${d}`);
      }
  });

  it('run() returns the same logits as runWithCache()', async () => {
    const a = await model.run(TOKENS);
    const { logits } = await model.runWithCache(TOKENS, { names: 'blocks.0.*' });
    assert.deepEqual(a.dims, logits.dims);
    assert.equal(maxAbsDiff(a.data, logits.data), 0);
  });

  it('logits are unembed.hook_in · W_U + b_U (float64 check of the unembedding)', async () => {
    const cfg = tinyConfig();
    const w = randomWeights(cfg, 7);
    const { logits, cache } = await model.runWithCache(TOKENS, { names: ['unembed.hook_in'] });
    const x = cache.get('unembed.hook_in').data;
    const V = cfg.d_vocab_out;
    let worst = 0;
    for (let p = 0; p < TOKENS.length; p++)
      for (const v of [0, 464, 50256]) {
        let s = w.b_U.data[v]!;
        for (let d = 0; d < cfg.d_model; d++) s += x[p * cfg.d_model + d]! * w.W_U.data[d * V + v]!;
        worst = Math.max(worst, Math.abs(s - logits.data[p * V + v]!) / Math.max(1, Math.abs(s)));
      }
    assert.ok(worst < 1e-5, `unembedding off by ${worst}`);
  });

  it('attention scores are causally masked with -inf and patterns are softmaxes', async () => {
    const { cache } = await model.runWithCache(TOKENS, { names: ['blocks.0.attn.hook_attn_scores', 'blocks.0.attn.hook_pattern'] });
    const scores = cache.get('blocks.0.attn.hook_attn_scores');
    const pattern = cache.get('blocks.0.attn.hook_pattern');
    const P = TOKENS.length;
    for (let r = 0; r < model.cfg.n_heads * P; r++) {
      const q = r % P;
      let sum = 0;
      for (let k = 0; k < P; k++) {
        const s = scores.data[r * P + k]!;
        assert.equal(k > q, s === -Infinity, `score [${r}, ${k}]`);
        sum += pattern.data[r * P + k]!;
      }
      assert.ok(Math.abs(sum - 1) < 1e-6);
    }
  });

  it('only the requested names come back (list, glob, predicate) and unknown names are refused', async () => {
    const a = await model.runWithCache(TOKENS, { names: ['blocks.1.mlp.hook_post', 'hook_embed'] });
    assert.deepEqual(a.cache.names(), ['hook_embed', 'blocks.1.mlp.hook_post']);
    const b = await model.runWithCache(TOKENS, { names: 'blocks.*.attn.hook_pattern' });
    assert.deepEqual(b.cache.names(), ['blocks.0.attn.hook_pattern', 'blocks.1.attn.hook_pattern']);
    const c = await model.runWithCache(TOKENS, { names: (n) => n.endsWith('hook_scale') });
    assert.equal(c.cache.size, 2 * model.cfg.n_layers + 1);
    await assert.rejects(
      model.runWithCache(TOKENS, { names: ['blocks.0.attn.hook_patern'] }),
      /no hook point named 'blocks.0.attn.hook_patern'/,
    );
  });

  it('a replacing hook changes downstream results and equals the in-graph zero ablation', async () => {
    const clean = await model.run(TOKENS);
    let seen: readonly number[] = [];
    const hooked = await model.runWithHooks(TOKENS, [
      {
        name: 'blocks.0.attn.hook_z',
        fn: (z: Tensor) => {
          seen = z.dims;
          const out = new Float32Array(z.data);
          const [, P, H, E] = z.dims as [number, number, number, number];
          for (let p = 0; p < P; p++) for (let e = 0; e < E; e++) out[(p * H + 2) * E + e] = 0;
          return { dims: z.dims, data: out };
        },
      },
    ]);
    assert.deepEqual(seen, [1, TOKENS.length, model.cfg.n_heads, model.cfg.d_head]);
    assert.ok(maxAbsDiff(clean.data, hooked.data) > 1e-3, 'ablating a head must change the logits');
    const { logits: viaGraph } = await model.runWithInterventions(TOKENS, [{ kind: 'ablateHeads', layer: 0, heads: [2] }]);
    assert.ok(maxAbsDiff(hooked.data, viaGraph.data) < 1e-5, `hook and intervention differ by ${maxAbsDiff(hooked.data, viaGraph.data)}`);
  });

  it('a read-only hook (in-place or no return) sees the cached value and changes nothing', async () => {
    const { logits: clean, cache } = await model.runWithCache(TOKENS, { names: ['blocks.1.hook_resid_mid'] });
    let copy: Float32Array | null = null;
    const logits = await model.runWithHooks(TOKENS, [{ name: 'blocks.1.hook_resid_mid', fn: (t) => void (copy = t.data.slice()) }]);
    assert.equal(maxAbsDiff(copy!, cache.get('blocks.1.hook_resid_mid').data), 0);
    assert.ok(maxAbsDiff(logits.data, clean.data) < 1e-6);
  });

  it('in-place edits by a hook are used downstream, and several hooks chain', async () => {
    const zeroed = await model.runWithHooks(TOKENS, [
      { name: 'blocks.1.hook_mlp_out', fn: (t) => void t.data.fill(0) },
      { name: 'blocks.0.attn.hook_pattern', fn: async (t) => ({ dims: t.dims, data: t.data.slice() }) },
    ]);
    const { logits } = await model.runWithInterventions(TOKENS, [
      { kind: 'addVector', hook: 'blocks.1.hook_mlp_out', vector: { dims: [1], data: Float32Array.of(0) } },
    ]);
    assert.ok(maxAbsDiff(zeroed.data, logits.data) > 1e-3);
  });

  it('a throwing hook rejects the call and leaves the model usable', async () => {
    const clean = await model.run(TOKENS);
    await assert.rejects(
      model.runWithHooks(TOKENS, [
        {
          name: 'blocks.0.hook_resid_post',
          fn: () => {
            throw new Error('boom');
          },
        },
      ]),
      /boom/,
    );
    await assert.rejects(
      model.runWithHooks(TOKENS, [{ name: 'blocks.0.hook_resid_post', fn: (t) => ({ dims: [1], data: t.data.slice(0, 1) }) }]),
      /returned shape \[1\]/,
    );
    const again = await model.run(TOKENS);
    assert.equal(maxAbsDiff(clean.data, again.data), 0);
  });

  it('patching a hook from another run’s cache stays in the graph and reproduces that run', async () => {
    const other = await model.runWithCache(OTHER, { names: ['blocks.0.hook_resid_pre'] });
    const patched = await model.runWithInterventions(TOKENS, [
      { kind: 'patch', hook: 'blocks.0.hook_resid_pre', source: other.cache.get('blocks.0.hook_resid_pre') },
    ]);
    assert.ok(maxAbsDiff(patched.logits.data, other.logits.data) < 1e-5);
    // One position only: earlier positions are untouched (causality), later ones change.
    const clean = await model.run(TOKENS);
    const onePos = await model.runWithInterventions(TOKENS, [
      { kind: 'patch', hook: 'blocks.0.hook_resid_pre', source: other.cache.get('blocks.0.hook_resid_pre'), positions: [4] },
    ]);
    const V = model.cfg.d_vocab_out;
    assert.equal(maxAbsDiff(onePos.logits.data.subarray(0, 4 * V), clean.data.subarray(0, 4 * V)), 0);
    assert.ok(maxAbsDiff(onePos.logits.data.subarray(4 * V), clean.data.subarray(4 * V)) > 1e-3);
    await assert.rejects(
      model.runWithInterventions(TOKENS.slice(0, 3), [
        { kind: 'patch', hook: 'blocks.0.hook_resid_pre', source: other.cache.get('blocks.0.hook_resid_pre') },
      ]),
      /this run needs \[1, 3, 16\]/,
    );
  });

  it('mean ablation of neurons and heads, and adding a vector, act on the hook in the graph', async () => {
    const { cache } = await model.runWithCache(OTHER, { names: ['blocks.0.mlp.hook_post', 'blocks.1.attn.hook_z'] });
    const post = cache.get('blocks.0.mlp.hook_post');
    const mean = new Float32Array(model.cfg.d_mlp);
    const P = OTHER.length;
    for (let p = 0; p < P; p++) for (let n = 0; n < mean.length; n++) mean[n]! += post.data[p * mean.length + n]! / P;
    const r = await model.runWithInterventions(
      TOKENS,
      [{ kind: 'ablateNeurons', layer: 0, neurons: [3, 5], mean: { dims: [model.cfg.d_mlp], data: mean } }],
      { names: ['blocks.0.mlp.hook_post'] },
    );
    const got = r.cache.get('blocks.0.mlp.hook_post').data;
    const { cache: clean } = await model.runWithCache(TOKENS, { names: ['blocks.0.mlp.hook_post'] });
    for (let p = 0; p < TOKENS.length; p++) {
      assert.equal(got[p * mean.length + 3], mean[3]);
      assert.equal(got[p * mean.length + 5], mean[5]);
      assert.equal(got[p * mean.length + 4], clean.get('blocks.0.mlp.hook_post').data[p * mean.length + 4]);
    }
    const vec = Float32Array.from({ length: model.cfg.d_model }, (_, i) => (i % 3) - 1);
    const steered = await model.runWithInterventions(TOKENS, [
      { kind: 'addVector', hook: 'blocks.1.hook_resid_pre', vector: { dims: [model.cfg.d_model], data: vec }, positions: [2] },
    ]);
    const viaHook = await model.runWithHooks(TOKENS, [
      {
        name: 'blocks.1.hook_resid_pre',
        fn: (t) => {
          for (let d = 0; d < vec.length; d++) t.data[2 * vec.length + d]! += vec[d]!;
        },
      },
    ]);
    assert.ok(maxAbsDiff(steered.logits.data, viaHook.data) < 1e-5);
    await assert.rejects(
      model.runWithInterventions(TOKENS, [{ kind: 'ablateHeads', layer: 0, heads: [9] }]),
      /head index 9 is out of range 0..3/,
    );
    await assert.rejects(
      model.runWithInterventions(TOKENS, [{ kind: 'ablateHeads', layer: 0, heads: [1], hook: 'result' }]),
      /no hook point named 'blocks.0.attn.hook_result'/,
    );
  });

  it('bad tokens get a specific error', async () => {
    await assert.rejects(model.run([]), /no tokens/);
    await assert.rejects(model.run([1, 50257]), /token 1 is 50257/);
    await assert.rejects(model.run(Array.from({ length: 33 }, () => 1)), /exceed the context window n_ctx=32/);
  });

  it('dispose releases every session and later calls are refused', async () => {
    const cfg = tinyConfig();
    const m = await HookedGPT2.fromWeights(cfg, randomWeights(cfg, 3), { threads: 1 });
    await m.runWithHooks(TOKENS, [{ name: 'hook_embed', fn: () => undefined }]);
    assert.equal(m.openSessions, 2);
    await m.dispose();
    assert.equal(m.openSessions, 0);
    await assert.rejects(m.run(TOKENS), /disposed/);
  });
});

describe('HookedGPT2.fromPretrained (generated tiny GPT-2)', { timeout: TIMEOUT }, () => {
  let dir: string;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'model-lens-model-'));
    await generateTinyGpt2(dir, { seed: 5, tiedLmHead: true });
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('loads, processes (LNPre after fold_ln) and tokenizes like TransformerLens', async () => {
    const m = await HookedGPT2.fromPretrained(dir, { threads: 1 });
    const raw = await HookedGPT2.fromPretrained(dir, { processing: false, threads: 1 });
    try {
      assert.equal(m.cfg.normalization_type, 'LNPre');
      assert.equal(raw.cfg.normalization_type, 'LN');
      const { tokens, truncated } = m.toTokens('Hello world');
      assert.deepEqual(tokens, [50256, 15496, 995]);
      assert.equal(truncated, false);
      assert.deepEqual(m.toTokens('Hello world', { prependBos: false }).tokens, [15496, 995]);
      assert.deepEqual(m.toStrTokens('Hello world'), ['<|endoftext|>', 'Hello', ' world']);
      assert.equal(m.decode([15496, 995]), 'Hello world');
      const long = m.toTokens(' a'.repeat(2000));
      assert.equal(long.tokens.length, m.cfg.n_ctx);
      assert.equal(long.truncated, true);
      assert.match(long.notice ?? '', /only the first 1024/);
      // Processing leaves log-probabilities unchanged (center_unembed shifts logits per position).
      const a = await m.run(tokens);
      const b = await raw.run(tokens);
      const V = m.cfg.d_vocab_out;
      const lsm = (x: Float32Array, p: number): number[] => {
        const row = Array.from(x.subarray(p * V, (p + 1) * V));
        const mx = Math.max(...row);
        const lse = mx + Math.log(row.reduce((s, v) => s + Math.exp(v - mx), 0));
        return row.map((v) => v - lse);
      };
      for (let p = 0; p < tokens.length; p++) {
        const la = lsm(a.data, p);
        const lb = lsm(b.data, p);
        assert.ok(Math.max(...la.map((v, i) => Math.abs(v - lb[i]!))) < 1e-4);
      }
    } finally {
      await m.dispose();
      await raw.dispose();
    }
  });
});
