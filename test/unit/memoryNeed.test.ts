// Select Model's memory estimate: the measured cost per checkpoint byte, and the warning when a
// model would not fit in free memory.
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { memoryWarning, RESIDENT_PER_CHECKPOINT_BYTE, residentBytesNeeded } from '../../src/engine/hub/memoryNeed';

const GB = 1e9;
const fmt = (b: number): string => `${(b / GB).toFixed(1)} GB`;

describe('memory a model needs once loaded', () => {
  it('scales the float32 checkpoint by the measured factor', () => {
    assert.equal(residentBytesNeeded(548e6), Math.round(548e6 * RESIDENT_PER_CHECKPOINT_BYTE));
    // gpt2-xl's 6.4 GB checkpoint needs far more than gpt2's 548 MB.
    assert.ok(residentBytesNeeded(6.43 * GB) > 12 * GB);
  });

  it('warns only when the need exceeds free memory, naming both', () => {
    assert.equal(memoryWarning(548e6, 8 * GB, fmt), null);
    assert.equal(memoryWarning(6.43 * GB, 4 * GB, fmt), 'it needs about 14.1 GB of memory once loaded, and 4.0 GB is free');
  });
});
