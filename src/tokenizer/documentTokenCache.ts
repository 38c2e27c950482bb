// A document's GPT-2 tokens, kept up to date through edits without re-tokenizing the whole
// document on each keystroke. The text is cut into chunks at cut points (see isCutPoint),
// where tokenizing each side alone gives the same tokens as tokenizing the whole; each chunk
// keeps its tokens with offsets relative to its own start, so an edit re-tokenizes only the
// chunks it touches and merely shifts the starts of the chunks after it. Each chunk also
// holds its own text: splicing one 5 MB string per keystroke (and flattening it to scan for
// cut points) would cost more than the re-tokenization itself.
// No vscode import: an editor adapter feeds it TextDocumentContentChangeEvent-shaped edits.
import { TokenBuffer, tokenizePacked } from './encoder';
import { CUT_POINT_SPAN, isCutPoint } from './pretokenize';
import type { PackedTokens, TextChange, TokenAt, TokenSpan } from './types';

interface Chunk {
  /** UTF-16 offset of the chunk in the document. */
  start: number;
  readonly text: string;
  /** Index of the chunk's first token in the document's token list. */
  tokenBase: number;
  /** Offsets relative to start. */
  readonly tokens: PackedTokens;
}

/** Tokens of part of a range (see rangePieces): add `shift` to their offsets. */
export interface RangePiece {
  readonly tokens: PackedTokens;
  readonly shift: number;
}

export interface DocumentTokenCacheOptions {
  /** Chunks are cut at the first cut point after this many code units (default 4096). Small values are for tests. */
  readonly targetChunkLength?: number;
}

const DEFAULT_CHUNK_LENGTH = 4096;

export class DocumentTokenCache {
  private docLength: number;
  /** The joined text, rebuilt on demand after an edit. */
  private joined: string | undefined;
  private chunks: Chunk[] = [];
  private readonly target: number;

  constructor(text: string, options: DocumentTokenCacheOptions = {}) {
    this.target = Math.max(1, Math.floor(options.targetChunkLength ?? DEFAULT_CHUNK_LENGTH));
    this.docLength = text.length;
    this.joined = text;
    this.chunks = this.buildChunks(text, text.length, 0);
    this.renumber(0);
  }

  /** The document's current text. */
  get text(): string {
    return (this.joined ??= this.chunks.map((c) => c.text).join(''));
  }

  get length(): number {
    return this.docLength;
  }

  /** Number of tokens in the document. */
  get count(): number {
    const last = this.chunks[this.chunks.length - 1];
    return last === undefined ? 0 : last.tokenBase + last.tokens.length;
  }

  /** Number of chunks (for diagnostics and benchmarks). */
  get chunkCount(): number {
    return this.chunks.length;
  }

  /** Replace the whole text (a reload, or changes that cannot be applied). */
  reset(text: string): void {
    this.docLength = text.length;
    this.joined = text;
    this.chunks = this.buildChunks(text, text.length, 0);
    this.renumber(0);
  }

  /**
   * Apply edits in order, each in the coordinates of the text left by the previous one
   * (VS Code's contentChanges of one event satisfy this). Throws RangeError, before changing
   * anything for that edit, when an edit's range is not inside the text.
   */
  applyChanges(changes: readonly TextChange[]): void {
    for (const c of changes) this.applyChange(c);
  }

  applyChange(change: TextChange): void {
    const { rangeOffset: a, rangeLength: len, text: inserted } = change;
    const oldLength = this.docLength;
    if (!Number.isInteger(a) || !Number.isInteger(len) || a < 0 || len < 0 || a + len > oldLength) {
      throw new RangeError(`edit range [${a}, ${a + len}) is not inside the document (length ${oldLength})`);
    }
    if (typeof inserted !== 'string') throw new TypeError('edit text must be a string');
    const e = a + len;
    const delta = inserted.length - len;

    // Keep chunk k's start boundary only when the units it depends on are untouched:
    // [s, s + CUT_POINT_SPAN) lies wholly before the edit, or s lies after it.
    const chunks = this.chunks;
    let i0 = this.lastChunkStartingAtOrBefore(a - CUT_POINT_SPAN);
    if (i0 < 0) i0 = 0;
    let i1 = this.lastChunkStartingAtOrBefore(e) + 1; // first chunk with start > e
    if (i1 <= i0) i1 = i0 + 1;
    i1 = Math.min(i1, chunks.length);

    const regionStart = chunks.length === 0 ? 0 : chunks[i0]!.start;
    let region = '';
    for (let k = i0; k < i1; k++) region += chunks[k]!.text;
    region = region.slice(0, a - regionStart) + inserted + region.slice(e - regionStart);
    // Cut points near the region's end look a few units into the next chunks.
    let lookahead = '';
    for (let k = i1; k < chunks.length && lookahead.length < CUT_POINT_SPAN; k++) {
      lookahead += chunks[k]!.text.slice(0, CUT_POINT_SPAN - lookahead.length);
    }
    for (let k = i1; k < chunks.length; k++) chunks[k]!.start += delta;
    const fresh = this.buildChunks(region + lookahead, region.length, regionStart);
    chunks.splice(i0, i1 - i0, ...fresh);
    this.docLength += delta;
    this.joined = undefined;
    this.renumber(i0);
  }

