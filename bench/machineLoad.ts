// The machine's load average over a bench group's run, as the last row of its table: the figures
// are ratios against a peer measured in the same run, and this says how busy the cores were.
import { availableParallelism, loadavg } from 'node:os';
import type { BenchRow } from './types';

/** The 1-minute load average now, to pass to loadAverageRow at the end. */
export const loadAverageNow = (): number => loadavg()[0]!;

/** The row: the load average at the start (`start`) and now, on this many cores; `why` is added to the note. */
export function loadAverageRow(group: string, start: number, why = ''): BenchRow {
  const now = loadAverageNow();
  return {
    group,
    name: 'machine load average (1 min) at start → end',
    value: now,
    unit: '',
    note: `${start.toFixed(1)} → ${now.toFixed(1)} on ${availableParallelism()} cores${why ? `: ${why}` : ''}`,
  };
}
