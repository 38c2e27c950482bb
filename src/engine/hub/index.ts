// Model acquisition: resolve a Hub id or folder to a checkpoint folder, through the Hugging
// Face cache, downloading with progress, cancel, resume and verification when needed.
// No vscode import: the extension, the CLI and the tests share it.

export {
  resolveModel,
  parseModelSpec,
  describeModel,
  DEMO_MODEL_SPEC,
  listCachedModels,
  resolveDemoModel,
  demoModelFolder,
  defaultDemoCacheDir,
} from './resolveModel';
export type { ResolvedModel, ResolveModelOptions, ModelSource, ModelSpec } from './resolveModel';
export { downloadFile, fetchFileMetadata, resolveUrl } from './download';
export type { DownloadOptions, DownloadedFile, FileMetadata } from './download';
export { downloadSize, modelChoices } from './catalog';
export type { DownloadSize, ModelChoice, SizeOptions } from './catalog';
export type { CachedModel } from './cacheLayout';
export { HubError, isHubError, UNREACHABLE_CODES } from './errors';
export type { HubErrorCode } from './errors';
export { DEFAULT_MODEL_ID, KNOWN_MODELS, CHECKPOINT_FILES, canonicalRepoId } from './models';
export type { KnownModel } from './models';
export { DEFAULT_HUB_ENDPOINT, hubSettings, hubCacheDir } from './settings';
export type { HubEnv, HubSettings, HubSettingsOverrides } from './settings';
export { describeProgress, formatBytes, formatDuration } from './progress';
export type { DownloadProgress, ProgressCallback } from './progress';
export { resolveModelForCli } from './cli';
export type { CliResolveOptions } from './cli';
