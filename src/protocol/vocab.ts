// Contract of the Search Vocabulary panel (src/extension/vocabPanel.ts ↔ webview/vocab/main.ts).
import { hostSchemas, is, webviewSchemas, type PanelProtocol, type RequestSpec } from './envelope';
import { copiedSchema, copyTextSchema, readySchema, type CommonRequests, type ReadyNotification } from './common';

export const VOCAB_VIEW_TYPE = 'modelLens.vocab';

export const VOCAB_SEARCH_MODES = ['substring', 'regex', 'prefix', 'id'] as const;
export type VocabSearchModeTag = (typeof VOCAB_SEARCH_MODES)[number];

/** Sent once the webview is ready: sizes and the query to restore. */
export interface VocabInit {
  readonly type: 'vocab/init';
  readonly vocabSize: number;
  readonly query: string;
  readonly mode: VocabSearchModeTag;
}

export interface VocabSearchRequest {
  readonly type: 'vocab/search';
  readonly query: string;
  readonly mode: VocabSearchModeTag;
}

/** Matches in vocabulary order; `total` may exceed ids.length when the host capped the list. */
export interface VocabResults {
  readonly type: 'vocab/results';
  readonly query: string;
  readonly mode: VocabSearchModeTag;
  readonly total: number;
  readonly ids: Int32Array;
  readonly displays: readonly string[];
}

/** "Nearest tokens" on a result row: the host runs Model Lens: Nearest Tokens for that id. */
export interface VocabNearestNotification {
  readonly type: 'vocab/nearest';
  readonly id: number;
}

export interface VocabProtocol extends PanelProtocol {
  readonly toWebview: VocabInit;
  readonly toHost: ReadyNotification | VocabNearestNotification;
  readonly requests: CommonRequests & {
    readonly 'vocab/search': RequestSpec<VocabSearchRequest, VocabResults>;
  };
}

export const MAX_QUERY_CHARS = 1000;

export const vocabHostSchemas = hostSchemas<VocabProtocol>(
  { 'vocab/init': { vocabSize: is.uint, query: is.string, mode: is.oneOf(...VOCAB_SEARCH_MODES) } },
  {
    copied: copiedSchema,
    'vocab/results': {
      query: is.string,
      mode: is.oneOf(...VOCAB_SEARCH_MODES),
      total: is.uint,
      ids: is.int32Array,
      displays: is.stringArray,
    },
  },
);

export const vocabWebviewSchemas = webviewSchemas<VocabProtocol>(
  { ready: readySchema, 'vocab/nearest': { id: is.uint } },
  {
    copyText: copyTextSchema,
    'vocab/search': { query: is.stringWithin(MAX_QUERY_CHARS), mode: is.oneOf(...VOCAB_SEARCH_MODES) },
  },
);

export interface VocabPanelState {
  readonly query: string;
  readonly mode: VocabSearchModeTag;
}

export function isVocabPanelState(v: unknown): v is VocabPanelState {
  if (typeof v !== 'object' || v === null) return false;
  const s = v as Record<string, unknown>;
  return is.string(s.query) && is.oneOf(...VOCAB_SEARCH_MODES)(s.mode);
}
