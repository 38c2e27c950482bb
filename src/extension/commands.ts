// Command ids, in one place so package.json's contributes, the registrations and the tests agree.
export const COMMANDS = {
  tokenizeSelection: 'modelLens.tokenizeSelection',
  searchVocabulary: 'modelLens.searchVocabulary',
} as const;
