// Tokenizing input of any size in bounded pieces, for the CLI: text arrives in chunks (a file
// read as a stream), is cut at cut points (see isCutPoint: tokenizing the two sides separately
// gives the whole text's tokens), and each piece's tokens are handed on before the next piece is
// read. So a 50 MB file never becomes one token list, and `run` stops reading once it has n_ctx
// tokens.
import { createReadStream } from 'node:fs';
import { tokenizePacked, type PackedTokens } from '../tokenizer';
import { CUT_POINT_SPAN, isCutPoint } from '../tokenizer/pretokenize';

/** One piece's tokens; `base` is the piece's UTF-16 offset in the whole text (add it to starts and ends). */
export interface TokenPiece {
  readonly tokens: PackedTokens;
  readonly base: number;
}

/** A piece is cut once this many UTF-16 units are pending (and a cut point is found). */
export const PIECE_UNITS = 1 << 20;

/** Bytes per read of a file. */
const READ_BYTES = 1 << 20;

/**
 * Tokens of the concatenated chunks, piece by piece. Equal to tokenizing the whole text at once
 * (the cut-point rule guarantees it); a text with no cut point at all is tokenized whole.
 */
export async function* tokenizePieces(
  chunks: AsyncIterable<string> | Iterable<string>,
  pieceUnits = PIECE_UNITS,
): AsyncGenerator<TokenPiece> {
  let pending = '';
  let base = 0;
  // pending[0, scanned) holds no cut point: never scanned twice, so no-whitespace input stays linear.
  let scanned = 1;
  for await (const chunk of chunks) {
    pending += chunk;
    if (pending.length < pieceUnits) continue;
    // A cut point's decision reads text[q, q + CUT_POINT_SPAN): only positions whose look-ahead is all here.
    const limit = pending.length - CUT_POINT_SPAN;
    let cut = -1;
    for (let q = limit; q >= scanned; q--) {
      if (isCutPoint(pending, q)) {
        cut = q;
        break;
      }
    }
    scanned = Math.max(scanned, limit + 1);
    if (cut <= 0) continue;
    yield { tokens: tokenizePacked(pending.slice(0, cut)), base };
    base += cut;
    pending = pending.slice(cut);
    scanned = Math.max(1, scanned - cut);
  }
  if (pending.length > 0) yield { tokens: tokenizePacked(pending), base };
}

/**
 * A UTF-8 file as strings, decoded as readFile(path, 'utf8') decodes it (a byte-order mark is
 * kept as U+FEFF, bad bytes become U+FFFD), in chunks of about a megabyte.
 */
export async function* readUtf8Chunks(path: string): AsyncGenerator<string> {
  const decoder = new TextDecoder('utf-8', { ignoreBOM: true });
  const stream = path === '-' ? process.stdin : createReadStream(path, { highWaterMark: READ_BYTES });
  for await (const bytes of stream) {
    const text = decoder.decode(bytes as Buffer, { stream: true });
    if (text.length > 0) yield text;
  }
  const rest = decoder.decode();
  if (rest.length > 0) yield rest;
}

export interface FirstTokens {
  readonly tokens: number[];
  /** True when the input had more tokens than fit; the rest was not read. */
  readonly truncated: boolean;
}

/**
 * The token ids a forward pass reads: BOS (50256) first unless told otherwise, then the text's
 * tokens, at most nCtx in all. Stops pulling chunks as soon as one more token than fits is known
 * to exist, so the size of the input does not matter.
 */
export async function firstTokens(
  chunks: AsyncIterable<string> | Iterable<string>,
  nCtx: number,
  prependBos: boolean,
  pieceUnits = PIECE_UNITS,
): Promise<FirstTokens> {
  const tokens: number[] = prependBos ? [50256] : [];
  for await (const { tokens: piece } of tokenizePieces(chunks, pieceUnits)) {
    for (let i = 0; i < piece.length; i++) {
      if (tokens.length === nCtx) return { tokens, truncated: true };
      tokens.push(piece.ids[i]!);
    }
  }
  return { tokens, truncated: false };
}
