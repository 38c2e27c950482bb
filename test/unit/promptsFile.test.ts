// The .prompts format: prompts verbatim (leading spaces kept, CRLF dropped), comments and blank
// lines skipped, optional answers after " => ", and the clean/corrupted pair at a line.
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { parsePrompts, promptPairAt } from '../../src/common/promptsFile';

const FILE = [
  '# IOI pair',
  'When Mary and John went to the store, John gave a drink to =>  Mary| John',
  'When Mary and John went to the store, Mary gave a drink to',
  '',
  '  leading spaces stay\r',
  '# end',
].join('\n');

describe('.prompts files', () => {
  it('keeps prompts verbatim and reads answers', () => {
    const p = parsePrompts(FILE);
    assert.deepEqual(
      p.map((x) => x.line),
      [1, 2, 4],
    );
    assert.equal(p[0]!.text, 'When Mary and John went to the store, John gave a drink to');
    assert.deepEqual(p[0]!.answers, [' Mary', ' John']);
    assert.equal(p[1]!.answers, undefined);
    assert.equal(p[2]!.text, '  leading spaces stay');
  });

  it('gives the pair at a line: that prompt and the next; a comment line means the prompt after it', () => {
    const p = parsePrompts(FILE);
    assert.deepEqual(
      promptPairAt(p, 0).map((x) => x.line),
      [1, 2],
    );
    assert.deepEqual(
      promptPairAt(p, 2).map((x) => x.line),
      [2, 4],
    );
    assert.throws(() => promptPairAt(p, 4), /no prompt after line 5/);
  });

  it('says what is wrong with a malformed answers part', () => {
    assert.throws(() => parsePrompts('a prompt =>  Mary'), /line 1: .*two answers/);
  });
});
