// GPT-2's vocabulary as flat tables, built once on first use from gpt-tokenizer's r50k_base
// ranks (in r50k a token's BPE rank is its id). Everything the tokenizer needs per id is
// precomputed here so that the hot loops index typed arrays instead of decoding strings.
import r50kRanks from 'gpt-tokenizer/bpeRanks/r50k_base';
import { END_OF_TEXT, END_OF_TEXT_ID, GPT2_VOCAB_SIZE } from './types';

export interface VocabTables {
  /** Every token's bytes, back to back; token id's bytes are bytes[byteStart[id] .. byteStart[id + 1]). */
  readonly bytes: Uint8Array;
  readonly byteStart: Uint32Array; // [d_vocab + 1]
  /** Byte length per id: what offset computation walks. */
  readonly byteLength: Uint8Array; // [d_vocab]
  /** Token text -> id, for tokens whose bytes are whole UTF-8 (the common single-token fast path). */
  readonly idOfText: Map<string, number>;
  /** Token bytes as a latin1 string (one char per byte) -> id: what BPE merging looks pairs up in. */
  readonly idOfBinary: Map<string, number>;
}

let tables: VocabTables | undefined;

/** Latin1 string of a byte run: a cheap, exact Map key for arbitrary bytes. */
export function binaryKey(bytes: Uint8Array, start: number, end: number): string {
  let s = '';
  for (let i = start; i < end; i++) s += String.fromCharCode(bytes[i]!);
  return s;
}

export function vocabTables(): VocabTables {
  if (tables) return tables;
  const encoder = new TextEncoder();
  const perId: Uint8Array[] = new Array<Uint8Array>(GPT2_VOCAB_SIZE);
  const idOfText = new Map<string, number>();
  let total = 0;
  for (let id = 0; id < GPT2_VOCAB_SIZE; id++) {
    const raw = id === END_OF_TEXT_ID ? END_OF_TEXT : r50kRanks[id];
    if (raw === undefined) throw new Error(`gpt-tokenizer's r50k_base has no entry for id ${id}: the vocabulary is not GPT-2's`);
    let b: Uint8Array;
    if (typeof raw === 'string') {
      b = encoder.encode(raw);
      // The special token is never produced by the regex path, so it stays out of the text map.
      if (id !== END_OF_TEXT_ID) idOfText.set(raw, id);
    } else {
      b = Uint8Array.from(raw);
    }
    perId[id] = b;
    total += b.length;
  }
  const bytes = new Uint8Array(total);
  const byteStart = new Uint32Array(GPT2_VOCAB_SIZE + 1);
  const byteLength = new Uint8Array(GPT2_VOCAB_SIZE);
  const idOfBinary = new Map<string, number>();
  let at = 0;
  for (let id = 0; id < GPT2_VOCAB_SIZE; id++) {
    const b = perId[id]!;
    if (b.length > 255) throw new Error(`token ${id} is ${b.length} bytes long; the tables assume at most 255`);
    byteStart[id] = at;
    byteLength[id] = b.length;
    bytes.set(b, at);
    if (id !== END_OF_TEXT_ID) idOfBinary.set(binaryKey(b, 0, b.length), id);
    at += b.length;
  }
  byteStart[GPT2_VOCAB_SIZE] = at;
  tables = { bytes, byteStart, byteLength, idOfText, idOfBinary };
  return tables;
}
