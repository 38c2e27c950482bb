// Tokenizes text of any size without holding the extension host: the text is cut only where
// the tokenizer guarantees the halves tokenize independently (isCutPoint), each slice is
// tokenized in one go, and the loop yields to the event loop between slices.
import { tokenizePacked } from '../tokenizer';
import type { RangePiece } from '../tokenizer/documentTokenCache';
import { CUT_POINT_SPAN, isCutPoint } from '../tokenizer/pretokenize';
import type { PackedTokens } from '../tokenizer/types';
import { joinPieces } from './rangeTokens';
import { TokenizeCancelled, yieldToEventLoop, type Cancellable } from './turns';

/**
 * About 3 ms of tokenizing on a 2-core machine when idle; measured in the host, a 48K slice
 * took up to 60 ms when the cores were shared, so slices stay well under 20 ms even then.
 */
export const SLICE_CHARS = 8 * 1024;
/** How far past the target a cut point is looked for before a slice just takes the rest. */
const MAX_CUT_SEARCH = 64 * 1024;

export interface SliceOptions extends Cancellable {
  /** Called between slices with the fraction done (0..1). */
  readonly onProgress?: (fraction: number) => void;
  readonly sliceChars?: number;
}

/** Where the slice starting at `from` ends: the first cut point at or after from + size, else the end. */
export function nextCut(text: string, from: number, size: number): number {
  const target = from + size;
  if (target + CUT_POINT_SPAN >= text.length) return text.length;
  const limit = Math.min(text.length, target + MAX_CUT_SEARCH);
  for (let q = target; q < limit; q++) if (isCutPoint(text, q)) return q;
  // A run without cut points (one huge word): finish it in one slice rather than cut wrongly.
  for (let q = limit; q < text.length; q++) if (isCutPoint(text, q)) return q;
  return text.length;
}

/** Same tokens as tokenizePacked(text), produced in slices with event-loop yields between them. */
export async function tokenizeInSlices(text: string, options: SliceOptions = {}): Promise<PackedTokens> {
  const size = options.sliceChars ?? SLICE_CHARS;
  // One small result per slice, joined at the end in bounded turns: growing and trimming one
  // buffer of millions of tokens would copy tens of MB in a single turn.
  const pieces: RangePiece[] = [];
  let from = 0;
  while (from < text.length) {
    const to = nextCut(text, from, size);
    pieces.push({ tokens: tokenizePacked(text.slice(from, to)), shift: from });
    options.meter?.record('tokenizeChars', to - from);
    from = to;
    if (from < text.length) {
      options.onProgress?.(from / text.length);
      await yieldToEventLoop();
      if (options.isCancelled?.()) throw new TokenizeCancelled();
    }
  }
  return joinPieces(pieces, options);
}
