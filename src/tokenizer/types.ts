// The tokenizer's contract with the extension, the CLI and the engine. No vscode import.

/** One GPT-2 token and where it sits in the text, as UTF-16 offsets [start, end). */
export interface TokenSpan {
  readonly id: number;
  /** UTF-16 offset of the first code unit of the smallest run of whole code points holding this token's bytes. */
  readonly start: number;
  /** UTF-16 offset one past the end of that run. */
  readonly end: number;
}

/** A vocabulary row for display and search. */
export interface VocabEntry {
  readonly id: number;
  /** Decoded text with visible whitespace (· space, ↵ newline, → tab) ; for partial UTF-8, the bytes as <xx>. */
  readonly display: string;
  /** The token's raw bytes. */
  readonly bytes: Uint8Array;
  /** True when the bytes are not whole UTF-8 on their own. */
  readonly partialUtf8: boolean;
}

export type VocabSearchMode = 'substring' | 'regex' | 'prefix' | 'id';

export const END_OF_TEXT_ID = 50256;
export const GPT2_VOCAB_SIZE = 50257;

/** The literal text of GPT-2's only special token. */
export const END_OF_TEXT = '<|endoftext|>';

/**
 * Tokens as three parallel typed arrays (struct of arrays): what the hot paths produce,
 * so that a 10 MB document costs three buffers rather than millions of objects.
 * Offsets are UTF-16 code units, with the same meaning as TokenSpan's.
 */
export interface PackedTokens {
  readonly length: number;
  readonly ids: Int32Array;
  readonly starts: Int32Array;
  readonly ends: Int32Array;
}

/** One edit, shaped like VS Code's TextDocumentContentChangeEvent (offsets in UTF-16 code units of the text before the edit). */
export interface TextChange {
  readonly rangeOffset: number;
  readonly rangeLength: number;
  readonly text: string;
}

/** A token found at an offset: its index in the document's token list and its span. */
export interface TokenAt {
  readonly index: number;
  readonly span: TokenSpan;
}

/** Vocabulary search result: never thrown, so as-you-type callers can show the error inline. */
export type VocabSearchResult =
  | { readonly ok: true; readonly entries: readonly VocabEntry[]; /** matches before the limit was applied */ readonly total: number }
  | { readonly ok: false; readonly error: string };
