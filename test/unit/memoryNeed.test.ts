// Select Model's memory estimate: a fixed part and a cost per checkpoint byte fitted to the
// benches' measured peaks, and the warning when a model would not fit in free memory.
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { memoryWarning, residentBytesNeeded } from '../../src/engine/hub/memoryNeed';
import type { WeightDtype } from '../../src/engine/weightDtype';

const GB = 1e9;
const MiB = 2 ** 20;
const fmt = (b: number): string => `${(b / GB).toFixed(1)} GB`;

/**
 * The highest resident memory the benches measured (README, Benchmarks: the medium bench at 1,024
 * tokens, the xl bench at 128, every view after the first; the highest of each across runs), by
 * float32 checkpoint size.
 */
const MEASURED: readonly { model: string; checkpointMiB: number; dtype: WeightDtype; peakMiB: number }[] = [
  { model: 'gpt2-medium shape', checkpointMiB: 1450, dtype: 'fp32', peakMiB: 2187 },
  { model: 'gpt2-medium shape', checkpointMiB: 1450, dtype: 'fp16', peakMiB: 1531 },
  { model: 'gpt2-medium shape', checkpointMiB: 1450, dtype: 'bf16', peakMiB: 1351 },
  { model: 'gpt2-xl shape', checkpointMiB: 6134, dtype: 'fp32', peakMiB: 6852 },
  { model: 'gpt2-xl shape', checkpointMiB: 6134, dtype: 'fp16', peakMiB: 3936 },
];

describe('memory a model needs once loaded', () => {
  it('covers every peak the benches measured, within 20% above it', () => {
    for (const m of MEASURED) {
      const need = residentBytesNeeded(m.checkpointMiB * MiB, m.dtype) / MiB;
      assert.ok(need >= m.peakMiB, `${m.model} ${m.dtype}: estimated ${need.toFixed(0)} MiB, measured ${m.peakMiB}`);
      assert.ok(need <= 1.2 * m.peakMiB, `${m.model} ${m.dtype}: estimated ${need.toFixed(0)} MiB, over 1.2 × the measured ${m.peakMiB}`);
    }
  });

  it('holds 16-bit weights in about half the memory of float32 ones', () => {
    const xl = 6.43 * GB;
    assert.ok(residentBytesNeeded(xl) > xl);
    assert.ok(residentBytesNeeded(xl, 'bf16') < 0.65 * residentBytesNeeded(xl, 'fp32'));
  });

  it('warns only when the need exceeds free memory, naming both and the dtype', () => {
    assert.equal(memoryWarning(548e6, 8 * GB, fmt), null);
    assert.equal(memoryWarning(6.43 * GB, 4 * GB, fmt), 'it needs about 7.2 GB of memory once loaded (fp32), and 4.0 GB is free');
    assert.equal(memoryWarning(6.43 * GB, 5 * GB, fmt, 'fp16'), null);
  });
});
