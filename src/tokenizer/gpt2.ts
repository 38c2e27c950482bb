// GPT-2's tokenizer as the rest of Model Lens sees it: text <-> ids, per-token spans,
// bytes and display strings. Ids come from gpt-tokenizer's r50k_base vocabulary.
import { displayBytes } from './display';
import { tokenizePacked } from './encoder';
import { GPT2_VOCAB_SIZE, type PackedTokens, type TokenSpan } from './types';
import { vocabTables } from './vocabData';

export { tokenizePacked };

/** Spans as objects, for callers that want them; hot paths should use tokenizePacked. */
export function spansOf(packed: PackedTokens): TokenSpan[] {
  const out = new Array<TokenSpan>(packed.length);
  for (let i = 0; i < packed.length; i++) out[i] = { id: packed.ids[i]!, start: packed.starts[i]!, end: packed.ends[i]! };
  return out;
}

/** Tokens of text with UTF-16 offsets. Never throws: any string (empty, NUL, lone surrogates) tokenizes. */
export function tokenize(text: string): TokenSpan[] {
  return spansOf(tokenizePacked(text));
}

/** GPT-2 token ids of text (a literal `<|endoftext|>` is 50256). */
export function encode(text: string): number[] {
  return Array.from(tokenizePacked(text).ids);
}

/** Throws RangeError naming the offender: an id outside GPT-2's vocabulary is a caller bug. */
export function assertTokenId(id: number): void {
  if (!Number.isInteger(id) || id < 0 || id >= GPT2_VOCAB_SIZE) {
    throw new RangeError(`token id ${String(id)} is not in GPT-2's vocabulary (integers 0..${GPT2_VOCAB_SIZE - 1})`);
  }
}

/** The token's raw bytes (a view into the shared table: do not write to it). */
export function tokenBytes(id: number): Uint8Array {
  assertTokenId(id);
  const { bytes, byteStart } = vocabTables();
  return bytes.subarray(byteStart[id]!, byteStart[id + 1]!);
}

const replacingDecoder = new TextDecoder('utf-8'); // invalid bytes -> U+FFFD, never throws

/** Text of ids, bytes joined first so characters split across tokens come back whole. Throws RangeError on an unknown id. */
export function decode(ids: Iterable<number>): string {
  const { bytes, byteStart } = vocabTables();
  const list = Array.from(ids);
  let total = 0;
  for (const id of list) {
    assertTokenId(id);
    total += byteStart[id + 1]! - byteStart[id]!;
  }
  const buf = new Uint8Array(total);
  let at = 0;
  for (const id of list) {
    buf.set(bytes.subarray(byteStart[id]!, byteStart[id + 1]!), at);
    at += byteStart[id + 1]! - byteStart[id]!;
  }
  return replacingDecoder.decode(buf);
}

/** One token decoded alone, as TransformerLens's to_str_tokens does: partial UTF-8 becomes U+FFFD. */
export function tokenString(id: number): string {
  return replacingDecoder.decode(tokenBytes(id));
}

/** to_str_tokens for a list of ids. */
export function toStrTokens(ids: Iterable<number>): string[] {
  return Array.from(ids, tokenString);
}

/** Display text: · space, ↵ newline, → tab, ␍ CR, <xx> for bytes that are not whole UTF-8 and for other controls. */
export function tokenDisplay(id: number): string {
  return displayBytes(tokenBytes(id));
}
