// Resident-memory readings of this process from /proc (Linux), for the benches' peak-memory rows.
import { readFileSync, writeFileSync } from 'node:fs';
import { settleGarbage } from '../src/engine/collectGarbage';

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

/** The engine's full collection; the benches call it so garbage of one configuration is not counted as the next one's. */
export { collectGarbage } from '../src/engine/collectGarbage';

/** Resident memory once garbage is gone (settleGarbage says why one collection is not enough). */
export async function settledRssMiB(): Promise<number> {
  await settleGarbage();
  return rssMiB();
}
