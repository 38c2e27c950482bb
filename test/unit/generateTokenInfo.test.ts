// Continue Text's per-token pieces that need no VS Code (src/extension/generate/tokenInfo.ts):
// probability bins, where each token sits in the inserted text (a character split across tokens
// included), and the hover's text.
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { insertedText, probBin, tokenHoverMarkdown, tokenOffsets } from '../../src/extension/generate/tokenInfo';
import { decode, encode } from '../../src/tokenizer';

describe('Continue Text token info', () => {
  it('bins probabilities at 5, 20, 50 and 80 %', () => {
    assert.deepEqual([0, 0.049, 0.05, 0.19, 0.2, 0.5, 0.79, 0.8, 1].map(probBin), [0, 0, 1, 1, 2, 3, 3, 4, 4]);
  });

  it('places each token in the inserted text; a character split across tokens belongs to the token that completes it', () => {
    const ids = encode(' héllo 🦜 world');
    const text = insertedText(ids);
    assert.equal(text, decode(ids));
    const spans = tokenOffsets(ids);
    assert.equal(spans.length, ids.length);
    assert.equal(spans.at(-1)!.end, text.length);
    for (let i = 1; i < spans.length; i++) assert.equal(spans[i]!.start, spans[i - 1]!.end);
    // The emoji is several byte tokens: the first ones are empty, the last one covers it.
    const emoji = spans.findIndex((s) => text.slice(s.start, s.end).includes('🦜'));
    assert.ok(emoji > 0 && spans[emoji - 1]!.start === spans[emoji - 1]!.end, 'an empty span before the completing token');
    // A trailing partial character is not inserted yet.
    assert.equal(insertedText(ids.slice(0, emoji)), text.slice(0, spans[emoji]!.start));
  });

  it('the hover names the token, its probability and rank, and the top 5 with the picked one marked', () => {
    const md = tokenHoverMarkdown(
      {
        id: 262,
        prob: 0.123,
        rank: 2,
        top: [
          { id: 11, prob: 0.3 },
          { id: 262, prob: 0.123 },
          { id: 13, prob: 0.1 },
          { id: 286, prob: 0.05 },
          { id: 290, prob: 0.01 },
        ],
      },
      true,
    );
    assert.match(md, /^\*\*Model Lens generated\*\* `·the`: probability 12\.3 %, rank 2 — demo model: random weights$/m);
    assert.equal((md.match(/^\| [1-5] \|/gm) ?? []).length, 5);
    assert.match(md, /^\| 2 \| `·the` ← picked \| 12\.3 % \|$/m);
    assert.match(md, /^\| 5 \| .* \| 1\.00 % \|$/m);
  });
});
