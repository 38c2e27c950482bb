// Host-side logit rows: finite rows give the usual log-softmax; NaN/Inf (a model with damaged
// weights) is reported in words instead of flowing on as NaN losses (the loss highlight's TypeError).
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { logitRow, NonFiniteLogitsError, probability, tokenLoss } from '../../src/extension/logitRows';

describe('logitRows', () => {
  it('computes loss and probabilities of a finite row', () => {
    const logits = Float32Array.from([0, 0, 0, 0, Math.log(2), 0]); // 2 rows of V = 3
    const row = logitRow(logits, 3, 1);
    assert.equal(row.argmax, 1);
    assert.ok(Math.abs(probability(logits, 3, 1, 1, row) - 0.5) < 1e-6);
    assert.ok(Math.abs(tokenLoss(logits, 3, 0, 2) - Math.log(3)) < 1e-6);
  });

  it('names NaN and infinite logits with their position', () => {
    for (const [bad, word] of [
      [Number.NaN, 'NaN'],
      [Number.POSITIVE_INFINITY, '+Infinity'],
      [Number.NEGATIVE_INFINITY, '-Infinity'],
    ] as const) {
      const logits = Float32Array.from([1, 2, 3, 4, bad, 6]);
      assert.doesNotThrow(() => logitRow(logits, 3, 0));
      assert.throws(
        () => tokenLoss(logits, 3, 1, 0),
        (e: unknown) => {
          assert.ok(e instanceof NonFiniteLogitsError);
          assert.match(e.message, new RegExp(`${word.replace('+', '\\+')} logits at position 1`));
          assert.match(e.message, /weights/);
          return true;
        },
      );
    }
  });
});
