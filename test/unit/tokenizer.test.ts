// GPT-2 tokenizer: ids against gpt-tokenizer and tiktoken, UTF-16 offsets against an
// independent byte-to-code-point walk, and inputs that must not throw.
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { get_encoding } from '@dqbd/tiktoken';
import { encode as referenceEncode } from 'gpt-tokenizer/encoding/r50k_base';
import {
  decode,
  encode,
  END_OF_TEXT_ID,
  tokenBytes,
  tokenDisplay,
  tokenize,
  tokenString,
  toStrTokens,
  type TokenSpan,
} from '../../src/tokenizer';

/** Reference spans: map each token's byte range to the code points that hold it, naively. */
function referenceSpans(text: string, ids: readonly number[]): { start: number; end: number }[] {
  // byte index -> [utf16 start, utf16 end) of the code point holding it
  const cpStart: number[] = [];
  const cpEnd: number[] = [];
  for (let i = 0; i < text.length;) {
    const cp = text.codePointAt(i)!;
    const units = cp > 0xffff ? 2 : 1;
    const isLone = cp >= 0xd800 && cp <= 0xdfff;
    const n = Buffer.byteLength(isLone ? '\ufffd' : String.fromCodePoint(cp), 'utf8');
    for (let k = 0; k < n; k++) {
      cpStart.push(i);
      cpEnd.push(i + units);
    }
    i += units;
  }
  const out: { start: number; end: number }[] = [];
  let b = 0;
  let u = 0; // utf16 position for special tokens, which are whole literals
  for (const id of ids) {
    const len = tokenBytes(id).length;
    if (id === END_OF_TEXT_ID) {
      const at = text.indexOf('<|endoftext|>', u);
      out.push({ start: at, end: at + 13 });
      b += len;
      u = at + 13;
      continue;
    }
    out.push({ start: cpStart[b]!, end: cpEnd[b + len - 1]! });
    u = cpEnd[b + len - 1]!;
    b += len;
  }
  return out;
}

function assertSpansExact(text: string): TokenSpan[] {
  const spans = tokenize(text);
  const ids = spans.map((s) => s.id);
  assert.deepEqual(
    spans.map(({ start, end }) => ({ start, end })),
    referenceSpans(text, ids),
    `spans of ${JSON.stringify(text)}`,
  );
  return spans;
}

const varied = [
  'Whether a word begings with a capital or space matters!',
  "It's what we've done; they'll say we'd REALLY re-done it. I'm sure.",
  'function f(x: number): number {\n\treturn x * 2; // doubled\n}\n',
  'Numbers 1234567890 and 3.14159, 1e-9, 0xDEADBEEF',
  '   leading and trailing spaces   \n\n\n  indented\n',
  'Ünïcödé façade naïve résumé — “quotes” … ellipsis',
  '日本語のテキストと中文文本和한국어',
  'emoji 😀👍🏽 family 👨‍👩‍👧‍👦 flags 🇯🇵🇺🇸 keycap 1️⃣',
  'مرحبا بالعالم שלום עולם',
  'e\u0301 a\u0308 combining Z\u0351\u0352\u0353',
  'line one\r\nline two\r\n\r\nend',
  'tabs\tand\u000bvertical\ffeeds\u00a0nbsp\u3000ideo',
  '',
];

