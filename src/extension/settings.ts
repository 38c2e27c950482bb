// The extension's settings (contributed in package.json under "modelLens.*"), read in one place.
import * as vscode from 'vscode';

export const SETTINGS_SECTION = 'modelLens';

export interface ModelLensSettings {
  /** modelLens.hover.enabled: GPT-2 tokens in editor hovers. */
  readonly hoverEnabled: boolean;
  /** modelLens.statusBar.enabled: token count in the status bar. */
  readonly statusBarEnabled: boolean;
  /** modelLens.tokenize.prependBos: the BOS toggle's initial state in new Tokenize panels. */
  readonly prependBos: boolean;
}

export function readSettings(): ModelLensSettings {
  const c = vscode.workspace.getConfiguration(SETTINGS_SECTION);
  return {
    hoverEnabled: c.get<boolean>('hover.enabled', true),
    statusBarEnabled: c.get<boolean>('statusBar.enabled', true),
    prependBos: c.get<boolean>('tokenize.prependBos', false),
  };
}

/** Calls `listener` with fresh settings whenever any modelLens setting changes. */
export function onSettingsChanged(listener: (settings: ModelLensSettings) => void): vscode.Disposable {
  return vscode.workspace.onDidChangeConfiguration((e) => {
    if (e.affectsConfiguration(SETTINGS_SECTION)) listener(readSettings());
  });
}
