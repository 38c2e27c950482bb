// Activation patching against the float64 reference, which does each patch by hand: a clean
// reference run records every hook, then the corrupted reference run copies the patched cell's
// values from it as the hook fires (RefEdit), and the metric is taken from its float64 logits.
// Every sweep kind, whole sweeps on the tiny model, processed and unprocessed.
//
// Tolerance: raw metric |engine − ref| ≤ 2e-5·max(1, |ref|) (the engine is float32 end to end);
// normalised within that over |clean − corrupted| (times 3), the denominators checked to be ≥ 0.03.
// The answers (" sv" vs " brown") are the pair whose logit difference the corruption moves most
// in this random model (seed 3), so the sweeps have something to find.
import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  activationPatching,
  answerToken,
  checkPromptPair,
  sweepCells,
  type PatchCell,
  type SweepKind,
} from '../../src/engine/experiments/patching';
import type { Metric } from '../../src/engine/experiments/metric';
import { HookedGPT2 } from '../../src/engine/model';
import { generateTinyGpt2 } from '../../src/engine/tinyGpt2';
import { DEFAULT_PROCESSING } from '../../src/engine/types';
import * as tokenizer from '../../src/tokenizer';
import { logSoftmax, referenceRun, type RefEdit, type RefRun } from '../reference/gpt2Float64';
import { loadReferenceModel, processReferenceWeights, type RefModel, type RefWeights } from '../reference/gpt2Weights64';

const TIMEOUT = 600_000;
const CLEAN = [50256, ...tokenizer.encode('Mary and John went out. John gave it to')];
const CORRUPTED = [50256, ...tokenizer.encode('Mary and John went out. Mary gave it to')];

function refMetric(r: RefRun, tokens: readonly number[], m: Metric): number {
  const [, P, V] = r.logits.dims as [number, number, number];
  const l = r.logits.data;
  if (m.kind === 'logitDiff') return l[(P - 1) * V + m.answer]! - l[(P - 1) * V + m.wrong]!;
  const lp = logSoftmax(l, V);
  let s = 0;
  for (let p = 0; p < P - 1; p++) s -= lp[p * V + tokens[p + 1]!]!;
  return s / (P - 1);
}

/** The reference's hand patch: copy the clean values at the cell's positions × heads as the hook fires. */
function handPatch(clean: RefRun, cell: PatchCell): RefEdit {
  return (name, data, dims) => {
    if (name !== cell.hook) return;
    const src = clean.cache.get(name)!.data;
    const isPattern = name.endsWith('hook_pattern'); // [1, head, query_pos, key_pos]
    const strides = dims.map((_, k) => dims.slice(k + 1).reduce((a, b) => a * b, 1));
    for (let i = 0; i < data.length; i++) {
      const at = (axis: number): number => Math.floor(i / strides[axis]!) % dims[axis]!;
      const p = isPattern ? at(2) : at(1);
      const h = isPattern ? at(1) : dims.length === 4 ? at(2) : -1;
      if (cell.positions && !cell.positions.includes(p)) continue;
      if (cell.heads && !cell.heads.includes(h)) continue;
      data[i] = src[i]!;
    }
  };
}

