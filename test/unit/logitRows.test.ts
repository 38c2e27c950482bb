// Host-side checks of next-token answers: finite answers pass unchanged; NaN/Inf (a model with
// damaged weights) is reported in words, with its position, instead of flowing on as NaN losses.
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { finiteAnswers, NonFiniteLogitsError } from '../../src/extension/logitRows';

describe('logitRows', () => {
  it('passes finite answers through unchanged', () => {
    const losses = Float32Array.from([0.5, 2, 7]);
    assert.equal(finiteAnswers(losses), losses);
  });

  it('names NaN and infinite answers with their position', () => {
    for (const [bad, word] of [
      [Number.NaN, 'NaN'],
      [Number.POSITIVE_INFINITY, '+Infinity'],
      [Number.NEGATIVE_INFINITY, '-Infinity'],
    ] as const) {
      assert.throws(
        () => finiteAnswers(Float32Array.from([1, 2, bad, 4]), (i) => i + 10),
        (e: unknown) => {
          assert.ok(e instanceof NonFiniteLogitsError);
          assert.match(e.message, new RegExp(`${word.replace('+', '\\+')} values from its logits at position 12`));
          assert.match(e.message, /weights/);
          return true;
        },
      );
    }
  });
});
