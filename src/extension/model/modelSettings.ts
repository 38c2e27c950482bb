// modelLens.model and modelLens.revision, read with workspace trust in mind (see trust.ts); the
// TransformerLens hook convention; and the from_pretrained processing switches.
import * as vscode from 'vscode';
import { DEFAULT_MODEL_ID } from '../../engine/hub';
import {
  DEFAULT_PROCESSING,
  DEFAULT_TL_VERSION,
  PROCESSING_SWITCHES,
  TL_VERSIONS,
  type ProcessingOptions,
  type TransformerLensVersion,
} from '../../engine/types';
import { PROCESSING_SETTING, processingSettingKey } from './processingKeys';
import { trustedSettingValue } from './trust';
import { isWeightDtype, type WeightDtype } from '../../engine/weightDtype';

export const MODEL_SETTING = 'modelLens.model';
export const REVISION_SETTING = 'modelLens.revision';

export interface ModelSetting {
  /** A Hub id, a short name, a folder path, or "demo". */
  readonly spec: string;
  readonly revision: string | undefined;
  /** Names of settings whose workspace values were ignored (untrusted workspace). */
  readonly ignored: readonly string[];
}

export function readModelSetting(): ModelSetting {
  const config = vscode.workspace.getConfiguration('modelLens');
  const trusted = vscode.workspace.isTrusted;
  const model = trustedSettingValue(config.inspect<string>('model'), trusted);
  const revision = trustedSettingValue(config.inspect<string>('revision'), trusted);
  const ignored = [...(model.ignoredWorkspaceValue ? [MODEL_SETTING] : []), ...(revision.ignoredWorkspaceValue ? [REVISION_SETTING] : [])];
  const rev = revision.value?.trim();
  return {
    spec: model.value?.trim() || DEFAULT_MODEL_ID,
    revision: rev ? rev : undefined,
    ignored,
  };
}

/** Stores the choice in the user's settings: those apply in every workspace, trusted or not. */
export async function writeModelSetting(spec: string): Promise<void> {
  await vscode.workspace.getConfiguration('modelLens').update('model', spec, vscode.ConfigurationTarget.Global);
}

export function affectsModelSetting(e: vscode.ConfigurationChangeEvent): boolean {
  return e.affectsConfiguration(MODEL_SETTING) || e.affectsConfiguration(REVISION_SETTING);
}

/** How the weights are stored (ModelOptions.dtype); a change reloads the model. */
export const DTYPE_SETTING = 'modelLens.dtype';

/** modelLens.dtype; an unknown value (a hand-edited settings.json) counts as 'fp32'. */
export function readWeightDtype(): WeightDtype {
  const v = vscode.workspace.getConfiguration('modelLens').get<string>('dtype');
  return v !== undefined && isWeightDtype(v) ? v : 'fp32';
}

/** modelLens.cacheProcessedWeights: keep processed weights on disk between loads (default on). */
export function readCacheProcessedWeights(): boolean {
  return vscode.workspace.getConfiguration('modelLens').get<unknown>('cacheProcessedWeights') !== false;
}

/** Minutes without a request after which the model is unloaded (0: never); read on each use, so a change applies at once. */
export function readIdleDisposeMinutes(): number {
  const v = vscode.workspace.getConfiguration('modelLens').get<unknown>('idleDisposeMinutes');
  return typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : 5;
}

/** Whose hook meanings the engine follows (docs/HOOKS.md); a change reloads the model. */
export const TL_VERSION_SETTING = 'modelLens.transformerLensVersion';

/** modelLens.transformerLensVersion; an unknown value (hand-edited settings.json) counts as the default, '3.x'. */
export function readTransformerLensVersion(): TransformerLensVersion {
  const v = vscode.workspace.getConfiguration('modelLens').get<string>('transformerLensVersion');
  return TL_VERSIONS.find((t) => t === v) ?? DEFAULT_TL_VERSION;
}

/**
 * modelLens.processing.foldLn, .centerWritingWeights, .centerUnembed, .foldValueBiases: the
 * from_pretrained switches. A change reloads the model. They name no file and run nothing, so
 * unlike modelLens.model a workspace may set them even when untrusted (what they do is shown
 * next to every number, in TransformerLens's words).
 */
export { PROCESSING_SETTING };

/** The four switches; a missing or non-boolean value (hand-edited settings.json) counts as TransformerLens's default. */
export function readProcessingSetting(): ProcessingOptions {
  const config = vscode.workspace.getConfiguration(PROCESSING_SETTING);
  const out: Record<keyof ProcessingOptions, boolean> = { ...DEFAULT_PROCESSING };
  for (const k of PROCESSING_SWITCHES) {
    const v = config.get<unknown>(processingSettingKey(k));
    if (typeof v === 'boolean') out[k] = v;
  }
  return out;
}

/**
 * Writes the switches to the user's settings. Returns the names of those a workspace value
 * still overrides (VS Code gives workspace settings precedence), so the caller can say so.
 */
export async function writeProcessingSetting(p: ProcessingOptions): Promise<string[]> {
  const config = vscode.workspace.getConfiguration(PROCESSING_SETTING);
  const shadowed: string[] = [];
  for (const k of PROCESSING_SWITCHES) {
    const key = processingSettingKey(k);
    await config.update(key, p[k], vscode.ConfigurationTarget.Global);
    const i = config.inspect<boolean>(key);
    if ((i?.workspaceFolderValue ?? i?.workspaceValue) !== undefined) shadowed.push(`${PROCESSING_SETTING}.${key}`);
  }
  return shadowed;
}
