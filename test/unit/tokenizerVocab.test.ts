// Vocabulary table and search, checked against naive scans of tokenBytes/tokenString.
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import {
  compileUserRegex,
  encode,
  GPT2_VOCAB_SIZE,
  MAX_USER_REGEX_LENGTH,
  SEARCH_ROWS_PER_STEP,
  tokenBytes,
  tokenString,
  Vocabulary,
} from '../../src/tokenizer';

describe('Vocabulary', () => {
  const vocab = Vocabulary.shared();

  it('has all 50,257 entries with bytes, display and partial-UTF-8 flags', () => {
    const entries = vocab.entries();
    assert.equal(entries.length, GPT2_VOCAB_SIZE);
    entries.forEach((e, id) => {
      assert.equal(e.id, id);
      assert.deepEqual(e.bytes, tokenBytes(id));
    });
    assert.equal(vocab.entry(50256)?.display, '<|endoftext|>');
    assert.equal(vocab.entry(encode(' the')[0]!)?.display, '·the');
    assert.equal(vocab.entry(encode('\n\n')[0]!)?.display, '↵↵');
    const partial = entries.filter((e) => e.partialUtf8);
    assert.ok(partial.length > 100, 'byte-level tokens exist');
    for (const e of partial) {
      assert.match(e.display, /<[0-9a-f]{2}>/);
      assert.ok(tokenString(e.id).includes('\ufffd'));
    }
    assert.equal(vocab.entry(50257), undefined);
  });

  it('substring search finds what a naive scan finds, exact match first', () => {
    const r = vocab.search('The', 'substring', 100_000);
    assert.ok(r.ok);
    const naive = vocab.entries().filter((e) => tokenString(e.id).includes('The') || e.display.includes('The'));
    assert.equal(r.total, naive.length);
    assert.deepEqual(new Set(r.entries.map((e) => e.id)), new Set(naive.map((e) => e.id)));
    assert.equal(tokenString(r.entries[0]!.id), 'The');
    // smart case: a lower-case query also finds upper-case tokens
    const folded = vocab.search('the', 'substring', 100_000);
    assert.ok(folded.ok && folded.total > naive.length);
  });

  it('prefix, regex and id modes', () => {
    const prefix = vocab.search('·qu', 'prefix', 10_000);
    assert.ok(prefix.ok && prefix.total > 0);
    for (const e of prefix.entries) assert.ok(e.display.toLowerCase().startsWith('·qu'), e.display);

    const regex = vocab.search('^\\d{4}$', 'regex', 10_000);
    assert.ok(regex.ok);
    const naive = vocab.entries().filter((e) => /^\d{4}$/u.test(tokenString(e.id)));
    assert.equal(regex.total, naive.length);
    assert.ok(regex.total > 50, `${regex.total} four-digit tokens`);

    const ids = vocab.search('50256, 0-2', 'id', 10);
    assert.ok(ids.ok);
    assert.deepEqual(
      ids.entries.map((e) => e.id),
      [50256, 0, 1, 2],
    );
    const limited = vocab.search('a', 'substring', 3);
    assert.ok(limited.ok && limited.entries.length === 3 && limited.total > 3);
  });

  it('reports bad queries as results, not throws', () => {
    const bad = vocab.search('(unclosed', 'regex', 10);
    assert.equal(bad.ok, false);
    assert.ok(!bad.ok && /invalid regular expression/.test(bad.error));
    const badId = vocab.search('12x', 'id', 10);
    assert.ok(!badId.ok && /not a token id/.test(badId.error));
    const outOfRange = vocab.search('50257', 'id', 10);
    assert.ok(!outOfRange.ok && /not in GPT-2's vocabulary/.test(outOfRange.error));
  });

  // Regression: JavaScript's backtracking RegExp ran `^(.*)*x$` for minutes on the host. The
  // linear-time engine gives the same answer as the equivalent pattern without nesting.
  it('regex search is linear time: nested quantifiers match like their flat equivalents', () => {
    const cases: [string, RegExp][] = [
      ['^(.*)*x$', /^.*x$/iu],
      ['^([a-z]+)*[0-9]$', /^[a-z]*[0-9]$/iu],
      ['^(a|a)*b$', /^a*b$/iu],
    ];
    const texts = Array.from({ length: GPT2_VOCAB_SIZE }, (_, id) => tokenString(id));
    for (const [pattern, flat] of cases) {
      const found = vocab.search(pattern, 'regex', GPT2_VOCAB_SIZE);
      assert.ok(found.ok, pattern);
      const expected = texts.flatMap((t, id) => (flat.test(t) ? [id] : []));
      assert.equal(found.total, expected.length, pattern);
      assert.deepEqual(
        found.entries.map((e) => e.id),
        expected,
        pattern,
      );
    }
  });

  it('regex search refuses backreferences and lookaround by name, and keeps JavaScript spellings', () => {
    const refused: [string, RegExp][] = [
      ['(a)\\1', /backreference \\1/],
      ['(?<x>a)\\k<x>', /named backreference/],
      ['foo(?=bar)', /lookahead/],
      ['foo(?!bar)', /negative lookahead/],
      ['(?<=a)b', /lookbehind/],
      ['(?<!a)b', /negative lookbehind/],
    ];
    for (const [pattern, why] of refused) {
      const r = vocab.search(pattern, 'regex', 10);
      assert.ok(!r.ok, `${pattern} is refused`);
      assert.match(r.error, why);
      assert.match(r.error, /linear-time engine/);
    }
    // Escaped or in a class, the same characters are literals, not refused features.
    assert.ok(vocab.search('\\(\\?=', 'regex', 10).ok);
    assert.ok(vocab.search('[(?=]', 'regex', 10).ok);
    assert.ok(vocab.search('[\\1]', 'regex', 10).ok === compileUserRegex('[\\1]').ok);
    // \u escapes and smart case behave as they did with JavaScript's RegExp.
    const e = vocab.search('\\u00e9\\u{e9}?$', 'regex', GPT2_VOCAB_SIZE);
    const withE = Array.from({ length: GPT2_VOCAB_SIZE }, (_, id) => id).filter((id) => /\u00e9\u{e9}?$/iu.test(tokenString(id)));
    assert.ok(e.ok && withE.length > 5 && e.total === withE.length);
    const upper = vocab.search('^The$', 'regex', 10);
    assert.ok(upper.ok && upper.entries.every((x) => tokenString(x.id) === 'The'));
    const lower = vocab.search('^the$', 'regex', 10);
    assert.ok(lower.ok && lower.total >= 2, 'smart case folds a lower-case pattern');
    // Size limits keep the scan bounded too.
    assert.ok(!compileUserRegex('a'.repeat(MAX_USER_REGEX_LENGTH + 1)).ok);
    const huge = compileUserRegex('[a-z]{999}[0-9]{999}[a-f]{999}');
    assert.ok(!huge.ok && /too large/.test(huge.error));
  });

  // The host runs one step per event-loop turn: each step scans a bounded number of rows.
  it('searchSteps scans at most SEARCH_ROWS_PER_STEP rows a step and finds what search finds', () => {
    for (const [q, mode] of [
      ['^(.*)*x$', 'regex'],
      ['the', 'substring'],
      ['ab', 'prefix'],
    ] as const) {
      const steps = vocab.searchSteps(q, mode, 100);
      const marks: number[] = [];
      let next = steps.next();
      while (!next.done) {
        marks.push(next.value);
        next = steps.next();
      }
      assert.deepEqual(next.value, vocab.search(q, mode, 100), q);
      let prev = 0;
      for (const m of [...marks, GPT2_VOCAB_SIZE]) {
        assert.ok(m - prev <= SEARCH_ROWS_PER_STEP, `${q}: a step scanned ${m - prev} rows`);
        prev = m;
      }
      assert.equal(marks.length, Math.ceil(GPT2_VOCAB_SIZE / SEARCH_ROWS_PER_STEP) - 1);
    }
  });
});