describe('tokenizer ids', () => {
  it('equal gpt-tokenizer r50k_base on varied text', () => {
    for (const t of varied) assert.deepEqual(encode(t), referenceEncode(t), JSON.stringify(t));
  });

  it('reproduce the seed example with BOS prepended', () => {
    const text = 'Whether a word begings with a capital or space matters!';
    const ids = encode('<|endoftext|>' + text);
    assert.deepEqual(ids.slice(0, 4), [50256, 15354, 257, 1573]);
    assert.deepEqual(ids.slice(1), referenceEncode(text));
    assert.equal(decode(ids), '<|endoftext|>' + text);
  });

  it('turn a literal <|endoftext|> anywhere into 50256, like tiktoken with specials allowed', () => {
    const tk = get_encoding('gpt2');
    try {
      for (const t of [
        'a <|endoftext|> b',
        'mid<|endoftext|>text',
        '<|endoftext|><|endoftext|>x<|endoftext|>',
        'end with it\n<|endoftext|>',
        '  \n<|endoftext|>  ',
        '<|endoftext|',
        '<|endoftext|>',
      ]) {
        assert.deepEqual(encode(t), Array.from(tk.encode(t, 'all')), JSON.stringify(t));
      }
    } finally {
      tk.free();
    }
    assert.equal(encode('x <|endoftext|> y <|endoftext|>').filter((id) => id === END_OF_TEXT_ID).length, 2);
  });

  it('decode round-trips and to_str_tokens decodes each id alone', () => {
    for (const t of varied) assert.equal(decode(encode(t)), t);
    const ids = encode('hi 👍');
    const strs = toStrTokens(ids);
    assert.equal(strs.length, ids.length);
    assert.equal(strs[0], 'hi');
    // 👍 is split across tokens: each piece alone is partial UTF-8 -> U+FFFD
    assert.ok(
      strs.slice(1).some((s) => s.includes('\ufffd')),
      JSON.stringify(strs),
    );
    assert.equal(tokenString(END_OF_TEXT_ID), '<|endoftext|>');
    assert.throws(() => decode([50257]), RangeError);
    assert.throws(() => tokenBytes(-1), /not in GPT-2's vocabulary/);
  });
});

describe('tokenizer offsets', () => {
  it('are the smallest run of whole code points holding each token', () => {
    for (const t of varied) assertSpansExact(t);
  });

  it('point every byte piece of a split emoji at the whole emoji', () => {
    const text = 'a 👨‍👩‍👧 🇯🇵!';
    const spans = assertSpansExact(text);
    const flagStart = text.indexOf('🇯🇵');
    const inFlag = spans.filter((s) => s.start >= flagStart - 1 && s.end <= flagStart + 4);
    assert.ok(inFlag.length >= 2, 'the flag is several tokens');
    for (const s of inFlag) {
      // Each regional indicator is 2 code units; a token ends on a code point boundary.
      assert.ok(s.end === flagStart + 2 || s.end === flagStart + 4, JSON.stringify(s));
    }
  });

  it('map lone surrogates (high and low) to their single code unit', () => {
    for (const t of ['x\ud800y', 'x\udc00y', '\ud83d', '\ude00\ud83d', 'a\ud83d\ud83db', ' \udfff ']) {
      const spans = assertSpansExact(t);
      assert.deepEqual(encode(t), referenceEncode(t));
      for (const s of spans) assert.ok(s.end - s.start >= 1);
    }
    const spans = tokenize('x\ud800y');
    const lone = spans.filter((s) => s.start === 1);
    assert.ok(lone.length >= 1 && lone.every((s) => s.end === 2), JSON.stringify(spans));
  });

  it('handle NUL, CRLF, RTL, CJK and combining marks', () => {
    for (const t of ['a\u0000b\u0000\u0000', 'x\r\ny\r\n', 'שלום עולם', '中文文本', 'n\u0303o\u0303']) {
      assertSpansExact(t);
      assert.deepEqual(encode(t), referenceEncode(t));
    }
  });

  it('give the literal <|endoftext|> its own 13-unit span mid-text', () => {
    const text = 'say <|endoftext|> twice<|endoftext|>';
    const spans = assertSpansExact(text);
    const specials = spans.filter((s) => s.id === END_OF_TEXT_ID);
    assert.deepEqual(
      specials.map((s) => [s.start, s.end]),
      [
        [4, 17],
        [23, 36],
      ],
    );
  });

  it('finish a 10 MB input with monotone offsets covering the text', () => {
    const unit = 'The quick brown fox 🦊 jumps; 日本語 <|endoftext|>\r\n\tconst x = 42;\u0000\ud800 ';
    const text = unit.repeat(Math.ceil((10 * 1024 * 1024) / unit.length));
    const spans = tokenize(text);
    assert.ok(spans.length > 1_000_000);
    let covered = 0;
    for (let i = 0; i < spans.length; i++) {
      const s = spans[i]!;
      assert.ok(s.start < s.end);
      if (i > 0) {
        const p = spans[i - 1]!;
        assert.ok(s.start >= p.start && s.end >= p.end, `monotone at ${i}`);
        // contiguous, or sharing a split code point with the previous token: never a gap
        if (s.start > p.end) assert.fail(`gap before token ${i}`);
      } else {
        assert.equal(s.start, 0);
      }
      covered = Math.max(covered, s.end);
    }
    assert.equal(covered, text.length);
  });

  it('never throws on odd input', () => {
    const odd = [
      '',
      '\u0000',
      '\ud800',
      '\udc00',
      '\ufffd',
      '\ufeff',
      ' ',
      '\n'.repeat(1000),
      'a'.repeat(200_000),
      ' '.repeat(100_000) + 'x',
      '<|endoftext|'.repeat(100),
    ];
    for (const t of odd) {
      const ids = encode(t);
      assert.equal(tokenize(t).length, ids.length);
    }
    // A 200 kB run of one letter is a single regex piece: the heap BPE keeps it fast and correct.
    assert.deepEqual(encode('a'.repeat(5000)), referenceEncode('a'.repeat(5000)));
  });
});

describe('token display', () => {
  it('shows whitespace and partial UTF-8 visibly', () => {
    assert.equal(tokenDisplay(encode(' the')[0]!), '·the');
    assert.equal(tokenDisplay(encode('\n')[0]!), '↵');
    assert.equal(tokenDisplay(encode('\t')[0]!), '→');
    assert.equal(tokenDisplay(encode('\u0000')[0]!), '<00>');
    assert.equal(tokenDisplay(END_OF_TEXT_ID), '<|endoftext|>');
    const pieces = encode('👍').map(tokenDisplay);
    assert.equal(pieces.join(''), '<f0><9f><91><8d>');
  });
});
