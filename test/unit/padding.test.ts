// Batches of prompts of unequal length: right-padded to the longest, with an attention mask that
// every layer's attention respects (kernels/attention.ts, as TransformerLens's apply_causal_mask).
// At every real position of each prompt, every hook of the padded batch equals the prompt run
// alone, processed and unprocessed; metric readouts (logit difference at each prompt's own last
// position, the mean loss over its real positions) equal the one-by-one values, also over more
// than 256 positions, where the loss is answered in windows.
//
// Tolerance: |batched − alone| ≤ 1e-6 · max(1, max|alone|) per hook over the real positions: an
// absolute 1e-6 for values of order 1, relative for large ones (attention scores, logits). Both
// are float32 runs of the same graph but for the mask and the batch's width, so they differ only
// by the order onnxruntime sums in; -inf scores (the causal mask) must match exactly.
import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { HookedGPT2 } from '../../src/engine/model';
import { generateTinyGpt2 } from '../../src/engine/tinyGpt2';
import type { Tensor } from '../../src/engine/types';
import { metric } from '../../kernels/readouts/metric';
import { lossAndTopK } from '../../kernels/readouts/lossAndTopK';

const TOL = 1e-6;
const A = [50256, 464, 2068, 7586, 21831, 18045, 625, 262, 16931, 3290];
const B = [50256, 40, 588, 257, 1110, 286];
const C = [50256, 40, 2068];

/** Worst |batched − alone| / max(1, max|alone|) over the alone tensor's positions, read from batch entry k of `batched`. */
function realError(batched: Tensor, k: number, alone: Tensor, what: string): number {
  const bd = batched.dims;
  const ad = alone.dims;
  assert.equal(bd.length, ad.length, `${what}: rank`);
  const stride = (d: readonly number[]): number[] => d.map((_, i) => d.slice(i + 1).reduce((a, x) => a * x, 1));
  const [bs, as] = [stride(bd), stride(ad)];
  let scale = 1;
  for (const v of alone.data) if (Number.isFinite(v)) scale = Math.max(scale, Math.abs(v));
  let worst = 0;
  for (let i = 0; i < alone.data.length; i++) {
    let at = k * bs[0]!;
    for (let a = 1; a < ad.length; a++) at += (Math.floor(i / as[a]!) % ad[a]!) * bs[a]!;
    const [x, y] = [batched.data[at]!, alone.data[i]!];
    if (!Number.isFinite(y) || !Number.isFinite(x)) {
      assert.equal(x, y, `${what}: non-finite at ${i}`);
      continue;
    }
    worst = Math.max(worst, Math.abs(x - y) / scale);
  }
  return worst;
}