  /** All tokens, offsets into the current text. */
  tokens(): TokenSpan[] {
    const out = new Array<TokenSpan>(this.count);
    let n = 0;
    for (const c of this.chunks) {
      const t = c.tokens;
      for (let j = 0; j < t.length; j++) out[n++] = { id: t.ids[j]!, start: c.start + t.starts[j]!, end: c.start + t.ends[j]! };
    }
    return out;
  }

  /** All tokens as packed arrays (what the engine feeds on). */
  packed(): PackedTokens {
    const out = new TokenBuffer(this.count);
    for (const c of this.chunks) {
      const t = c.tokens;
      for (let j = 0; j < t.length; j++) out.push(t.ids[j]!, c.start + t.starts[j]!, c.start + t.ends[j]!);
    }
    return out.trimmed();
  }

  /**
   * The first token whose span holds the code unit at offset, or undefined when offset is
   * not inside the text. Binary search over chunks, then over the chunk's token ends.
   */
  tokenAt(offset: number): TokenAt | undefined {
    if (!Number.isFinite(offset) || offset < 0 || offset >= this.docLength) return undefined;
    const o = Math.floor(offset);
    const c = this.chunks[this.lastChunkStartingAtOrBefore(o)];
    if (c === undefined) return undefined;
    const j = firstEndAfter(c.tokens, o - c.start, 0);
    if (j >= c.tokens.length) return undefined;
    const t = c.tokens;
    return { index: c.tokenBase + j, span: { id: t.ids[j]!, start: c.start + t.starts[j]!, end: c.start + t.ends[j]! } };
  }

  /**
   * Tokens whose spans overlap [start, end); for an empty range, the tokens holding the
   * code unit at start. Offsets are clamped to the text.
   */
  tokensInRange(start: number, end: number): TokenSpan[] {
    const n = this.docLength;
    if (!Number.isFinite(start) || !Number.isFinite(end)) return [];
    let s = Math.max(0, Math.floor(start));
    let e = Math.min(n, Math.ceil(end));
    if (e <= s) e = s + 1; // empty range: what sits at the cursor
    if (s >= n) return [];
    const out: TokenSpan[] = [];
    for (let k = Math.max(0, this.lastChunkStartingAtOrBefore(s)); k < this.chunks.length; k++) {
      const c = this.chunks[k]!;
      if (c.start >= e) break;
      const t = c.tokens;
      for (let j = firstEndAfter(t, s - c.start, 0); j < t.length && c.start + t.starts[j]! < e; j++) {
        out.push({ id: t.ids[j]!, start: c.start + t.starts[j]!, end: c.start + t.ends[j]! });
      }
      s = Math.max(s, c.start + c.text.length);
    }
    return out;
  }

