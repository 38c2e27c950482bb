// The one home of the rules that turn document text into a model's input: BOS first, at most
// n_ctx positions, and only as much text tokenized as those positions need. The activation
// panel and the loss highlight read the head of a range, inline logits and prediction hovers the
// tail before a position. Cutting text anywhere but at a cut point (isCutPoint: the halves
// tokenize independently) could change the tokens next to the cut, so every read is widened to
// a cut point and tokens past it are dropped; the result is exactly the whole text's tokens.
// No vscode import: callers hand in a reader for the document's text.
import { END_OF_TEXT_ID, isCutPoint, tokenize, type TokenSpan } from '../tokenizer';
import { CUT_POINT_SPAN } from '../tokenizer/pretokenize';

/**
 * Characters read per wanted token on the first try. GPT-2 averages about 4 characters a
 * token in English and fewer elsewhere; a read that falls short is doubled.
 */
const CHARS_PER_TOKEN_GUESS = 8;

/**
 * The most text a head-reading feature keeps from a range (the activation panel stores it to run
 * again). A GPT-2 token is at most 128 bytes, so this holds over 16,000 tokens: more than any
 * n_ctx, while a 20 MB selection is never read whole.
 */
export const MAX_INPUT_CHARS = 2 * 1024 * 1024;

/** Reads text[start, end) of the source (a document range, clamped by the caller). */
export type TextReader = (start: number, end: number) => string;

export interface HeadInput {
  /** BOS, then the first text tokens: at most nCtx ids. */
  readonly ids: number[];
  /** The text tokens kept (ids[1..]), offsets relative to the range's start. */
  readonly spans: TokenSpan[];
  /** True when the range has more tokens than fit after BOS. */
  readonly truncated: boolean;
  /** How many characters were read and tokenized (the range's length at most). */
  readonly charsTokenized: number;
}

/**
 * BOS plus the first nCtx - 1 tokens of a range of `length` characters, tokenizing a bounded
 * prefix: a few times nCtx characters, never the whole of a 20 MB document.
 */
export function headInput(read: TextReader, length: number, nCtx: number): HeadInput {
  const wanted = Math.max(0, nCtx - 1);
  let budget = Math.max(1024, wanted * CHARS_PER_TOKEN_GUESS);
  for (;;) {
    if (budget >= length) {
      const spans = tokenize(read(0, length));
      return finishHead(spans.slice(0, wanted), spans.length > wanted, length);
    }
    // Read a little past the budget so a cut point there can be recognised (it looks ahead).
    const text = read(0, Math.min(length, budget + CUT_POINT_SPAN + 1));
    const cut = lastCutAtOrBefore(text, budget);
    if (cut > 0) {
      const spans = tokenize(text.slice(0, cut));
      // Tokens before a cut point are the whole range's tokens, so once enough are here the rest is not needed.
      if (spans.length > wanted) return finishHead(spans.slice(0, wanted), true, cut);
    }
    budget *= 2;
  }
}

function finishHead(spans: TokenSpan[], truncated: boolean, chars: number): HeadInput {
  return { ids: [END_OF_TEXT_ID, ...spans.map((s) => s.id)], spans, truncated, charsTokenized: chars };
}

/** The largest cut point q <= at with q + CUT_POINT_SPAN inside text, or 0 when none. */
function lastCutAtOrBefore(text: string, at: number): number {
  for (let q = Math.min(at, text.length - CUT_POINT_SPAN); q > 0; q--) if (isCutPoint(text, q)) return q;
  return 0;
}

export interface TailInput {
  /** BOS then the text's tokens while they fit; the last nCtx tokens otherwise (no BOS then, as in a window mid-document). */
  readonly ids: number[];
  /** The text tokens in ids, offsets relative to the text's start. */
  readonly spans: TokenSpan[];
}

/**
 * The model input for text that ends where a prediction is wanted. `text` is the source from
 * `origin` on (0 when it starts at the beginning of the document, so BOS applies); when it
 * starts later, the tokens before its first cut point may be cut pieces of a token and are dropped.
 */
export function tailInput(text: string, startsAtDocumentStart: boolean, nCtx: number): TailInput {
  let from = 0;
  if (!startsAtDocumentStart) {
    // No cut point at all (one enormous word): keep the whole text, the best there is.
    for (let q = 1; q + CUT_POINT_SPAN <= text.length; q++) {
      if (isCutPoint(text, q)) {
        from = q;
        break;
      }
    }
  }
  const spans = tokenize(text.slice(from)).map((s) => ({ id: s.id, start: s.start + from, end: s.end + from }));
  const ids = tailWindow(
    spans.map((s) => s.id),
    startsAtDocumentStart,
    nCtx,
  );
  return { ids, spans: spans.slice(spans.length - Math.min(spans.length, ids.length)) };
}

/** BOS (when the tokens start the document) then the tokens, keeping the last nCtx. */
export function tailWindow(tokenIds: readonly number[], startsAtDocumentStart: boolean, nCtx: number): number[] {
  const all = startsAtDocumentStart ? [END_OF_TEXT_ID, ...tokenIds] : [...tokenIds];
  return all.slice(-nCtx);
}

/** The activation panel's and loss highlight's notice when the head was cut to fit. */
export function truncationNotice(nCtx: number): string {
  return `The input is longer than n_ctx = ${nCtx} tokens (with BOS), so only the first ${nCtx} are used.`;
}