describe('activation patching vs the float64 reference (tiny GPT-2)', { timeout: TIMEOUT }, () => {
  let dir: string;
  let ref: RefModel;
  const models: Partial<Record<'processed' | 'raw', HookedGPT2>> = {};
  const refWeights: Partial<Record<'processed' | 'raw', RefWeights>> = {};
  const metric: Metric = { kind: 'logitDiff', answer: answerToken(' sv'), wrong: answerToken(' brown') };

  before(async () => {
    assert.equal(CLEAN.length, CORRUPTED.length);
    dir = mkdtempSync(join(tmpdir(), 'modellens-patching-'));
    await generateTinyGpt2(dir, { seed: 3 });
    ref = loadReferenceModel(dir);
    for (const mode of ['processed', 'raw'] as const) {
      models[mode] = await HookedGPT2.fromPretrained(dir, { processing: mode === 'processed', device: 'cpu', threads: 1 });
      refWeights[mode] = mode === 'processed' ? processReferenceWeights(ref.weights, ref.cfg, DEFAULT_PROCESSING) : ref.weights;
    }
  });
  after(async () => {
    for (const m of Object.values(models)) await m.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Checks `cellsToCheck` of one sweep (all when absent) against hand patches. */
  async function check(mode: 'processed' | 'raw', sweep: SweepKind, m: Metric, cellsToCheck?: readonly number[]): Promise<void> {
    const model = models[mode]!;
    const w = refWeights[mode]!;
    const head = { layer: 1, head: 2 };
    const res = await activationPatching(model, { clean: CLEAN, corrupted: CORRUPTED, metric: m, sweep, head }, { maxBatch: 7 });
    const { rows, cols, cells } = sweepCells(model, { sweep, head }, CORRUPTED.length);
    assert.equal(res.rows * res.cols, rows * cols);
    assert.equal(res.raw.length, cells.length);
    const refClean = referenceRun(ref.cfg, w, CLEAN);
    const cleanM = refMetric(refClean, CLEAN, m);
    const corrM = refMetric(referenceRun(ref.cfg, w, CORRUPTED), CORRUPTED, m);
    assert.ok(Math.abs(cleanM - corrM) >= 0.03, `denominator ${cleanM - corrM} too small for a meaningful check`);
    const tol = (x: number): number => 2e-5 * Math.max(1, Math.abs(x));
    assert.ok(Math.abs(res.cleanMetric - cleanM) < tol(cleanM), `clean ${res.cleanMetric} vs ${cleanM}`);
    assert.ok(Math.abs(res.corruptedMetric - corrM) < tol(corrM), `corrupted ${res.corruptedMetric} vs ${corrM}`);
    const which = cellsToCheck ?? cells.map((_, k) => k);
    let moved = 0;
    for (const k of which) {
      const want = refMetric(referenceRun(ref.cfg, w, CORRUPTED, undefined, undefined, handPatch(refClean, cells[k]!)), CORRUPTED, m);
      const got = res.raw[k]!;
      assert.ok(Math.abs(got - want) < tol(want), `${mode} ${sweep} cell ${k} (${JSON.stringify(cells[k])}): ${got} vs ${want}`);
      const wantNorm = (want - corrM) / (cleanM - corrM);
      assert.ok(
        Math.abs(res.normalized![k]! - wantNorm) < (3 * tol(want)) / Math.abs(cleanM - corrM),
        `${mode} ${sweep} cell ${k} normalised ${res.normalized![k]} vs ${wantNorm}`,
      );
      if (Math.abs(wantNorm) > 1e-3) moved++;
    }
    assert.ok(moved > 0, 'at least one checked cell moves the metric');
  }

  for (const mode of ['processed', 'raw'] as const) {
    it(`${mode}: resid_pre × layer × position, the whole sweep`, () => check(mode, 'resid_pre', metric));
    it(`${mode}: attn_out and mlp_out × layer × position, cells at both layers`, async () => {
      await check(mode, 'attn_out', metric, [0, 5, CLEAN.length + 5, 2 * CLEAN.length - 1]);
      await check(mode, 'mlp_out', metric, [1, 6, CLEAN.length + 6, 2 * CLEAN.length - 1]);
    });
    it(`${mode}: every head's output (hook_z, all positions) × layer × head, the whole sweep`, () => check(mode, 'head_out', metric));
    it(`${mode}: attention pattern per head, the whole sweep`, () => check(mode, 'head_pattern', metric));
    it(`${mode}: one head's output per position, the whole sweep`, () => check(mode, 'head_out_pos', metric));
  }

  it('raw: resid_pre with the loss as the metric, cells at both layers', () => {
    const f = CLEAN.findIndex((t, i) => t !== CORRUPTED[i]); // patches before it change nothing
    return check('raw', 'resid_pre', { kind: 'loss' }, [1, f, f + 1, CLEAN.length + f, CLEAN.length + f + 2]);
  });

  it('patching resid_pre at every position of layer 0 restores the clean metric exactly (1 in normalised terms)', async () => {
    const model = models.raw!;
    const res = await activationPatching(model, { clean: CLEAN, corrupted: CORRUPTED, metric, sweep: 'resid_pre' });
    // Positions before the change are identical in both runs: patching them changes nothing (0).
    const firstDiff = CLEAN.findIndex((t, i) => t !== CORRUPTED[i]);
    for (let p = 0; p < firstDiff; p++) assert.ok(Math.abs(res.normalized![p]!) < 1e-4, `position ${p}: ${res.normalized![p]}`);
    assert.ok(Math.abs(res.normalized![firstDiff]! - 1) < 1e-4, `the changed token's residual restores the clean metric`);
  });

  it('prompts of different lengths are refused with the position and the difference', () => {
    const longer = [50256, ...tokenizer.encode('Mary and John went out. Mary and Bob gave it to')];
    assert.throws(
      () => checkPromptPair(CLEAN, longer),
      /clean prompt is 11 tokens and the corrupted prompt 13 \(2 more\); they first differ at token 7/,
    );
  });

  it('an answer that is not one token is refused, naming its pieces', () => {
    assert.equal(answerToken(' Mary'), tokenizer.encode(' Mary')[0]);
    assert.throws(() => answerToken(' Marylebone'), /is \d tokens \(" Mary", "le/);
    assert.throws(() => answerToken(''), /empty/);
  });
});
