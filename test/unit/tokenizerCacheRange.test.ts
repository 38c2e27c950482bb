// DocumentTokenCache.rangePieces / countInRange: any range's pieces, shifted, equal
// tokenizePacked of that range's text alone, before and after edits.
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { DocumentTokenCache, tokenizePacked, type RangePiece } from '../../src/tokenizer';
import { seededRandom } from '../support/random';

const prng = seededRandom;

// Cut points and near-misses: whitespace before words, the special token and halves of it.
const SNIPPETS = [
  ' ',
  '  ',
  '\n',
  '\r\n',
  '\t',
  '\u3000',
  'a',
  "'s",
  '7',
  '.',
  '<|endoftext|>',
  '<|endof',
  'text|>',
  '😀',
  '\ud83d',
  'é',
  '日本',
  'word ',
  'The quick brown fox.\n',
  '    indented\n',
];

function randomText(rand: () => number, pieces: number): string {
  let s = '';
  for (let i = 0; i < pieces; i++) s += SNIPPETS[Math.floor(rand() * SNIPPETS.length)]!;
  return s;
}

function joinPieces(pieces: readonly RangePiece[]): string {
  const out: string[] = [];
  for (const p of pieces) {
    for (let j = 0; j < p.tokens.length; j++) {
      out.push(`${p.tokens.ids[j]}@${p.tokens.starts[j]! + p.shift}-${p.tokens.ends[j]! + p.shift}`);
    }
  }
  return out.join(' ');
}

function packedString(text: string): string {
  const t = tokenizePacked(text);
  const out: string[] = [];
  for (let j = 0; j < t.length; j++) out.push(`${t.ids[j]}@${t.starts[j]}-${t.ends[j]}`);
  return out.join(' ');
}

describe('DocumentTokenCache ranges', () => {
  it('pieces and counts of random ranges equal tokenizing the range alone', () => {
    for (let seed = 1; seed <= 12; seed++) {
      const rand = prng(seed);
      const cache = new DocumentTokenCache(randomText(rand, 200), { targetChunkLength: 4 + seed * 3 });
      for (let round = 0; round < 4; round++) {
        const text = cache.text;
        for (let r = 0; r < 40; r++) {
          const a = Math.floor(rand() * (text.length + 1));
          const b = a + Math.floor(rand() * (text.length + 1 - a));
          const where = `seed ${seed} round ${round} range [${a}, ${b})`;
          assert.equal(joinPieces(cache.rangePieces(a, b)), packedString(text.slice(a, b)), where);
          assert.equal(cache.countInRange(a, b), tokenizePacked(text.slice(a, b)).length, where);
        }
        // An edit leaves the joined text unset, so ranges are read from the chunks.
        const at = Math.floor(rand() * (text.length + 1));
        cache.applyChange({ rangeOffset: at, rangeLength: Math.min(3, text.length - at), text: randomText(rand, 3) });
      }
    }
  });

  it('the whole text and empty or out-of-range ranges', () => {
    const text = 'Hello world, this is a test.\n'.repeat(50);
    const cache = new DocumentTokenCache(text, { targetChunkLength: 16 });
    assert.equal(joinPieces(cache.rangePieces(0, text.length)), packedString(text));
    assert.ok(cache.rangePieces(0, text.length).length > 10, 'whole chunks are reused, not re-tokenized');
    assert.deepEqual(cache.rangePieces(5, 5), []);
    assert.equal(cache.countInRange(7, 3), 0);
    assert.equal(cache.countInRange(-10, text.length + 10), tokenizePacked(text).length);
  });
});
