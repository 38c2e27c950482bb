// Head detectors against the float64 reference: the reference's attention patterns, scored by
// TransformerLens's "mul" measure written out here as plain sums over the pairs each definition
// names (head_detector.py@v3.5.1), compared with the engine's scores (|Δ| ≤ 1e-5), processed
// and unprocessed; plus detection patterns worked out by hand.
import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { detectHeads, detectionPattern, HEAD_KINDS, repeatedRandomTokens, type HeadKind } from '../../src/engine/experiments/headDetector';
import { HookedGPT2 } from '../../src/engine/model';
import { generateTinyGpt2 } from '../../src/engine/tinyGpt2';
import { DEFAULT_PROCESSING } from '../../src/engine/types';
import * as tokenizer from '../../src/tokenizer';
import { referenceRun } from '../reference/gpt2Float64';
import { loadReferenceModel, processReferenceWeights, type RefModel } from '../reference/gpt2Weights64';

/** Whether key k is on kind's pattern for query q, straight from the definitions. */
function onPattern(kind: HeadKind, toks: readonly number[], q: number, k: number): boolean {
  if (k > q) return false;
  if (kind === 'previous_token_head') return k === q - 1;
  if (kind === 'duplicate_token_head') return k !== q && toks[k] === toks[q];
  return k >= 1 && toks[k - 1] === toks[q] && k - 1 !== q;
}

function refScore(A: Float64Array, off: number, P: number, kind: HeadKind, toks: readonly number[], excludeBos: boolean): number {
  let hit = 0;
  let total = 0;
  for (let q = 0; q < P; q++)
    for (let k = 0; k < P; k++) {
      if (excludeBos && k === 0) continue;
      const a = A[off + q * P + k]!;
      total += a;
      if (onPattern(kind, toks, q, k)) hit += a;
    }
  return hit / total;
}

describe('head detectors', { timeout: 300_000 }, () => {
  it('detection patterns of a hand-sized sequence', () => {
    const t = [9, 5, 7, 5, 7];
    const ones = (kind: HeadKind): string[] => {
      const d = detectionPattern(kind, t);
      const out: string[] = [];
      for (let q = 0; q < 5; q++) for (let k = 0; k < 5; k++) if (d[q * 5 + k]) out.push(`${q},${k}`);
      return out;
    };
    assert.deepEqual(ones('previous_token_head'), ['1,0', '2,1', '3,2', '4,3']);
    assert.deepEqual(ones('duplicate_token_head'), ['3,1', '4,2']);
    assert.deepEqual(ones('induction_head'), ['3,2', '4,3']);
  });

  it('the repeated random sequence is BOS + r + r, the same for the same seed', () => {
    const a = repeatedRandomTokens(42, 10, 50257);
    assert.equal(a.length, 21);
    assert.equal(a[0], 50256);
    assert.deepEqual(a.slice(1, 11), a.slice(11));
    assert.deepEqual(repeatedRandomTokens(42, 10, 50257), a);
    assert.notDeepEqual(repeatedRandomTokens(43, 10, 50257), a);
  });

  describe('scores vs the float64 reference (tiny GPT-2)', () => {
    let dir: string;
    let ref: RefModel;
    before(async () => {
      dir = mkdtempSync(join(tmpdir(), 'modellens-heads-'));
      await generateTinyGpt2(dir, { seed: 5 });
      ref = loadReferenceModel(dir);
    });
    after(() => rmSync(dir, { recursive: true, force: true }));

    const SEQS: Record<string, readonly number[]> = {
      text: [50256, ...tokenizer.encode('the cat sat on the mat and the cat sat')],
      repeated: repeatedRandomTokens(7, 8, 50257),
    };
    for (const mode of ['processed', 'raw'] as const)
      for (const [label, toks] of Object.entries(SEQS))
        for (const excludeBos of [false, true]) {
          it(`${mode}, ${label} tokens${excludeBos ? ', exclude_bos' : ''}: every head's three scores within 1e-5`, async () => {
            const model = await HookedGPT2.fromPretrained(dir, { processing: mode === 'processed', device: 'cpu', threads: 1 });
            try {
              const got = await detectHeads(model, toks, HEAD_KINDS, { excludeBos });
              const w = mode === 'processed' ? processReferenceWeights(ref.weights, ref.cfg, DEFAULT_PROCESSING) : ref.weights;
              const run = referenceRun(ref.cfg, w, toks);
              const P = toks.length;
              let nonZero = 0;
              for (let L = 0; L < ref.cfg.n_layers; L++) {
                const A = run.cache.get(`blocks.${L}.attn.hook_pattern`)!.data;
                for (let h = 0; h < ref.cfg.n_heads; h++)
                  for (const kind of HEAD_KINDS) {
                    const want = refScore(A, h * P * P, P, kind, toks, excludeBos);
                    const g = got.scores[kind][L * ref.cfg.n_heads + h]!;
                    assert.ok(Math.abs(g - want) < 1e-5, `L${L}H${h} ${kind}: ${g} vs ${want}`);
                    if (want > 0.01) nonZero++;
                  }
              }
              assert.ok(nonZero > 0, 'some scores are far from 0');
            } finally {
              await model.dispose();
            }
          });
        }
  });

  it('a sequence of one token is refused with the allowed range', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'modellens-heads-'));
    try {
      await generateTinyGpt2(dir);
      const model = await HookedGPT2.fromPretrained(dir, { threads: 1 });
      try {
        await assert.rejects(detectHeads(model, [50256]), /needs 2\.\.1023 tokens; this sequence has 1/);
      } finally {
        await model.dispose();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
