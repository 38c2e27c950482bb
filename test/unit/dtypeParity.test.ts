// Weights stored at float16 (ModelOptions.dtype 'fp16') against the independent float64
// reference (test/reference/), hook by hook, processed and unprocessed. The error is float16's
// rounding of each weight carried through the forward pass; README.md states the figures.
//
// Metric: relErr = max|engine - ref| / max|ref| per hook (test/support/compare.ts), tolerance
// FP16_TOL; the logits' largest absolute error is printed beside TransformerLens's own (~0.0165
// on gpt2 in float16, computed in float16 throughout; here only the weights are float16).
import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { HookedGPT2 } from '../../src/engine/model';
import { generateTinyGpt2 } from '../../src/engine/tinyGpt2';
import { DEFAULT_PROCESSING, type Tensor } from '../../src/engine/types';
import { BF16_UNAVAILABLE } from '../../src/engine/weightDtype';
import { maxAbsDiff, relErr, worst, type HookError } from '../support/compare';
import { DEFAULT_FLAGS, referenceRun, type RefRun } from '../reference/gpt2Float64';
import { loadReferenceModel, processReferenceWeights } from '../reference/gpt2Weights64';

/** Stated in README.md ("Weight precision"). */
const FP16_TOL = 5e-3;
const TOKENS = [50256, 464, 2068, 7586, 21831, 18045, 625, 262, 16931, 3290, 13, 198, 40, 1101, 257, 1332, 286, 262, 2068, 21831, 13];

/** Processed or not, from an untied checkpoint and from a tied one (its float16 W_E also unembeds: src/engine/tiedUnembed.ts). */
const MODES = ['processed', 'raw', 'processed, tied', 'raw, tied'] as const;
type Mode = (typeof MODES)[number];

describe('fp16 weights: parity with the float64 reference', { timeout: 300_000 }, () => {
  let dir: string;
  const runs: Partial<Record<Mode, { logits: Tensor; acts: Map<string, Tensor>; ref: RefRun }>> = {};
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'model-lens-fp16-'));
    for (const tied of [false, true]) {
      const folder = join(dir, tied ? 'tied' : 'untied');
      await generateTinyGpt2(folder, { seed: 11, tiedLmHead: tied });
      const refModel = loadReferenceModel(folder);
      for (const processed of [true, false]) {
        const model = await HookedGPT2.fromPretrained(folder, { processing: processed, dtype: 'fp16', threads: 1 });
        try {
          const { logits, cache } = await model.runWithCache(TOKENS);
          const w = processed ? processReferenceWeights(refModel.weights, refModel.cfg, DEFAULT_PROCESSING) : refModel.weights;
          runs[`${processed ? 'processed' : 'raw'}${tied ? ', tied' : ''}`] = {
            logits,
            acts: new Map(cache.names().map((n) => [n, cache.get(n)] as const)),
            ref: referenceRun(refModel.cfg, w, TOKENS, DEFAULT_FLAGS, '3.x'),
          };
        } finally {
          await model.dispose();
        }
      }
    }
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  for (const mode of MODES) {
    it(`${mode}: every hook and the logits within ${FP16_TOL}`, () => {
      const r = runs[mode]!;
      const hooks: HookError[] = [...r.ref.cache].map(([name, ref]) => ({ name, err: relErr(r.acts.get(name)!.data, ref.data) }));
      assert.equal(hooks.length, r.acts.size);
      const w = worst(hooks);
      const logitsRel = relErr(r.logits.data, r.ref.logits.data);
      const logitsAbs = maxAbsDiff(r.logits.data, r.ref.logits.data);
      console.log(
        `fp16 ${mode}: worst hook ${w.name} relErr ${w.err.toExponential(2)}; logits relErr ${logitsRel.toExponential(2)}, max abs ${logitsAbs.toExponential(2)}`,
      );
      assert.ok(w.err <= FP16_TOL, `worst hook ${w.name}: relErr ${w.err.toExponential(3)} > ${FP16_TOL}`);
      assert.ok(logitsRel <= FP16_TOL, `logits relErr ${logitsRel.toExponential(3)}`);
      // Not exact: the weights really were rounded (a float32 run is within 1e-5, parity.test.ts).
      assert.ok(w.err > 1e-5, `worst hook relErr ${w.err.toExponential(3)} is float32's, not float16's`);
    });
  }

  it('bf16 is refused with the reason', async () => {
    await assert.rejects(HookedGPT2.fromPretrained(join(dir, 'tied'), { dtype: 'bf16' }), (e: Error) => e.message === BF16_UNAVAILABLE);
  });
});
