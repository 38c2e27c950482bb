// Text -> GPT-2 token ids with UTF-16 offsets, in one pass. The offsets come almost free:
// a pre-tokenized piece that is a single token spans exactly its regex match; only pieces
// that split into several tokens walk their code points, summing each token's precomputed
// byte length against each code point's UTF-8 length.
import { bytePairEncode } from './bpe';
import { gpt2PieceRegex } from './pretokenize';
import { END_OF_TEXT, END_OF_TEXT_ID, type PackedTokens } from './types';
import { vocabTables } from './vocabData';

/** Growable struct-of-arrays token list. */
export class TokenBuffer implements PackedTokens {
  length = 0;
  ids: Int32Array;
  starts: Int32Array;
  ends: Int32Array;

  constructor(capacity = 64) {
    const c = Math.max(16, capacity | 0);
    this.ids = new Int32Array(c);
    this.starts = new Int32Array(c);
    this.ends = new Int32Array(c);
  }

  push(id: number, start: number, end: number): void {
    if (this.length === this.ids.length) this.grow();
    const i = this.length++;
    this.ids[i] = id;
    this.starts[i] = start;
    this.ends[i] = end;
  }

  private grow(): void {
    const c = this.ids.length * 2;
    const ids = new Int32Array(c);
    const starts = new Int32Array(c);
    const ends = new Int32Array(c);
    ids.set(this.ids);
    starts.set(this.starts);
    ends.set(this.ends);
    this.ids = ids;
    this.starts = starts;
    this.ends = ends;
  }

  /** Exact-size copy, so a kept result does not pin the slack. */
  trimmed(): PackedTokens {
    const n = this.length;
    return { length: n, ids: this.ids.slice(0, n), starts: this.starts.slice(0, n), ends: this.ends.slice(0, n) };
  }
}

const pieceRegex = gpt2PieceRegex();
const utf8 = new TextEncoder();

/**
 * Multi-token pieces seen before -> their ids. Bounded: cleared when full, which only
 * costs re-merging (the result never depends on what is cached).
 */
const pieceCache = new Map<string, Int32Array>();
const PIECE_CACHE_MAX = 100_000;

function piecesIds(piece: string): Int32Array {
  let ids = pieceCache.get(piece);
  if (ids === undefined) {
    // TextEncoder writes a lone surrogate as U+FFFD's 3 bytes, as GPT-2 tokenizers do.
    ids = Int32Array.from(bytePairEncode(utf8.encode(piece)));
    if (pieceCache.size >= PIECE_CACHE_MAX) pieceCache.clear();
    pieceCache.set(piece, ids);
  }
  return ids;
}

/**
 * Spread a multi-token piece's tokens over its code points. A token's span is the smallest
 * run of whole code points holding its bytes, so the pieces of a split character all point
 * at that whole character.
 */
function pushSplitPiece(seg: string, from: number, to: number, ids: Int32Array, base: number, out: TokenBuffer): void {
  const byteLength = vocabTables().byteLength;
  let cp = from; // UTF-16 index of the current code point
  let cpUnits = 0;
  let cpByteEnd = 0; // byte offset (within the piece) one past the current code point
  const step = (): void => {
    cp += cpUnits;
    const c = seg.charCodeAt(cp);
    if (c < 0x80) {
      cpUnits = 1;
      cpByteEnd += 1;
    } else if (c < 0x800) {
      cpUnits = 1;
      cpByteEnd += 2;
    } else if (c >= 0xd800 && c <= 0xdbff && cp + 1 < to && (seg.charCodeAt(cp + 1) & 0xfc00) === 0xdc00) {
      cpUnits = 2;
      cpByteEnd += 4;
    } else {
      cpUnits = 1; // includes lone surrogates, written as U+FFFD (3 bytes)
      cpByteEnd += 3;
    }
  };
  step();
  let byteAt = 0;
  for (let t = 0; t < ids.length; t++) {
    const id = ids[t]!;
    const tokStart = byteAt;
    byteAt += byteLength[id]!;
    while (cpByteEnd <= tokStart && cp + cpUnits < to) step();
    const start = cp;
    while (cpByteEnd < byteAt && cp + cpUnits < to) step();
    out.push(id, base + start, base + cp + cpUnits);
  }
}

/** Tokenize seg (which holds no `<|endoftext|>`), offsets shifted by base. */
function pushSegment(seg: string, base: number, out: TokenBuffer): void {
  const idOfText = vocabTables().idOfText;
  const n = seg.length;
  let pos = 0;
  while (pos < n) {
    pieceRegex.lastIndex = pos;
    // Always matches (see gpt2PieceRegex); the fallback only keeps a broken invariant from looping.
    const end = pieceRegex.test(seg) && pieceRegex.lastIndex > pos ? pieceRegex.lastIndex : n;
    const piece = seg.slice(pos, end);
    const id = idOfText.get(piece);
    if (id !== undefined) out.push(id, base + pos, base + end);
    else pushSplitPiece(seg, pos, end, piecesIds(piece), base, out);
    pos = end;
  }
}

/**
 * Append the tokens of text to out, offsets shifted by base. A literal `<|endoftext|>`
 * anywhere becomes id 50256 and the text on either side is tokenized separately, as
 * Hugging Face's GPT-2 tokenizer does with its added special token.
 */
export function tokenizeInto(text: string, base: number, out: TokenBuffer): void {
  let from = 0;
  let at = text.indexOf(END_OF_TEXT);
  if (at === -1) {
    pushSegment(text, base, out);
    return;
  }
  while (at !== -1) {
    if (at > from) pushSegment(text.slice(from, at), base + from, out);
    out.push(END_OF_TEXT_ID, base + at, base + at + END_OF_TEXT.length);
    from = at + END_OF_TEXT.length;
    at = text.indexOf(END_OF_TEXT, from);
  }
  if (from < text.length) pushSegment(from === 0 ? text : text.slice(from), base + from, out);
}

/** Tokens of text as packed arrays (exact size). */
export function tokenizePacked(text: string): PackedTokens {
  const out = new TokenBuffer((text.length >> 2) + 16);
  tokenizeInto(text, 0, out);
  return out.trimmed();
}
