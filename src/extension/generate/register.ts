// Registers Continue Text (command, Esc to cancel, generated-token colours and hover) on the
// shared engine. Called from activation/register.ts with the other model-backed features.
import * as vscode from 'vscode';
import type { EngineService } from '../activation/engineService';
import { ContinueText, GENERATE_COMMANDS } from './continueText';

export function registerContinueText(engine: EngineService): vscode.Disposable[] {
  const feature = new ContinueText(engine);
  return [
    feature,
    // The editor context menu passes the document's URI: continue in that document's visible editor.
    vscode.commands.registerCommand(GENERATE_COMMANDS.continueText, (uri?: unknown) => {
      const target =
        uri instanceof vscode.Uri ? vscode.window.visibleTextEditors.find((e) => e.document.uri.toString() === uri.toString()) : undefined;
      return feature.run(target ?? vscode.window.activeTextEditor);
    }),
    vscode.commands.registerCommand(GENERATE_COMMANDS.cancel, () => feature.cancel()),
    // Hidden, for tests: the generated tokens shown in the active editor.
    vscode.commands.registerCommand('modelLens.continueText.shown', () => {
      const doc = vscode.window.activeTextEditor?.document;
      return doc ? feature.generated.tokensIn(doc) : [];
    }),
  ];
}
