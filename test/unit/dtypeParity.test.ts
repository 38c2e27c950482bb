// Weights stored at 16 bits (ModelOptions.dtype 'fp16' and 'bf16') against the independent
// float64 reference (test/reference/), hook by hook, processed and unprocessed. The error is each
// weight's rounding (float16: 11 significant bits; bfloat16: 8) carried through the forward pass;
// README.md states the figures.
//
// Metric: relErr = max|engine - ref| / max|ref| per hook (test/support/compare.ts), tolerance
// FP16_TOL or BF16_TOL; the logits' largest absolute error is printed beside TransformerLens's own
// (~0.0165 on gpt2 in float16, computed in float16 throughout; here only the weights are 16-bit).
import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runCommand } from '../../src/cli/runCommand';
import { HookedGPT2 } from '../../src/engine/model';
import { readSafetensors } from '../../src/engine/safetensors/read';
import { generateTinyGpt2 } from '../../src/engine/tinyGpt2';
import { DEFAULT_PROCESSING, type Tensor } from '../../src/engine/types';
import type { WeightDtype } from '../../src/engine/weightDtype';
import { maxAbsDiff, relErr, worst, type HookError } from '../support/compare';
import { DEFAULT_FLAGS, referenceRun, type RefRun } from '../reference/gpt2Float64';
import { loadReferenceModel, processReferenceWeights } from '../reference/gpt2Weights64';

/** Stated in README.md ("Weight precision"). */
const FP16_TOL = 5e-3;
/**
 * Measured worst 7.7e-3 (blocks.1.attn.hook_attn_scores, unprocessed; fp16's is 1.45e-3, 5.3×):
 * about 4× margin, as FP16_TOL leaves over fp16's.
 */
const BF16_TOL = 3e-2;
/**
 * The least worst-hook error each must show: the weights really were rounded (a float32 run is
 * within 1e-5, parity.test.ts), and bf16's more than fp16's worst (1.45e-3), so bfloat16's 8
 * significant bits were used, not float16's 11.
 */
const FLOOR = { fp16: 1e-5, bf16: 3e-3 } as const;
const TOKENS = [50256, 464, 2068, 7586, 21831, 18045, 625, 262, 16931, 3290, 13, 198, 40, 1101, 257, 1332, 286, 262, 2068, 21831, 13];

/** Processed or not, from an untied checkpoint and from a tied one (its 16-bit W_E also unembeds: src/engine/tiedUnembed.ts). */
const MODES = ['processed', 'raw', 'processed, tied', 'raw, tied'] as const;
type Mode = (typeof MODES)[number];

for (const [dtype, tol] of [
  ['fp16', FP16_TOL],
  ['bf16', BF16_TOL],
] as const)
  describeDtype(dtype, tol);

function describeDtype(dtype: Exclude<WeightDtype, 'fp32'>, tol: number): void {
  describe(`${dtype} weights: parity with the float64 reference`, { timeout: 300_000 }, () => {
    let dir: string;
    const runs: Partial<Record<Mode, { logits: Tensor; acts: Map<string, Tensor>; ref: RefRun }>> = {};
    before(async () => {
      dir = mkdtempSync(join(tmpdir(), `model-lens-${dtype}-`));
      for (const tied of [false, true]) {
        const folder = join(dir, tied ? 'tied' : 'untied');
        await generateTinyGpt2(folder, { seed: 11, tiedLmHead: tied });
        const refModel = loadReferenceModel(folder);
        for (const processed of [true, false]) {
          const model = await HookedGPT2.fromPretrained(folder, { processing: processed, dtype, threads: 1 });
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
      it(`${mode}: every hook and the logits within ${tol}`, () => {
        const r = runs[mode]!;
        const hooks: HookError[] = [...r.ref.cache].map(([name, ref]) => ({ name, err: relErr(r.acts.get(name)!.data, ref.data) }));
        assert.equal(hooks.length, r.acts.size);
        const w = worst(hooks);
        const logitsRel = relErr(r.logits.data, r.ref.logits.data);
        const logitsAbs = maxAbsDiff(r.logits.data, r.ref.logits.data);
        console.log(
          `${dtype} ${mode}: worst hook ${w.name} relErr ${w.err.toExponential(2)}; logits relErr ${logitsRel.toExponential(2)}, max abs ${logitsAbs.toExponential(2)}`,
        );
        assert.ok(w.err <= tol, `worst hook ${w.name}: relErr ${w.err.toExponential(3)} > ${tol}`);
        assert.ok(logitsRel <= tol, `logits relErr ${logitsRel.toExponential(3)}`);
        assert.ok(w.err > FLOOR[dtype], `worst hook relErr ${w.err.toExponential(3)} is too small to be ${dtype}'s`);
      });
    }

    it(`the CLI's --dtype ${dtype} exports the same logits as the engine's`, async () => {
      const out = join(dir, `${dtype}.safetensors`);
      let err = '';
      const code = await runCommand.run(
        ['--model', join(dir, 'tied'), '--tokens', TOKENS.join(','), '--dtype', dtype, '--names', 'hook_embed', '--out', out],
        { stdout: () => undefined, stderr: (t) => (err += t) },
      );
      assert.equal(code, 0, err);
      const logits = await (await readSafetensors(out)).getTensorF32('logits');
      const r = runs['processed, tied']!;
      // The same weights and graph (only the thread count may differ): float32's agreement, while
      // the reference is the dtype's rounding away.
      assert.ok(relErr(logits, r.logits.data) <= 1e-5, `CLI vs engine relErr ${relErr(logits, r.logits.data).toExponential(3)}`);
      assert.ok(relErr(logits, r.ref.logits.data) > 1e-4);
    });
  });
}
