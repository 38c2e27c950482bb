// A head's OV/QK singular directions (src/engine/inspect/circuitSvd.ts), computed from the factors,
// against the dense circuit made directly in float64 on the tiny GPT-2, in both processing modes:
// M·v = σ·u and Mᵀ·u = σ·v for every direction, orthonormal vectors, Σσ² = ‖M‖²_F, σ₁ equal to the
// dense matrix's spectral norm by power iteration, and the tokens ranked along a direction equal a
// plain dot-product sort of W_E rows / W_U columns.
import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadCheckpoint } from '../../src/engine/checkpoint/load';
import { circuitSvd, jacobiSvd, tokensAlong } from '../../src/engine/inspect/circuitSvd';
import { processWeights, resolveProcessing } from '../../src/engine/processing';
import { generateTinyGpt2 } from '../../src/engine/tinyGpt2';
import type { GPT2Weights, Tensor } from '../../src/engine/types';
import { seededRandom } from '../support/random';

/** The dense [d, d] circuit in float64, element by element. */
function denseCircuit(which: 'OV' | 'QK', A: Tensor, B: Tensor, h: number): { m: Float64Array; d: number } {
  const [, d, dh] = A.dims as [number, number, number];
  const m = new Float64Array(d * d);
  for (let i = 0; i < d; i++)
    for (let j = 0; j < d; j++) {
      let s = 0;
      for (let k = 0; k < dh; k++) {
        const a = A.data[(h * d + i) * dh + k]!;
        const b = which === 'OV' ? B.data[(h * dh + k) * d + j]! : B.data[(h * d + j) * dh + k]!;
        s += a * b;
      }
      m[i * d + j] = s;
    }
  return { m, d };
}

const dot = (x: ArrayLike<number>, y: ArrayLike<number>): number => {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i]! * y[i]!;
  return s;
};

/** ‖M·v − σ·u‖ and ‖Mᵀ·u − σ·v‖. */
function residuals(m: Float64Array, d: number, sigma: number, u: Float64Array, v: Float64Array): [number, number] {
  let r1 = 0;
  let r2 = 0;
  for (let i = 0; i < d; i++) {
    let mv = 0;
    let mtu = 0;
    for (let j = 0; j < d; j++) {
      mv += m[i * d + j]! * v[j]!;
      mtu += m[j * d + i]! * u[j]!;
    }
    r1 += (mv - sigma * u[i]!) ** 2;
    r2 += (mtu - sigma * v[i]!) ** 2;
  }
  return [Math.sqrt(r1), Math.sqrt(r2)];
}

/** The largest singular value of a dense matrix by power iteration on MᵀM. */
function spectralNorm(m: Float64Array, d: number): number {
  const rand = seededRandom(3);
  let x = Float64Array.from({ length: d }, () => rand() - 0.5);
  let s = 0;
  for (let it = 0; it < 2000; it++) {
    const y = new Float64Array(d);
    for (let i = 0; i < d; i++) y[i] = dot(m.subarray(i * d, (i + 1) * d), x);
    const z = new Float64Array(d);
    for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) z[j]! += m[i * d + j]! * y[i]!;
    const n = Math.sqrt(dot(z, z));
    const next = Math.sqrt(n);
    x = z.map((e) => e / n);
    if (Math.abs(next - s) <= 1e-14 * next) return next;
    s = next;
  }
  return s;
}

/** The k ids with the largest (sign 1) or smallest dot product with dir, by sorting every token. */
function directRanking(w: Tensor, tokensOnRows: boolean, dir: Float64Array, k: number, sign: 1 | -1): number[] {
  const [r, c] = w.dims as [number, number];
  const n = tokensOnRows ? r : c;
  const d = tokensOnRows ? c : r;
  const score = Array.from({ length: n }, (_, v) => {
    let s = 0;
    for (let j = 0; j < d; j++) s += (tokensOnRows ? w.data[v * c + j]! : w.data[j * c + v]!) * dir[j]!;
    return Math.fround(s);
  });
  return [...score.keys()].sort((a, b) => sign * (score[b]! - score[a]!) || a - b).slice(0, k);
}

describe('Jacobi SVD of a small matrix', () => {
  it('reconstructs a random 9 × 9 matrix and a rank-2 one to float64 precision', () => {
    const rand = seededRandom(11);
    const m = 9;
    const full = Float64Array.from({ length: m * m }, () => rand() * 2 - 1);
    const a = Float64Array.from({ length: m * 2 }, () => rand() - 0.5);
    const b = Float64Array.from({ length: m * 2 }, () => rand() - 0.5);
    const low = new Float64Array(m * m);
    for (let i = 0; i < m; i++) for (let j = 0; j < m; j++) low[i * m + j] = a[i * 2]! * b[j * 2]! + a[i * 2 + 1]! * b[j * 2 + 1]!;
    for (const [c, rank] of [
      [full, m],
      [low, 2],
    ] as const) {
      const { sigma, u, v } = jacobiSvd(c, m);
      for (let i = 1; i < m; i++) assert.ok(sigma[i]! <= sigma[i - 1]!, 'sorted largest first');
      for (let i = rank; i < m; i++) assert.ok(sigma[i]! < 1e-12, `σ${i} = ${sigma[i]} beyond rank ${rank}`);
      let worst = 0;
      for (let i = 0; i < m; i++)
        for (let j = 0; j < m; j++) {
          let s = 0;
          for (let t = 0; t < rank; t++) s += u[t]![i]! * sigma[t]! * v[t]![j]!;
          worst = Math.max(worst, Math.abs(s - c[i * m + j]!));
        }
      assert.ok(worst < 1e-12, `max reconstruction error ${worst}`);
    }
  });
});