  /**
   * The tokens text[start, end) gets when tokenized on its own, as consecutive pieces, with
   * no re-tokenization of the whole chunks inside the range. A chunk start q with
   * start < q and q + 1 < end is also a cut point of the range's text (isCutPoint looks only
   * at text[q, q + CUT_POINT_SPAN), and a range can only drop an <|endoftext|> after q, never
   * add one), so the range splits there: a head and a tail tokenized afresh (each shorter
   * than a chunk plus one unit) around the cached tokens of the chunks between.
   * Concatenating the pieces, each offset by `shift`, gives tokenizePacked(text.slice(start, end)).
   */
  rangePieces(start: number, end: number): RangePiece[] {
    const { s, e, inner } = this.innerChunks(start, end);
    if (inner === undefined) return e > s ? [{ tokens: tokenizePacked(this.textIn(s, e)), shift: 0 }] : [];
    const [k1, k2] = inner;
    const c1 = this.chunks[k1]!.start;
    const c2 = this.chunks[k2]!.start;
    const pieces: RangePiece[] = [{ tokens: tokenizePacked(this.textIn(s, c1)), shift: 0 }];
    for (let k = k1; k < k2; k++) pieces.push({ tokens: this.chunks[k]!.tokens, shift: this.chunks[k]!.start - s });
    pieces.push({ tokens: tokenizePacked(this.textIn(c2, e)), shift: c2 - s });
    return pieces;
  }

  /** tokenizePacked(text.slice(start, end)).length, from the cached chunks (see rangePieces). */
  countInRange(start: number, end: number): number {
    const { s, e, inner } = this.innerChunks(start, end);
    if (inner === undefined) return e > s ? tokenizePacked(this.textIn(s, e)).length : 0;
    const [k1, k2] = inner;
    const c1 = this.chunks[k1]!.start;
    const c2 = this.chunks[k2]!.start;
    return (
      tokenizePacked(this.textIn(s, c1)).length +
      (this.chunks[k2]!.tokenBase - this.chunks[k1]!.tokenBase) +
      tokenizePacked(this.textIn(c2, e)).length
    );
  }

  /** The range clamped to the text, and the first and last chunk starting at a cut point of it. */
  private innerChunks(start: number, end: number): { s: number; e: number; inner?: [number, number] } {
    const s = Math.max(0, Math.min(this.docLength, Math.floor(start)));
    const e = Math.max(s, Math.min(this.docLength, Math.floor(end)));
    const k1 = this.lastChunkStartingAtOrBefore(s) + 1; // first chunk starting after s
    const k2 = this.lastChunkStartingAtOrBefore(e - 2); // last chunk with start + 1 < e
    if (k1 >= this.chunks.length || k2 < k1) return { s, e };
    return { s, e, inner: [k1, k2] };
  }

  /** text[a, b) from the chunks, without joining the whole text. */
  textIn(a: number, b: number): string {
    if (b <= a) return '';
    if (this.joined !== undefined) return this.joined.slice(a, b);
    let out = '';
    for (let k = Math.max(0, this.lastChunkStartingAtOrBefore(a)); k < this.chunks.length; k++) {
      const c = this.chunks[k]!;
      if (c.start >= b) break;
      out += c.text.slice(Math.max(0, a - c.start), b - c.start);
    }
    return out;
  }

  /** Index of the last chunk whose start is <= offset; -1 when none. */
  private lastChunkStartingAtOrBefore(offset: number): number {
    let lo = 0;
    let hi = this.chunks.length - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (this.chunks[mid]!.start <= offset) {
        found = mid;
        lo = mid + 1;
      } else {
        hi = mid - 1;
      }
    }
    return found;
  }

  /**
   * Tokenized chunks covering text[0, to), cut at cut points, placed at document offset
   * base. text may run past `to` (the lookahead that decides cut points near the end).
   */
  private buildChunks(text: string, to: number, base: number): Chunk[] {
    const out: Chunk[] = [];
    let s = 0;
    while (s < to) {
      let cut = to;
      for (let q = s + this.target; q < to; q++) {
        if (isCutPoint(text, q)) {
          cut = q;
          break;
        }
      }
      const chunkText = text.slice(s, cut);
      out.push({ start: base + s, text: chunkText, tokenBase: 0, tokens: tokenizePacked(chunkText) });
      s = cut;
    }
    return out;
  }

  private renumber(fromChunk: number): void {
    let base = fromChunk > 0 ? this.chunks[fromChunk - 1]!.tokenBase + this.chunks[fromChunk - 1]!.tokens.length : 0;
    for (let k = fromChunk; k < this.chunks.length; k++) {
      const c = this.chunks[k]!;
      c.tokenBase = base;
      base += c.tokens.length;
    }
  }
}

/** First token index >= from whose end (relative) is > o; ends never decrease. */
function firstEndAfter(t: PackedTokens, o: number, from: number): number {
  let lo = from;
  let hi = t.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (t.ends[mid]! > o) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}