describe('padded batches (right padding, attention mask) equal their prompts run one by one', { timeout: 300_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'model-lens-padding-'));
  const models: Partial<Record<'processed' | 'raw', HookedGPT2>> = {};
  before(async () => {
    await generateTinyGpt2(dir, { seed: 17 });
    for (const mode of ['processed', 'raw'] as const) {
      models[mode] = await HookedGPT2.fromPretrained(dir, { processing: mode === 'processed', threads: 1 });
    }
  });
  after(async () => {
    for (const m of Object.values(models)) await m?.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  for (const mode of ['processed', 'raw'] as const) {
    it(`${mode}: every hook at every real position, and the logits, equal each prompt alone; results carry the lengths`, async () => {
      const model = models[mode]!;
      const batched = await model.runWithCache([A, B, C]);
      assert.deepEqual(batched.lengths, [A.length, B.length, C.length]);
      assert.deepEqual(batched.logits.dims, [3, A.length, model.cfg.d_vocab_out]);
      for (const [k, toks] of [A, B, C].entries()) {
        const alone = await model.runWithCache(toks);
        const e = realError(batched.logits, k, alone.logits, 'logits');
        assert.ok(e <= TOL, `prompt ${k} logits error ${e}`);
        const names = alone.cache.names();
        assert.equal(names.length, model.hookPoints().length);
        for (const name of names) {
          const err = realError(batched.cache.get(name), k, alone.cache.get(name), name);
          assert.ok(err <= TOL, `prompt ${k} ${name} error ${err}`);
        }
      }
    });

    it(`${mode}: padded keys are masked in every layer (a padded query attends to its prompt's real keys only)`, async () => {
      const model = models[mode]!;
      const { cache } = await model.runWithCache([A, C], { names: (n) => n.endsWith('hook_pattern') });
      const P = A.length;
      for (let l = 0; l < model.cfg.n_layers; l++) {
        const pat = cache.get(`blocks.${l}.attn.hook_pattern`); // [2, H, P, P]
        const H = pat.dims[1]!;
        for (let h = 0; h < H; h++) {
          for (let q = 0; q < P; q++) {
            let padded = 0;
            for (let key = C.length; key < P; key++) padded += pat.data[((1 * H + h) * P + q) * P + key]!;
            assert.equal(padded, 0, `layer ${l} head ${h} query ${q} attends to padding`);
          }
        }
      }
    });
  }

  it('interventions and the last position (logitsAt last) follow each prompt', async () => {
    const model = models.processed!;
    const ivs = [{ kind: 'ablateHeads', layer: 1, heads: [0, 2] } as const];
    const batched = await model.runWithInterventions([B, A, C], ivs);
    const last = await model.run([B, A, C], { logitsAt: 'last' });
    assert.deepEqual(last.dims, [3, 1, model.cfg.d_vocab_out]);
    const V = model.cfg.d_vocab_out;
    for (const [k, toks] of [B, A, C].entries()) {
      const alone = await model.runWithInterventions(toks, ivs);
      assert.ok(realError(batched.logits, k, alone.logits, 'logits') <= TOL, `prompt ${k} ablated logits`);
      const aloneLast = await model.run(toks, { logitsAt: 'last' });
      const e = realError({ dims: [3, 1, V], data: last.data }, k, aloneLast, 'last logits');
      assert.ok(e <= TOL, `prompt ${k} last-position logits error ${e}`);
    }
  });

  it('a function hook (a cut of the graph) sees the padded batch, and the logits still equal each prompt alone', async () => {
    const model = models.raw!;
    const seen: number[][] = [];
    const logits = await model.runWithHooks([A, C], [{ name: 'blocks.1.hook_resid_pre', fn: (t) => void seen.push([...t.dims]) }]);
    assert.deepEqual(seen, [[2, A.length, model.cfg.d_model]]);
    for (const [k, toks] of [A, C].entries()) {
      const e = realError(logits, k, await model.run(toks), 'logits');
      assert.ok(e <= TOL, `prompt ${k} logits error ${e}`);
    }
  });

  it('metric readouts on a padded batch equal the one-by-one values: logit difference at the last position, mean loss', async () => {
    const model = models.raw!;
    const diff = metric({ kind: 'logitDiff', answer: 262, wrong: 625 }, model.cfg.d_vocab_out);
    const loss = metric({ kind: 'loss' }, model.cfg.d_vocab_out);
    for (const r of [diff, loss]) {
      const got = (await model.readout([A, B, C], [r])).get(r.key)!['metric']!.data as Float32Array;
      assert.equal(got.length, 3);
      for (const [k, toks] of [A, B, C].entries()) {
        const alone = ((await model.readout(toks, [r])).get(r.key)!['metric']!.data as Float32Array)[0]!;
        assert.ok(Math.abs(got[k]! - alone) <= TOL * Math.max(1, Math.abs(alone)), `${r.key} prompt ${k}: ${got[k]} vs ${alone}`);
      }
    }
  });

  it('over more than 256 positions (windowed loss), a padded batch equals its prompts one by one', async () => {
    const model = models.processed!;
    const long = (n: number, seed: number): number[] => Array.from({ length: n }, (_, i) => (i === 0 ? 50256 : 100 + ((i * seed) % 40000)));
    const prompts = [long(300, 7919), long(270, 104729), long(40, 31)];
    const loss = metric({ kind: 'loss' }, model.cfg.d_vocab_out);
    const answers = await model.readout(prompts, [loss, lossAndTopK(2)]);
    const mean = answers.get(loss.key)!['metric']!.data as Float32Array;
    const rows = answers.get('lossAndTopK')!['loss']!;
    assert.deepEqual(rows.dims, [3, 300, 1]);
    for (const [k, toks] of prompts.entries()) {
      const alone = await model.readout(toks, [loss, lossAndTopK(2)]);
      const m = (alone.get(loss.key)!['metric']!.data as Float32Array)[0]!;
      assert.ok(Math.abs(mean[k]! - m) <= TOL * Math.max(1, Math.abs(m)), `prompt ${k} mean loss ${mean[k]} vs ${m}`);
      const a = alone.get('lossAndTopK')!['loss']!;
      const own = { dims: [1, toks.length - 1, 1], data: (a.data as Float32Array).slice(0, toks.length - 1) };
      const e = realError({ dims: rows.dims, data: rows.data as Float32Array }, k, own, 'per-position loss');
      assert.ok(e <= TOL, `prompt ${k} per-position loss error ${e}`);
    }
  });
});