describe("a head's OV/QK singular directions from the factors", { timeout: 120_000 }, () => {
  let dir: string;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'model-lens-svd-'));
    await generateTinyGpt2(dir, { seed: 5 });
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  for (const processing of [true, false]) {
    describe(processing ? 'processed (from_pretrained)' : 'unprocessed (from_pretrained_no_processing)', () => {
      let weights: GPT2Weights;
      before(async () => {
        const ck = await loadCheckpoint(dir);
        weights = processWeights(ck.cfg, ck.weights, resolveProcessing({ processing })).weights;
      });

      for (const which of ['OV', 'QK'] as const) {
        it(`${which}: every direction satisfies M·v = σ·u; vectors orthonormal; Σσ² = ‖M‖²_F; σ₁ = ‖M‖₂`, () => {
          const block = weights.blocks[1]!;
          const [A, B] = which === 'OV' ? [block.W_V, block.W_O] : [block.W_Q, block.W_K];
          const dh = A.dims[2]!;
          const { m, d } = denseCircuit(which, A, B, 2);
          const r = circuitSvd(which, A, B, 2, dh);
          assert.equal(r.sigma.length, dh);
          const scale = r.sigma[0]!;
          assert.ok(scale > 0);
          for (let i = 0; i < dh; i++) {
            const [r1, r2] = residuals(m, d, r.sigma[i]!, r.left[i]!, r.right[i]!);
            assert.ok(r1 < 1e-10 * scale && r2 < 1e-10 * scale, `direction ${i}: residuals ${r1}, ${r2} (σ₁ ${scale})`);
            if (i > 0) assert.ok(r.sigma[i]! <= r.sigma[i - 1]!, 'sorted largest first');
            for (let j = 0; j <= i; j++) {
              const want = i === j ? 1 : 0;
              assert.ok(Math.abs(dot(r.left[i]!, r.left[j]!) - want) < 1e-10, `uᵢ·uⱼ for ${i}, ${j}`);
              assert.ok(Math.abs(dot(r.right[i]!, r.right[j]!) - want) < 1e-10, `vᵢ·vⱼ for ${i}, ${j}`);
            }
          }
          const frob = dot(m, m);
          const sumSq = dot(r.sigma, r.sigma);
          assert.ok(Math.abs(sumSq - frob) < 1e-10 * frob, `Σσ² ${sumSq} vs ‖M‖²_F ${frob}`);
          const norm2 = spectralNorm(m, d);
          assert.ok(Math.abs(scale - norm2) < 1e-8 * norm2, `σ₁ ${scale} vs power iteration ${norm2}`);
          // Asking for fewer returns the same leading ones.
          const top3 = circuitSvd(which, A, B, 2, 3);
          assert.deepEqual([...top3.sigma], [...r.sigma.slice(0, 3)]);
        });
      }

      it('OV input tokens (W_E rows · u) and output tokens (W_U columns · v) equal a direct dot-product sort', () => {
        const block = weights.blocks[0]!;
        const r = circuitSvd('OV', block.W_V, block.W_O, 1, 2);
        for (let i = 0; i < 2; i++) {
          const input = tokensAlong(weights.W_E, true, r.left[i]!, 8);
          const output = tokensAlong(weights.W_U, false, r.right[i]!, 8);
          assert.deepEqual([...input.topIds], directRanking(weights.W_E, true, r.left[i]!, 8, 1));
          assert.deepEqual([...input.bottomIds], directRanking(weights.W_E, true, r.left[i]!, 8, -1));
          assert.deepEqual([...output.topIds], directRanking(weights.W_U, false, r.right[i]!, 8, 1));
          assert.deepEqual([...output.bottomIds], directRanking(weights.W_U, false, r.right[i]!, 8, -1));
          const e = input.topIds[0]!;
          const d = r.left[i]!.length;
          assert.ok(Math.abs(input.topValues[0]! - dot(weights.W_E.data.subarray(e * d, (e + 1) * d), r.left[i]!)) < 1e-5);
        }
      });
    });
  }

  it('a rank-deficient factor (two equal W_V columns) gives σ = 0 beyond its rank and refuses a bad head', () => {
    const rand = seededRandom(21);
    const d = 12;
    const dh = 4;
    const V: Tensor = { dims: [1, d, dh], data: Float32Array.from({ length: d * dh }, () => rand() - 0.5) };
    for (let i = 0; i < d; i++) V.data[i * dh + 3] = V.data[i * dh + 2]!;
    const O: Tensor = { dims: [1, dh, d], data: Float32Array.from({ length: d * dh }, () => rand() - 0.5) };
    const { m } = denseCircuit('OV', V, O, 0);
    const r = circuitSvd('OV', V, O, 0, dh);
    assert.ok(r.sigma[3]! < 1e-12 * r.sigma[0]!, `σ₄ = ${r.sigma[3]}`);
    for (let i = 0; i < 3; i++) {
      const [r1, r2] = residuals(m, d, r.sigma[i]!, r.left[i]!, r.right[i]!);
      assert.ok(r1 < 1e-12 && r2 < 1e-12, `direction ${i}: ${r1}, ${r2}`);
    }
    assert.ok(Math.abs(dot(r.sigma, r.sigma) - dot(m, m)) < 1e-12 * dot(m, m));
    assert.throws(() => circuitSvd('OV', V, O, 1, 2), /head 1 is out of range 0..0/);
  });
});
