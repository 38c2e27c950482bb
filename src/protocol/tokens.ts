// Contract of the Tokenize Selection panel (src/extension/tokenizePanel.ts ↔ webview/tokens/main.ts).
import { hostSchemas, is, webviewSchemas, type PanelProtocol, type SchemaTable } from './envelope';
import { copiedSchema, copyTextSchema, readySchema, type CommonRequests, type ReadyNotification } from './common';

export const TOKENS_VIEW_TYPE = 'modelLens.tokens';

/** What was tokenized, so a revived panel can say where it came from. */
export interface TokenSourceInfo {
  /** Document label, e.g. "notes.md". */
  readonly label: string;
  /** 1-based line range for display, e.g. "lines 3–7" or "whole document". */
  readonly range: string;
  /** Where the text came from, persisted by the webview so a revived panel can re-tokenize it. */
  readonly uri: string;
  /** UTF-16 offsets of the tokenized range in the document at the time. */
  readonly start: number;
  readonly end: number;
}

/** Tokenization is under way (large selections take a few slices). */
export interface TokensLoading {
  readonly type: 'tokens/loading';
  readonly source: TokenSourceInfo;
  readonly chars: number;
  /** 0..1 */
  readonly progress: number;
}

/**
 * The tokens of the selection. Offsets are UTF-16, relative to the start of the selection.
 * Display strings travel once per distinct id (`vocabIds[i]` shows as `vocabDisplays[i]`),
 * not once per token, so a 10 MB selection costs 12 bytes a token plus its distinct vocabulary.
 */
export interface TokensResult {
  readonly type: 'tokens/result';
  readonly source: TokenSourceInfo;
  /** UTF-16 length of the selection. */
  readonly chars: number;
  /** Non-empty when the selection needs a remark (whitespace only, empty). */
  readonly note: string;
  readonly ids: Int32Array;
  readonly starts: Uint32Array;
  readonly ends: Uint32Array;
  readonly vocabIds: Int32Array;
  readonly vocabDisplays: readonly string[];
  /** Display of <|endoftext|>, shown as the BOS chip when the toggle is on. */
  readonly bosDisplay: string;
  readonly prependBos: boolean;
  /**
   * Set when ids/starts/ends hold only the first `ids.length` of `total` tokens: the rest
   * follows in tokens/more messages, so no single message (one copy and clone of it) is huge.
   */
  readonly total?: number;
}

/** The next part of a result sent in parts: tokens [offset, offset + ids.length). */
export interface TokensMore {
  readonly type: 'tokens/more';
  readonly offset: number;
  readonly ids: Int32Array;
  readonly starts: Uint32Array;
  readonly ends: Uint32Array;
}

/** The editor's cursor moved onto token `index` (null: off the tokenized range). */
export interface TokensFocus {
  readonly type: 'tokens/focus';
  readonly index: number | null;
}

export interface TokensFailed {
  readonly type: 'tokens/failed';
  readonly message: string;
}

/** The pointer is over chip `index` (null: it left): the host highlights that span in the editor. */
export interface TokensHover {
  readonly type: 'tokens/hover';
  readonly index: number | null;
}

/** A chip was clicked: the host selects its span in the editor. */
export interface TokensReveal {
  readonly type: 'tokens/reveal';
  readonly index: number;
}

/** The BOS toggle changed; the host remembers it for the next panel and for revival. */
export interface TokensSetBos {
  readonly type: 'tokens/setBos';
  readonly value: boolean;
}

export interface TokensProtocol extends PanelProtocol {
  readonly toWebview: TokensLoading | TokensResult | TokensMore | TokensFocus | TokensFailed;
  readonly toHost: ReadyNotification | TokensHover | TokensReveal | TokensSetBos;
  readonly requests: CommonRequests;
}

const sourceCheck = (v: unknown): boolean => {
  if (typeof v !== 'object' || v === null) return false;
  const s = v as Record<string, unknown>;
  return is.string(s.label) && is.string(s.range) && isTokensPanelState(s);
};

const toWebviewSchemas: SchemaTable<TokensProtocol['toWebview']> = {
  'tokens/loading': { source: sourceCheck, chars: is.uint, progress: is.finite },
  'tokens/result': {
    source: sourceCheck,
    chars: is.uint,
    note: is.string,
    ids: is.int32Array,
    starts: is.uint32Array,
    ends: is.uint32Array,
    vocabIds: is.int32Array,
    vocabDisplays: is.stringArray,
    bosDisplay: is.string,
    prependBos: is.boolean,
    total: is.optional(is.uint),
  },
  'tokens/more': { offset: is.uint, ids: is.int32Array, starts: is.uint32Array, ends: is.uint32Array },
  'tokens/focus': { index: is.nullable(is.uint) },
  'tokens/failed': { message: is.string },
};

export const tokensHostSchemas = hostSchemas<TokensProtocol>(toWebviewSchemas, { copied: copiedSchema });
export const tokensWebviewSchemas = webviewSchemas<TokensProtocol>(
  {
    ready: readySchema,
    'tokens/hover': { index: is.nullable(is.uint) },
    'tokens/reveal': { index: is.uint },
    'tokens/setBos': { value: is.boolean },
  },
  { copyText: copyTextSchema },
);

/** State the webview persists (vscode.setState) so a revived panel can re-tokenize. */
export interface TokensPanelState {
  readonly uri: string;
  readonly start: number;
  readonly end: number;
}

export function isTokensPanelState(v: unknown): v is TokensPanelState {
  if (typeof v !== 'object' || v === null) return false;
  const s = v as Record<string, unknown>;
  return is.string(s.uri) && is.uint(s.start) && is.uint(s.end) && (s.end as number) >= (s.start as number);
}
