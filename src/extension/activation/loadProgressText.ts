// What a model load's progress (the engine's LoadProgress) says to the user, shared by the load
// notification and the activation panel's busy line. No vscode import, so it is unit-tested.
import type { LoadProgress } from '../../engine/model';

export interface LoadProgressText {
  /** "reading weights 120 / 548 MB", "processing weights", "building sessions". */
  readonly detail: string;
  /** How far the whole load is, 0..1 (see loadFraction). */
  readonly fraction: number;
}

/**
 * The share of a load each stage ends at. Reading the checkpoint is most of a CPU load's time
 * (the bar follows its bytes); processing and building the main session share the rest. They are
 * rough shares, not measurements: the bar only has to move forward, never back.
 */
const READ_END = 0.7;
const PROCESS_END = 0.85;

export function loadFraction(p: LoadProgress): number {
  const part = p.done !== undefined && p.total !== undefined && p.total > 0 ? Math.min(1, Math.max(0, p.done / p.total)) : 0;
  switch (p.stage) {
    case 'read':
      return READ_END * part;
    case 'process':
      return READ_END;
    case 'sessions':
      return PROCESS_END + (1 - PROCESS_END) * part;
    default: {
      const exhaustive: never = p.stage;
      throw new Error(`unknown load stage ${String(exhaustive)}`);
    }
  }
}

export function describeLoadProgress(p: LoadProgress, locale?: string): LoadProgressText {
  const fraction = loadFraction(p);
  switch (p.stage) {
    case 'read':
      return p.done !== undefined && p.total !== undefined
        ? { detail: `reading weights ${megabytes(p.done, p.total, locale)}`, fraction }
        : { detail: 'reading weights', fraction };
    case 'process':
      return { detail: 'processing weights', fraction };
    case 'sessions':
      return { detail: 'building sessions', fraction };
    default: {
      const exhaustive: never = p.stage;
      throw new Error(`unknown load stage ${String(exhaustive)}`);
    }
  }
}

/** "120 / 548 MB" (decimal megabytes, as file managers show sizes); one decimal under 10 MB. */
function megabytes(done: number, total: number, locale?: string): string {
  const digits = total < 10e6 ? 1 : 0;
  const fmt = (n: number): string => (n / 1e6).toLocaleString(locale, { minimumFractionDigits: digits, maximumFractionDigits: digits });
  return `${fmt(done)} / ${fmt(total)} MB`;
}
