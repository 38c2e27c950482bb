// Select Model's memory estimate: the measured cost per checkpoint byte, and the warning when a
// model would not fit in free memory.
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { memoryWarning, RESIDENT_PER_CHECKPOINT_BYTE, residentBytesNeeded } from '../../src/engine/hub/memoryNeed';

const GB = 1e9;
const fmt = (b: number): string => `${(b / GB).toFixed(1)} GB`;

describe('memory a model needs once loaded', () => {
  it('scales the float32 checkpoint by the factor measured for the dtype', () => {
    assert.equal(residentBytesNeeded(548e6), Math.round(548e6 * RESIDENT_PER_CHECKPOINT_BYTE.fp32));
    assert.equal(residentBytesNeeded(548e6, 'fp16'), Math.round(548e6 * RESIDENT_PER_CHECKPOINT_BYTE.fp16));
    // gpt2-xl's 6.4 GB checkpoint needs more than its size in fp32, less in 16 bits.
    assert.ok(residentBytesNeeded(6.43 * GB) > 6.43 * GB);
    assert.ok(residentBytesNeeded(6.43 * GB, 'bf16') < residentBytesNeeded(6.43 * GB, 'fp32'));
  });

  it('warns only when the need exceeds free memory, naming both and the dtype', () => {
    assert.equal(memoryWarning(548e6, 8 * GB, fmt), null);
    assert.equal(memoryWarning(6.43 * GB, 4 * GB, fmt), 'it needs about 8.7 GB of memory once loaded (fp32), and 4.0 GB is free');
    assert.equal(memoryWarning(6.43 * GB, 7 * GB, fmt, 'fp16'), null);
  });
});
