// Resident-memory readings of this process from /proc (Linux), for the benches' peak-memory rows.
import { readFileSync, writeFileSync } from 'node:fs';
import { runInNewContext } from 'node:vm';
import { setFlagsFromString } from 'node:v8';

function statusMiB(field: 'VmRSS' | 'VmHWM'): number {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync('/proc/self/status', 'utf8'));
    return m ? Number(m[1]) / 1024 : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

export const rssMiB = (): number => statusMiB('VmRSS');
export const peakRssMiB = (): number => statusMiB('VmHWM');

/**
 * Resets the high-water mark (VmHWM) to the current RSS (Linux >= 4.0), so the next peakRssMiB()
 * belongs to what ran in between. process.resourceUsage().maxRSS cannot be reset, and deltas of
 * it only show growth beyond an earlier, larger configuration.
 */
export function resetPeakRss(): boolean {
  try {
    writeFileSync('/proc/self/clear_refs', '5');
    return true;
  } catch {
    return false;
  }
}

let gcFn: (() => void) | null = null;

/** A full V8 collection, so garbage from the previous configuration does not count as this one's. */
export function collectGarbage(): void {
  if (gcFn === null) {
    // The bench runs without --expose-gc (npm run bench); the flag still works when set at run time.
    setFlagsFromString('--expose-gc');
    gcFn = runInNewContext('gc') as () => void;
  }
  gcFn();
}

/**
 * Resident memory once garbage is gone: V8 frees dead array buffers' memory on a background thread
 * after the collection that found them, so one collection and an immediate reading still count
 * them. Three collections 100 ms apart, as the unit tests' settledRss does.
 */
export async function settledRssMiB(): Promise<number> {
  for (let i = 0; i < 3; i++) {
    collectGarbage();
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return rssMiB();
}
