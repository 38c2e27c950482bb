// The BOS / n_ctx rules of src/extension/modelInput.ts: the head of a huge text is tokenized only
// as far as the model can read, the tokens equal the whole text's, and a cut never splits a token.
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { headInput, tailInput } from '../../src/extension/modelInput';
import { END_OF_TEXT_ID, tokenize } from '../../src/tokenizer';

const PARTS = [
  'The quick brown fox jumps.   ',
  'function f(a) {\n\treturn a ** 2;\n}\n',
  '日本語の文章と漢字。',
  'emoji 🙂🚀 x',
  '        spaces    run\n',
];
function mixed(chars: number, seed = 0): string {
  let out = '';
  for (let i = seed; out.length < chars; i++) out += PARTS[i % PARTS.length]!;
  return out.slice(0, chars);
}

describe('modelInput', () => {
  // Regression: the activation panel and loss highlight tokenized a whole 20 MB document on the host.
  it('headInput reads a bounded prefix of a 20 MB text and keeps BOS + the first n_ctx - 1 tokens', () => {
    const text = mixed(20_000_000);
    let charsRead = 0;
    const read = (a: number, b: number): string => {
      charsRead += b - a;
      return text.slice(a, b);
    };
    const head = headInput(read, text.length, 1024);
    assert.equal(head.ids.length, 1024);
    assert.equal(head.ids[0], END_OF_TEXT_ID);
    assert.equal(head.truncated, true);
    const expected = tokenize(text.slice(0, 100_000))
      .slice(0, 1023)
      .map((t) => t.id);
    assert.deepEqual(head.ids.slice(1), expected);
    assert.ok(charsRead < 200_000, `${charsRead} characters read of 20,000,000`);
    assert.ok(head.charsTokenized < 100_000, `${head.charsTokenized} characters tokenized`);
  });

  it('headInput: the cut never changes the tokens next to it, at every n_ctx around a boundary', () => {
    const text = mixed(6000, 3);
    const whole = tokenize(text).map((t) => t.id);
    for (let nCtx = 2; nCtx < 300; nCtx += 7) {
      const head = headInput((a, b) => text.slice(a, b), text.length, nCtx);
      assert.deepEqual(head.ids, [END_OF_TEXT_ID, ...whole.slice(0, nCtx - 1)], `n_ctx ${nCtx}`);
      assert.equal(head.truncated, whole.length > nCtx - 1);
    }
    const short = headInput((a, b) => 'hi there'.slice(a, b), 8, 1024);
    assert.deepEqual(short.ids, [END_OF_TEXT_ID, ...tokenize('hi there').map((t) => t.id)]);
    assert.equal(short.truncated, false);
    // A run of spaces with no cut point for a long way still gives the exact tokens.
    const spaces = `a${' '.repeat(50_000)}b`;
    const sp = headInput((a, b) => spaces.slice(a, b), spaces.length, 64);
    assert.deepEqual(
      sp.ids.slice(1),
      tokenize(spaces)
        .slice(0, 63)
        .map((t) => t.id),
    );
  });

  it('tailInput drops a token cut at the start of the read and keeps BOS only at the document start', () => {
    const doc = mixed(5000, 1);
    const whole = tokenize(doc);
    for (const from of [1, 2, 7, 100, 1001, 2500]) {
      const tail = tailInput(doc.slice(from), false, 1024);
      // The tail's tokens are exactly the whole document's tokens that end at its end.
      const expected = whole.filter((t) => t.start >= from + (tail.spans[0]?.start ?? 0)).map((t) => t.id);
      assert.deepEqual(tail.ids, expected, `from ${from}`);
      assert.ok(tail.ids.length > 0 && tail.ids[0] !== END_OF_TEXT_ID);
    }
    const start = tailInput(doc.slice(0, 40), true, 1024);
    assert.deepEqual(start.ids, [END_OF_TEXT_ID, ...tokenize(doc.slice(0, 40)).map((t) => t.id)]);
    const windowed = tailInput(doc, true, 16);
    assert.deepEqual(
      windowed.ids,
      whole.slice(-16).map((t) => t.id),
    );
  });
});
