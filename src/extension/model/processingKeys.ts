// The names of the modelLens.processing.* settings, apart from the vscode-reading code in
// modelSettings.ts, so the unit tests can check them against package.json.
import type { ProcessingOptions } from '../../engine/types';

export const PROCESSING_SETTING = 'modelLens.processing';

/** fold_ln → foldLn: the setting's key under modelLens.processing. */
export function processingSettingKey(k: keyof ProcessingOptions): string {
  return k.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
}
