// What the activation panel keeps between a run and its detail views, owned by the model (not
// by the worker's module state): the run's tokens and interventions; the small hook points every
// detail view starts from (HookedGPT2.readout's `held`: a pattern or neurons view runs one layer
// from its resid_pre, the logit lens and DLA no block); and the logit lens rows answered so far.
// Bounded in count, dropped when the panel closes or the model is disposed.
import { threadId } from 'node:worker_threads';
import type { Intervention } from './interventions';

/** The logit lens rows answered so far for one run: [layers, pos] each, `done` per position. */
export interface LensRows {
  readonly topIds: Int32Array;
  readonly topProbs: Float32Array;
  readonly nextProb: Float32Array;
  readonly done: Uint8Array;
}

/** Hook points held by name, as the `held` readout returned them. */
export type HeldActivations = ReadonlyMap<string, { readonly dims: readonly number[]; readonly data: Float32Array }>;

export interface RunState {
  readonly runId: number;
  readonly tokens: Int32Array;
  readonly interventions: readonly Intervention[];
  /**
   * The small hook points the detail views start from (about 120 MB at 1,024 tokens for GPT-2
   * small); over panelCompute's HOLD_BUDGET_BYTES the first view holds none, and the logit lens, a
   * head's pattern or a layer's neurons add every resid_pre when first asked (DLA holds nothing).
   */
  held: HeldActivations;
  lens: LensRows | null;
}

/** Runs kept at once: one per open panel is the common case; older ones are dropped first. */
const MAX_RUNS = 4;

export class RunStates {
  private readonly runs = new Map<number, RunState>();
  // Unique across worker threads: after a restart a panel's old runId must not name a new run.
  private nextId = threadId * 1_000_000 + 1;

  /** Keeps a new run, dropping `replaces` (the same panel's previous run) and then the oldest beyond the bound. */
  add(tokens: Int32Array, interventions: readonly Intervention[], held: HeldActivations, replaces?: number): RunState {
    if (replaces !== undefined) this.runs.delete(replaces);
    const run: RunState = { runId: this.nextId++, tokens, interventions, held, lens: null };
    this.runs.set(run.runId, run);
    while (this.runs.size > MAX_RUNS) this.runs.delete(this.runs.keys().next().value!);
    return run;
  }

  get(runId: number): RunState {
    const run = this.runs.get(runId);
    if (run === undefined) {
      throw new Error(
        `run ${runId} is no longer held in the engine (its panel closed, a newer run or another model replaced it); run the panel again`,
      );
    }
    return run;
  }

  /** Drops one run; returns how many are still held. */
  release(runId: number): number {
    this.runs.delete(runId);
    return this.runs.size;
  }

  clear(): void {
    this.runs.clear();
  }

  get size(): number {
    return this.runs.size;
  }
}
