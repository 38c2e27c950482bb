// Work on the extension host split across event-loop turns, and the count of that work. Every
// loop over a large selection (slicing, copying, counting) yields between bounded steps and
// records how much it did in each turn, so tests check the work per turn (a count the code
// controls) rather than a wall-clock figure that a busy machine can always exceed.
// No vscode import; shared by sliceTokenize.ts, rangeTokens.ts and documentTokens.ts.

export class TokenizeCancelled extends Error {
  constructor() {
    super('tokenization was cancelled');
    this.name = 'TokenizeCancelled';
  }
}

export const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** What a WorkMeter counts: characters tokenized, tokens copied or scanned, tokens posted to a webview. */
export type WorkKind = 'tokenizeChars' | 'buildChars' | 'copyTokens' | 'scanTokens' | 'postTokens';

/** The largest amount of each kind of work done in one event-loop turn, and how many turns it took. */
export class WorkMeter {
  private readonly largest = new Map<WorkKind, number>();
  private readonly turns = new Map<WorkKind, number>();
  private readonly total = new Map<WorkKind, number>();

  /** `units` of work were done in one turn. */
  record(kind: WorkKind, units: number): void {
    if (units <= 0) return;
    this.largest.set(kind, Math.max(this.largest.get(kind) ?? 0, units));
    this.turns.set(kind, (this.turns.get(kind) ?? 0) + 1);
    this.total.set(kind, (this.total.get(kind) ?? 0) + units);
  }

  largestTurn(kind: WorkKind): number {
    return this.largest.get(kind) ?? 0;
  }

  turnCount(kind: WorkKind): number {
    return this.turns.get(kind) ?? 0;
  }

  totalUnits(kind: WorkKind): number {
    return this.total.get(kind) ?? 0;
  }

  reset(): void {
    this.largest.clear();
    this.turns.clear();
    this.total.clear();
  }
}

export interface Cancellable {
  readonly isCancelled?: () => boolean;
  /** Where the work per turn is counted. */
  readonly meter?: WorkMeter;
}

/**
 * Work per event-loop turn is bounded by time and by a count. Time, because the same loop ran
 * at about 450 ns a token before V8 optimized it and 20 ns after; the count, so that the bound
 * holds (and can be checked) however fast the machine is.
 */
export const TURN_BUDGET_MS = 8;
export const MAX_UNITS_PER_TURN = 64 * 1024;

/** Yields to the event loop once TURN_BUDGET_MS has passed or MAX_UNITS_PER_TURN were done since the last yield. */
export class Turns {
  private since = performance.now();
  private units = 0;
  constructor(
    private readonly options: Cancellable,
    private readonly kind: WorkKind,
  ) {}

  /** `units` more were done in this turn; yields when the turn's budget is spent. */
  async check(units: number): Promise<void> {
    this.units += units;
    if (this.units < MAX_UNITS_PER_TURN && performance.now() - this.since < TURN_BUDGET_MS) return;
    this.options.meter?.record(this.kind, this.units);
    this.units = 0;
    await yieldToEventLoop();
    if (this.options.isCancelled?.()) throw new TokenizeCancelled();
    this.since = performance.now();
  }

  /** Records the last turn's work (call when the loop ends). */
  finish(): void {
    this.options.meter?.record(this.kind, this.units);
    this.units = 0;
  }
}
