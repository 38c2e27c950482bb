// A large document range's tokens without holding the extension host: taken from the
// document's token cache (whole chunks reused, only the range's head and tail re-tokenized),
// copied into exact-size arrays a bounded number of tokens per event-loop turn. Also the
// other per-token loops a 10 MB result needs (distinct ids, plain arrays) done the same way.
// Turn budgets and the work meter are in turns.ts (imported by sliceTokenize.ts too, so the two
// modules do not import each other).
import type * as vscode from 'vscode';
import { GPT2_VOCAB_SIZE, tokenDisplay, type DocumentTokenCache, type PackedTokens, type RangePiece } from '../tokenizer';
import type { DocumentTokenRegistry } from './documentTokens';
import { Turns, type Cancellable } from './turns';

/** Loops check their turn's budget every this many items. */
const STEP = 8192;

/**
 * The cache of `document` once current, or undefined when the document changed while it was
 * built (offsets taken before the wait would then point into other text).
 */
async function currentCache(registry: DocumentTokenRegistry, document: vscode.TextDocument) {
  const version = document.version;
  const cache = await registry.get(document);
  return document.version === version && !document.isClosed ? cache : undefined;
}

/** Same as tokenizePacked(cache text [start, end)). */
export function rangeTokens(cache: DocumentTokenCache, start: number, end: number, options: Cancellable = {}): Promise<PackedTokens> {
  // Pieces taken in one go: later edits replace chunks, never mutate the token arrays held here.
  return joinPieces(cache.rangePieces(start, end), options);
}

/** Same as tokenizePacked(text [start, end)).length for each range; undefined when the document changed meanwhile. */
export async function rangeCounts(
  registry: DocumentTokenRegistry,
  document: vscode.TextDocument,
  ranges: readonly (readonly [number, number])[],
): Promise<number[] | undefined> {
  const cache = await currentCache(registry, document);
  return cache ? ranges.map(([s, e]) => cache.countInRange(s, e)) : undefined;
}

/** The pieces concatenated into exact-size arrays, offsets shifted, in bounded turns. */
export async function joinPieces(pieces: readonly RangePiece[], options: Cancellable = {}): Promise<PackedTokens> {
  let length = 0;
  for (const p of pieces) length += p.tokens.length;
  const ids = new Int32Array(length);
  const starts = new Int32Array(length);
  const ends = new Int32Array(length);
  const turns = new Turns(options, 'copyTokens');
  let n = 0;
  // Pieces are a chunk (about 4096 units) or a slice (SLICE_CHARS) each: well under a turn.
  for (const { tokens: t, shift } of pieces) {
    copyShifted(t, shift, ids, starts, ends, n);
    n += t.length;
    await turns.check(t.length);
  }
  turns.finish();
  return { length, ids, starts, ends };
}

// The per-token loops live in plain functions: V8 optimizes those quickly, while a loop in an
// async function body ran several times slower for its first turns (measured 17 ms for 64K tokens).
function copyShifted(t: PackedTokens, shift: number, ids: Int32Array, starts: Int32Array, ends: Int32Array, at: number): void {
  ids.set(t.ids.subarray(0, t.length), at);
  for (let j = 0; j < t.length; j++) {
    starts[at + j] = t.starts[j]! + shift;
    ends[at + j] = t.ends[j]! + shift;
  }
}

function markDistinct(ids: Int32Array, from: number, to: number, seen: Uint8Array, distinct: number[]): void {
  for (let i = from; i < to; i++) {
    const id = ids[i]!;
    if (seen[id] === 0) {
      seen[id] = 1;
      distinct.push(id);
    }
  }
}

function copyToNumbers(ids: Int32Array, from: number, to: number, out: number[]): void {
  for (let i = from; i < to; i++) out[i] = ids[i]!;
}

/** Distinct ids in first-seen order with their display strings, in bounded turns. */
export async function vocabularyInTurns(
  ids: Int32Array,
  options: Cancellable = {},
): Promise<{ vocabIds: Int32Array; vocabDisplays: string[] }> {
  const seen = new Uint8Array(GPT2_VOCAB_SIZE);
  const distinct: number[] = [];
  const turns = new Turns(options, 'scanTokens');
  for (let from = 0; from < ids.length; from += STEP) {
    markDistinct(ids, from, Math.min(ids.length, from + STEP), seen, distinct);
    await turns.check(Math.min(STEP, ids.length - from));
  }
  const vocabDisplays = new Array<string>(distinct.length);
  for (let from = 0; from < distinct.length; from += STEP / 8) {
    const to = Math.min(distinct.length, from + STEP / 8);
    for (let i = from; i < to; i++) vocabDisplays[i] = tokenDisplay(distinct[i]!);
    // A display string costs about as much as eight scanned ids.
    await turns.check(8 * (to - from));
  }
  turns.finish();
  return { vocabIds: Int32Array.from(distinct), vocabDisplays };
}

/** ids as a plain array (Array.from walks an iterator; a loop does not), in bounded turns. */
export async function numberArrayInTurns(ids: Int32Array, options: Cancellable = {}): Promise<number[]> {
  const out = new Array<number>(ids.length);
  const turns = new Turns(options, 'copyTokens');
  for (let from = 0; from < ids.length; from += STEP) {
    copyToNumbers(ids, from, Math.min(ids.length, from + STEP), out);
    await turns.check(Math.min(STEP, ids.length - from));
  }
  turns.finish();
  return out;
}
