// Reading rows of logits on the host (loss highlight, inline logits, prediction hovers). A model
// with NaN or infinite weights produces non-finite logits; the arithmetic below would then give
// NaN losses and probabilities (and the loss highlight a TypeError binning them), so each row is
// checked first and a non-finite one is reported in words. No vscode import.

export class NonFiniteLogitsError extends Error {
  constructor(
    readonly position: number,
    readonly value: number,
  ) {
    super(
      `the model produced ${Number.isNaN(value) ? 'NaN' : value > 0 ? '+Infinity' : '-Infinity'} logits at position ${position}: ` +
        'its weights are probably damaged (NaN or infinite values); check the checkpoint',
    );
    this.name = 'NonFiniteLogitsError';
  }
}

export interface LogitRow {
  readonly max: number;
  readonly argmax: number;
  /** log Σ exp(logit - max). */
  readonly logSumExp: number;
}

/** Max, argmax and log-sum-exp of row `pos` of [1, pos, d_vocab] logits; throws NonFiniteLogitsError. */
export function logitRow(logits: Float32Array, V: number, pos: number): LogitRow {
  const base = pos * V;
  let max = -Infinity;
  let argmax = 0;
  for (let v = 0; v < V; v++) {
    const x = logits[base + v]!;
    if (!Number.isFinite(x)) throw new NonFiniteLogitsError(pos, x);
    if (x > max) {
      max = x;
      argmax = v;
    }
  }
  let sum = 0;
  for (let v = 0; v < V; v++) sum += Math.exp(logits[base + v]! - max);
  return { max, argmax, logSumExp: Math.log(sum) };
}

/** Cross-entropy (nats) of `target` at row `pos`. */
export function tokenLoss(logits: Float32Array, V: number, pos: number, target: number): number {
  const row = logitRow(logits, V, pos);
  return row.max + row.logSumExp - logits[pos * V + target]!;
}

/** Probability of `v` at row `pos`, given that row's stats. */
export function probability(logits: Float32Array, V: number, pos: number, v: number, row: LogitRow): number {
  return Math.exp(logits[pos * V + v]! - row.max - row.logSumExp);
}
