// DocumentTokenCache: after any sequence of edits its tokens equal tokenize(fullText).
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { DocumentTokenCache, isCutPoint, tokenize, type TokenSpan } from '../../src/tokenizer';
import { seededRandom } from '../support/random';

/** Seeded so a failure replays. */
const prng = seededRandom;

// Snippets chosen to land on and around cut points: whitespace runs of every kind,
// the special token and halves of it, surrogate halves, contractions, digits.
const SNIPPETS = [
  ' ',
  '  ',
  '\n',
  '\n\n',
  '\r\n',
  '\t',
  '\u00a0',
  '\u3000',
  'a',
  'Z',
  "'s",
  "'",
  'll',
  '7',
  '42',
  '.',
  '<|endoftext|>',
  '<|endof',
  'text|>',
  '<',
  '|>',
  '😀',
  '\ud83d',
  '\ude00',
  'é',
  'e\u0301',
  '日本',
  'function f() {\n  return 1;\n}\n',
  'The quick brown fox.\n',
  '    indented\n',
  'x',
  '\u0000',
];

function randomText(rand: () => number, pieces: number): string {
  let s = '';
  for (let i = 0; i < pieces; i++) s += SNIPPETS[Math.floor(rand() * SNIPPETS.length)]!;
  return s;
}

const plain = (spans: readonly TokenSpan[]) => spans.map((s) => `${s.id}@${s.start}-${s.end}`).join(' ');

describe('DocumentTokenCache', () => {
  it('equals tokenize(fullText) after every one of many seeded random edits', () => {
    for (const seed of [1, 2, 3, 4, 5, 6]) {
      const rand = prng(seed);
      const cache = new DocumentTokenCache(randomText(rand, 300), { targetChunkLength: 8 + seed * 5 });
      assert.ok(cache.chunkCount > 5, 'small chunks so edits cross boundaries');
      for (let step = 0; step < 250; step++) {
        const n = cache.text.length;
        const a = Math.floor(rand() * (n + 1));
        const len = Math.min(n - a, Math.floor(rand() * (rand() < 0.8 ? 4 : 40)));
        const ins = rand() < 0.3 ? '' : randomText(rand, 1 + Math.floor(rand() * 3));
        cache.applyChange({ rangeOffset: a, rangeLength: len, text: ins });
        const expected = tokenize(cache.text);
        const got = cache.tokens();
        if (plain(got) !== plain(expected)) {
          assert.fail(`seed ${seed} step ${step}: edit [${a},${a + len}) <- ${JSON.stringify(ins)} diverged`);
        }
        assert.equal(cache.count, expected.length);
      }
    }
  });

  it('drops a cut point when an edit completes a <|endoftext|> right after it', () => {
    // The cut between the two newlines is valid until the X goes; then '\n\n' before the
    // literal is one piece (628), which the stale cut would have split in two (198 198).
    const text = 'word\n\n<|endofXtext|> more words here\n';
    const cache = new DocumentTokenCache(text, { targetChunkLength: 1 });
    const x = text.indexOf('X');
    assert.ok(isCutPoint(text, text.indexOf('\n') + 1));
    cache.applyChange({ rangeOffset: x, rangeLength: 1, text: '' });
    assert.equal(plain(cache.tokens()), plain(tokenize(cache.text)));
    cache.applyChange({ rangeOffset: x, rangeLength: 0, text: 'Y' });
    assert.equal(plain(cache.tokens()), plain(tokenize(cache.text)));
  });

  it('applies several changes of one event in order', () => {
    const cache = new DocumentTokenCache('hello world\nsecond line\n', { targetChunkLength: 4 });
    cache.applyChanges([
      { rangeOffset: 12, rangeLength: 6, text: 'first' },
      { rangeOffset: 0, rangeLength: 5, text: 'goodbye' },
    ]);
    assert.equal(cache.text, 'goodbye world\nfirst line\n');
    assert.equal(plain(cache.tokens()), plain(tokenize(cache.text)));
  });

  it('rejects an edit outside the text without changing it', () => {
    const cache = new DocumentTokenCache('abc');
    assert.throws(() => cache.applyChange({ rangeOffset: 2, rangeLength: 5, text: '' }), RangeError);
    assert.equal(cache.text, 'abc');
    assert.equal(plain(cache.tokens()), plain(tokenize('abc')));
  });

  it('finds the token at an offset and the tokens in a range', () => {
    const text = 'Hello there 👍 world\n<|endoftext|>next line here\n'.repeat(20);
    const cache = new DocumentTokenCache(text, { targetChunkLength: 16 });
    const all = tokenize(text);
    for (let o = 0; o < text.length; o++) {
      const hit = cache.tokenAt(o);
      assert.ok(hit, `offset ${o}`);
      const firstHolding = all.findIndex((s) => s.start <= o && o < s.end);
      assert.equal(hit.index, firstHolding, `offset ${o}`);
      assert.deepEqual(hit.span, all[firstHolding]);
    }
    assert.equal(cache.tokenAt(text.length), undefined);
    assert.equal(cache.tokenAt(-1), undefined);
    for (const [s, e] of [
      [0, 5],
      [3, 40],
      [100, 100],
      [12, 13],
      [0, text.length],
    ] as const) {
      const expected = all.filter((t) => (s === e ? t.start <= s && s < t.end : t.start < e && t.end > s));
      assert.deepEqual(cache.tokensInRange(s, e), expected, `[${s},${e})`);
    }
    assert.equal(new DocumentTokenCache('').tokenAt(0), undefined);
    assert.equal(new DocumentTokenCache('').count, 0);
  });

  it('cuts only where the pre-tokenizer cannot join across', () => {
    // Brute force: a cut point must split the tokens exactly.
    const rand = prng(99);
    for (let trial = 0; trial < 300; trial++) {
      const text = randomText(rand, 12);
      const whole = plain(tokenize(text));
      for (let q = 0; q < text.length; q++) {
        if (!isCutPoint(text, q)) continue;
        const left = tokenize(text.slice(0, q));
        const right = tokenize(text.slice(q)).map((s) => ({ id: s.id, start: s.start + q, end: s.end + q }));
        assert.equal(plain([...left, ...right]), whole, `${JSON.stringify(text)} cut at ${q}`);
      }
    }
  });
});
