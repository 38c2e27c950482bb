// Sliced tokenization must give exactly the tokens of a one-shot tokenization.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { nextCut, SLICE_CHARS, tokenizeInSlices } from '../../src/extension/sliceTokenize';
import { MAX_UNITS_PER_TURN, WorkMeter } from '../../src/extension/turns';
import { tokenizePacked } from '../../src/tokenizer/encoder';

function same(text: string, sliceChars: number): Promise<void> {
  return tokenizeInSlices(text, { sliceChars }).then((sliced) => {
    const whole = tokenizePacked(text);
    assert.equal(sliced.length, whole.length);
    assert.deepEqual(Array.from(sliced.ids), Array.from(whole.ids));
    assert.deepEqual(Array.from(sliced.starts), Array.from(whole.starts));
    assert.deepEqual(Array.from(sliced.ends), Array.from(whole.ends));
  });
}

test('tiny slices reproduce the whole-text tokens, whitespace runs and specials included', async () => {
  const text =
    'Whether a word begings with a capital or space matters!\n\n\tIndented   spaces  \r\n' +
    'emoji 🙂🙂 CJK 漢字 RTL שלום <|endoftext|> after  <|endoftext|>\n' +
    'x'.repeat(300) +
    ' tail\u0000nul \ud800 lone';
  for (const size of [1, 2, 3, 7, 16, 64]) await same(text.repeat(3), size);
});

test('a run without cut points stays one slice instead of being cut wrongly', async () => {
  const text = 'a'.repeat(5000) + ' b';
  assert.equal(nextCut(text, 0, 10), 5000);
  await same(text, 10);
});

test('progress is reported and cancellation stops between slices', async () => {
  const text = 'word '.repeat(2000);
  const seen: number[] = [];
  await tokenizeInSlices(text, { sliceChars: 1000, onProgress: (f) => seen.push(f) });
  assert.ok(seen.length >= 5 && seen.every((f, i) => f > 0 && f < 1 && (i === 0 || f > seen[i - 1]!)));
  await assert.rejects(tokenizeInSlices(text, { sliceChars: 1000, isCancelled: () => true }), /cancelled/);
});

test('empty text gives no tokens', async () => {
  assert.equal((await tokenizeInSlices('')).length, 0);
});

// The work per event-loop turn is counted by the code: no turn tokenizes more than a slice
// (plus the search for a cut point) or copies more than MAX_UNITS_PER_TURN tokens (plus one piece).
test('work per turn is bounded and counted', async () => {
  const text = 'Hello, world! 日本語 🙂 code = [x ** 2]\n'.repeat(40_000);
  const meter = new WorkMeter();
  const packed = await tokenizeInSlices(text, { meter });
  assert.equal(packed.length, tokenizePacked(text).length);
  assert.ok(meter.largestTurn('tokenizeChars') <= SLICE_CHARS + 64, `largest slice ${meter.largestTurn('tokenizeChars')}`);
  assert.equal(meter.totalUnits('tokenizeChars'), text.length);
  assert.ok(meter.turnCount('tokenizeChars') >= text.length / SLICE_CHARS - 1);
  assert.ok(meter.largestTurn('copyTokens') <= MAX_UNITS_PER_TURN + SLICE_CHARS, `largest copy ${meter.largestTurn('copyTokens')}`);
  assert.equal(meter.totalUnits('copyTokens'), packed.length);
  assert.ok(meter.turnCount('copyTokens') > 1);
});
