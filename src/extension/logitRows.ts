// Checking what the engine answered about next tokens before it is shown (loss highlight, inline
// logits, prediction hovers). The softmax, top-k and rank are computed in the graph
// (kernels/readouts/, through EngineClient.predict); a model with NaN or infinite weights makes
// those answers non-finite, which would flow on as NaN losses (and the loss highlight a TypeError
// binning them), so each shown number is checked and a non-finite one reported in words.
// No vscode import.

export class NonFiniteLogitsError extends Error {
  constructor(
    readonly position: number,
    readonly value: number,
  ) {
    super(
      `the model produced ${Number.isNaN(value) ? 'NaN' : value > 0 ? '+Infinity' : '-Infinity'} values from its logits at position ${position}: ` +
        'its weights are probably damaged (NaN or infinite values); check the checkpoint',
    );
    this.name = 'NonFiniteLogitsError';
  }
}

/** `values` unchanged when every one is finite; otherwise NonFiniteLogitsError at `positionOf(i)` of the first that is not. */
export function finiteAnswers<T extends ArrayLike<number>>(values: T, positionOf: (i: number) => number = (i) => i): T {
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (!Number.isFinite(v)) throw new NonFiniteLogitsError(positionOf(i), v);
  }
  return values;
}
