// Resident memory readings for the memory tests (weightSharing, fp16Memory and bf16Memory through
// halfMemory.ts, tiedUnembed): VmRSS from /proc (Linux), after the engine's own full garbage
// collection, so garbage does not count as held memory. Memory bounds in these tests are
// generous; no timing is asserted.
import { readFileSync } from 'node:fs';
import { settleGarbage } from '../../../src/engine/collectGarbage';

export const MiB = 2 ** 20;

/** Resident set size in bytes (VmRSS), or null where /proc is not there. */
export function rssBytes(): number | null {
  try {
    const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync('/proc/self/status', 'utf8'));
    return m ? Number(m[1]) * 1024 : null;
  } catch {
    return null;
  }
}

/** Resident memory once garbage is gone (settleGarbage says why one collection is not enough). */
export async function settledRss(): Promise<number> {
  await settleGarbage();
  return rssBytes()!;
}
