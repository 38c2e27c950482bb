// A tied checkpoint keeps one copy of the embedding (src/engine/tiedUnembed.ts): the model holds
// no W_U array, and the W_U materialised on demand equals what processing computed when it kept
// one (wte's transpose, processed as a matrix), for every combination of the switches.
// The graph's side (logits, readouts, fp16) is checked against the float64 reference in
// processingSwitches.test.ts, readouts.test.ts and dtypeParity.test.ts, each with a tied checkpoint.
import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setImmediate as tick } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { loadCheckpoint } from '../../src/engine/checkpoint/load';
import { collectGarbage } from '../../src/engine/collectGarbage';
import { HookedGPT2 } from '../../src/engine/model';
import { processWeights } from '../../src/engine/processing';
import { generateTinyGpt2 } from '../../src/engine/tinyGpt2';
import { DEFAULT_PROCESSING, type GPT2Weights } from '../../src/engine/types';
import { centreTie, foldAndCentreTie, foldIntoTie, offsetTie, UNPROCESSED_TIE } from '../../src/engine/tiedUnembed';
import { COMBINATIONS, short } from './helpers/processingCombinations';

/** The weights as the loader made them before the tie was kept: W_U a real array (wte's transpose), processed as a matrix. */
function untiedCopy(w: GPT2Weights): GPT2Weights {
  const { tiedUnembed: _tie, ...rest } = w;
  return { ...rest, W_U: { dims: w.W_U.dims, data: Float32Array.from(w.W_U.data) } };
}

/**
 * Largest difference in units of float32's spacing at the matrix's largest magnitude: the two ways
 * round at different steps (the old one after each step, the new one once, from a W_E that
 * center_writing_weights rounded): measured at most 0.75 such units apart on this model.
 */
function ulpsApart(a: Float32Array, b: Float32Array): number {
  let max = 0;
  let diff = 0;
  for (let i = 0; i < a.length; i++) {
    max = Math.max(max, Math.abs(b[i]!));
    diff = Math.max(diff, Math.abs(a[i]! - b[i]!));
  }
  if (max === 0) return diff === 0 ? 0 : Infinity;
  return diff / (max * 2 ** -23);
}

it('foldAndCentreTie, one pass over W_E, makes the floats of the three steps it stands for, bit for bit', () => {
  // An odd vocabulary, so that its last row goes alone; values with a sign, a scale and an offset.
  const d_vocab = 1001;
  const d_model = 10;
  const wave = (n: number, k: number): Float32Array =>
    Float32Array.from({ length: n }, (_, i) => Math.sin(i * k + 0.3) * (1 + (i % 7)) + 0.25);
  const E = wave(d_vocab * d_model, 1.7);
  const g = wave(d_model, 0.9);
  const s = wave(d_model, 2.3);
  const b_U = wave(d_vocab, 0.4);
  // The steps, as processWeights makes them one after the other: fold, centre W_E's rows, centre the unembedding.
  const stepB = new Float32Array(d_vocab);
  let tie = foldIntoTie(E, d_vocab, d_model, UNPROCESSED_TIE, g, s, b_U, stepB);
  const mu = new Float64Array(d_vocab);
  const stepE = new Float32Array(E.length);
  for (let v = 0; v < d_vocab; v++) {
    let t = 0;
    for (let m = 0; m < d_model; m++) t += E[v * d_model + m]!;
    mu[v] = t / d_model;
    for (let m = 0; m < d_model; m++) stepE[v * d_model + m] = E[v * d_model + m]! - mu[v]!;
  }
  tie = centreTie(stepE, d_vocab, d_model, offsetTie(tie, mu));
  const fusedB = new Float32Array(d_vocab);
  const fusedE = Float32Array.from(E); // in place, as fromPretrained runs it
  const fused = foldAndCentreTie(fusedE, d_vocab, d_model, g, s, b_U, fusedB, fusedE);
  assert.deepEqual(fusedE, stepE);
  assert.deepEqual(fusedB, stepB);
  assert.deepEqual(fused, tie);
});

