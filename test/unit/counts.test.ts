// The one rule for counts shown to the user (src/common/counts.ts): locale-formatted numbers, token plurals.
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { formatCount, tokenCount } from '../../src/common/counts';

describe('counts', () => {
  it('formats numbers in the given locale', () => {
    assert.equal(formatCount(1234567, 'en'), '1,234,567');
    assert.equal(formatCount(1234567, 'de'), '1.234.567');
  });
  it('says token or tokens', () => {
    assert.equal(tokenCount(1, 'en'), '1 token');
    assert.equal(tokenCount(1001, 'en'), '1,001 tokens');
    assert.equal(tokenCount(0, 'en'), '0 tokens');
  });
  it('falls back to the default locale for a malformed tag instead of throwing', () => {
    assert.equal(formatCount(12, 'not a locale!'), new Intl.NumberFormat().format(12));
  });
});
