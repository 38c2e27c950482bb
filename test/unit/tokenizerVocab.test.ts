// Vocabulary table and search, checked against naive scans of tokenBytes/tokenString.
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { encode, GPT2_VOCAB_SIZE, tokenBytes, tokenString, Vocabulary } from '../../src/tokenizer';

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
});