describe('tied unembedding: one copy of the embedding', { timeout: 300_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'model-lens-tied-'));
  before(async () => {
    // The embedding is most of this model (50,257 × 64 floats = 12.9 MB), so a second copy shows.
    await generateTinyGpt2(dir, { seed: 31, n_layer: 2, n_embd: 64, n_head: 2, tiedLmHead: true });
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('loaded, W_U is exactly W_E transposed', async () => {
    const { weights: w } = await loadCheckpoint(dir);
    assert.ok(w.tiedUnembed !== undefined);
    const [V, D] = w.W_E.dims as [number, number];
    const U = w.W_U.data;
    for (let v = 0; v < V; v += 97) for (let m = 0; m < D; m++) assert.equal(U[m * V + v], w.W_E.data[v * D + m]);
  });

  for (const p of COMBINATIONS) {
    it(`processed W_U and b_U equal the matrix processing's to float32 rounding: ${short(p)}`, async () => {
      const { cfg, weights } = await loadCheckpoint(dir);
      const old = processWeights(cfg, untiedCopy(weights), p).weights;
      const tied = processWeights(cfg, weights, p).weights;
      assert.ok(tied.tiedUnembed !== undefined, 'the tie is kept through processing');
      assert.equal(old.tiedUnembed, undefined);
      const apart = ulpsApart(tied.W_U.data, old.W_U.data);
      assert.ok(apart <= 2, `W_U ${apart.toFixed(2)} ulps apart`);
      // b_U's sums run over the same floats in the same order both ways.
      assert.deepEqual(tied.b_U.data, old.b_U.data);
      // And in place, as fromPretrained processes.
      const inPlace = processWeights(cfg, (await loadCheckpoint(dir)).weights, p, { inPlace: true }).weights;
      assert.ok(ulpsApart(inPlace.W_U.data, old.W_U.data) <= 2);
    });
  }

  // float16's rounding of W_E (11 significant bits) or bfloat16's (8), not float32's.
  for (const [dtype, most, least] of [
    ['fp16', 2 ** 13, 4],
    ['bf16', 2 ** 16, 2 ** 13],
  ] as const) {
    it(`${dtype} too: W_U is computed from the 16-bit W_E on access`, async () => {
      const model = await HookedGPT2.fromPretrained(dir, { dtype, threads: 1 });
      try {
        const { cfg, weights } = await loadCheckpoint(dir);
        const old = processWeights(cfg, untiedCopy(weights), DEFAULT_PROCESSING).weights.W_U.data;
        const got = model.processedWeights.W_U.data;
        console.log(`${dtype}: W_U ${ulpsApart(got, old).toFixed(0)} float32 units apart`);
        assert.ok(ulpsApart(got, old) <= most, `${ulpsApart(got, old)}`);
        assert.ok(ulpsApart(got, old) > least, `the ${dtype} W_E is what it is computed from`);
      } finally {
        await model.dispose();
      }
    });
  }

  it('a loaded tied model holds the checkpoint’s bytes, not a second W_U; W_U read is let go', async () => {
    const fileBytes = statSync(join(dir, 'model.safetensors')).size;
    const embedBytes = 50257 * 64 * 4;
    collectGarbage();
    const before = process.memoryUsage().arrayBuffers;
    const model = await HookedGPT2.fromPretrained(dir, { threads: 1 });
    try {
      await model.run([50256, 464, 2068]);
      await tick();
      collectGarbage();
      const held = process.memoryUsage().arrayBuffers - before;
      // A second copy of the embedding would be embedBytes more (it was, before the tie was kept).
      assert.ok(
        held < fileBytes + embedBytes / 4,
        `held ${(held / 2 ** 20).toFixed(1)} MiB for a ${(fileBytes / 2 ** 20).toFixed(1)} MiB checkpoint`,
      );
      let U: Float32Array | null = model.processedWeights.W_U.data;
      assert.equal(U.length, embedBytes / 4);
      assert.equal(model.processedWeights.W_U.data, U, 'read again while held: the same array');
      const whileHeld = process.memoryUsage().arrayBuffers - before;
      assert.ok(whileHeld >= held + embedBytes * 0.9, 'materialised on demand');
      U = null;
      await tick();
      collectGarbage();
      const after = process.memoryUsage().arrayBuffers - before;
      assert.ok(after < held + embedBytes / 4, `let go once unused: ${(after / 2 ** 20).toFixed(1)} MiB`);
    } finally {
      await model.dispose();
    }
  });
});
