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
