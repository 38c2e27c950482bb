// Resident memory readings for the memory tests (weightSharing, fp16Memory and bf16Memory through
// halfMemory.ts, tiedUnembed): VmRSS from /proc (Linux), after the engine's own full garbage
// collection, so garbage does not count as held memory. Memory bounds in these tests are
// generous; no timing is asserted.
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { collectGarbage } from '../../../src/engine/collectGarbage';

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

/**
 * Resident memory once garbage is gone: full collections with a pause between them, since V8
 * frees array buffers' memory on a background thread after a collection has found them dead.
 */
export async function settledRss(): Promise<number> {
  for (let i = 0; i < 3; i++) {
    collectGarbage();
    await sleep(100);
  }
  return rssBytes()!;
}
