// The tokenizer's public surface. No vscode import: the extension, the CLI and the engine share it.
export * from './types';
export {
  tokenize,
  tokenizePacked,
  spansOf,
  encode,
  decode,
  tokenBytes,
  tokenString,
  toStrTokens,
  tokenDisplay,
  assertTokenId,
} from './gpt2';
export { DocumentTokenCache, type DocumentTokenCacheOptions, type RangePiece } from './documentTokenCache';
export { Vocabulary, DEFAULT_SEARCH_LIMIT, SEARCH_ROWS_PER_STEP } from './vocabulary';
export { compileUserRegex, findRefusedFeature, REFUSED_REGEX_FEATURES, MAX_USER_REGEX_LENGTH, MAX_USER_REGEX_PROGRAM } from './userRegex';
export { isCutPoint } from './pretokenize';
