// GPT-2's pre-tokenizer (the regex r50k_base and Hugging Face's GPT-2 tokenizer share) and
// the rule for where a text can be cut so that its halves pre-tokenize independently.
import { END_OF_TEXT } from './types';

/**
 * GPT-2's split pattern. Sticky (`y`) so that `test` can walk the text match by match
 * without allocating a match array: every position matches some alternative (a code point
 * is whitespace, a letter, a number or something else) and no alternative matches empty,
 * so matches are back to back.
 */
export function gpt2PieceRegex(): RegExp {
  return /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/uy;
}

/** Exactly the code units JavaScript's `\s` matches (all of them are single code units). */
export function isWhitespaceUnit(c: number): boolean {
  if (c <= 0x20) return c === 0x20 || (c >= 0x09 && c <= 0x0d);
  if (c < 0xa0) return false;
  return (
    c === 0xa0 ||
    c === 0x1680 ||
    (c >= 0x2000 && c <= 0x200a) ||
    c === 0x2028 ||
    c === 0x2029 ||
    c === 0x202f ||
    c === 0x205f ||
    c === 0x3000 ||
    c === 0xfeff
  );
}

/**
 * True when tokenizing text[0, q) and text[q, n) separately gives the same tokens as
 * tokenizing the whole text: text[q] is whitespace, text[q + 1] is not, and no
 * `<|endoftext|>` starts at q + 1.
 *
 * Why: let W be the whitespace run ending at q (inclusive), followed by a non-space S.
 * On the whole text, `\s+(?!\S)` takes W without its last unit (the lookahead rejects
 * the whole run), and the last unit goes on its own (by `\s+`) or, when it is ' ',
 * joins S through ` ?\p{L}+` etc. Cut at q, the left part ends with W minus its last unit,
 * which `\s+(?!\S)` takes whole at the end of the string, and the right part starts with
 * that last unit followed by S, which pre-tokenizes exactly as before because nothing
 * looks behind. Matches left of W end where non-whitespace classes stop, identically.
 * The special-token exception: `<|endoftext|>` splits the text before the regex runs,
 * so W right before it is one piece (end of string), which the cut would break in two.
 * A boundary at q thus depends on text[q, q + 1 + END_OF_TEXT.length) only.
 */
export function isCutPoint(text: string, q: number): boolean {
  if (q <= 0 || q + 1 >= text.length) return false;
  return isWhitespaceUnit(text.charCodeAt(q)) && !isWhitespaceUnit(text.charCodeAt(q + 1)) && !text.startsWith(END_OF_TEXT, q + 1);
}

/** How many code units from q on decide whether q is a cut point. */
export const CUT_POINT_SPAN = 1 + END_OF_TEXT.length;
