// Model Lens's entry point: it only wires features together. Each feature lives in src/extension/.
import * as vscode from 'vscode';
import { TOKENS_VIEW_TYPE } from './protocol/tokens';
import { VOCAB_VIEW_TYPE } from './protocol/vocab';
import { COMMANDS } from './extension/commands';
import { registerActivationFeatures } from './extension/activation/register';
import { DocumentTokenRegistry } from './extension/documentTokens';
import { TokenHoverProvider } from './extension/hover';
import { onSettingsChanged, readSettings, type ModelLensSettings } from './extension/settings';
import { TokenCountStatus } from './extension/statusBar';
import { TokenizePanelController, type TokenizeOutcome } from './extension/tokenizePanel';
import { VocabPanelController } from './extension/vocabPanel';
import { registerModelFeatures } from './extension/model';
import { SafetensorsEditorProvider } from './extension/safetensorsEditor/safetensorsEditor';

/** What activate returns: a small surface for in-host tests and for other extensions. */
export interface ModelLensApi {
  readonly documentTokens: DocumentTokenRegistry;
  /** The status bar item's current text (empty when hidden). */
  statusBarText(): string;
  tokenizeSelection(editor?: vscode.TextEditor): Promise<TokenizeOutcome | undefined>;
}

export function activate(context: vscode.ExtensionContext): ModelLensApi {
  const output = vscode.window.createOutputChannel('Model Lens', { log: true });
  const log = (line: string): void => output.warn(line);
  let settings: ModelLensSettings = readSettings();
  const currentSettings = (): ModelLensSettings => settings;

  const documentTokens = new DocumentTokenRegistry();
  const status = new TokenCountStatus(documentTokens, currentSettings);
  const tokenizePanel = new TokenizePanelController(context.extensionUri, context.globalState, currentSettings, log, documentTokens);
  const vocabPanel = new VocabPanelController(context.extensionUri, log);

  context.subscriptions.push(...registerActivationFeatures(context, log));
  context.subscriptions.push(
    output,
    documentTokens,
    status,
    tokenizePanel,
    vocabPanel,
    onSettingsChanged((next) => {
      settings = next;
      status.schedule();
    }),
    vscode.languages.registerHoverProvider(
      [{ scheme: 'file' }, { scheme: 'untitled' }],
      new TokenHoverProvider(documentTokens, currentSettings),
    ),
    vscode.commands.registerCommand(COMMANDS.tokenizeSelection, (editor?: unknown) =>
      // From a keybinding or the palette there is no argument; the editor context menu passes a URI.
      tokenizePanel.tokenizeEditor(isTextEditor(editor) ? editor : undefined),
    ),
    vscode.commands.registerCommand(COMMANDS.searchVocabulary, () => vocabPanel.createOrShow()),
    registerModelFeatures(),
    SafetensorsEditorProvider.register(context.extensionUri, log),
    vscode.window.registerWebviewPanelSerializer(TOKENS_VIEW_TYPE, {
      deserializeWebviewPanel: (panel, state) => tokenizePanel.revive(panel, state),
    }),
    vscode.window.registerWebviewPanelSerializer(VOCAB_VIEW_TYPE, {
      deserializeWebviewPanel: async (panel, state) => vocabPanel.revive(panel, state),
    }),
  );

  return {
    documentTokens,
    statusBarText: () => status.item.text,
    tokenizeSelection: (editor) => tokenizePanel.tokenizeEditor(editor),
  };
}

export function deactivate(): void {
  // Everything is in context.subscriptions.
}

function isTextEditor(value: unknown): value is vscode.TextEditor {
  return typeof value === 'object' && value !== null && 'document' in value && 'selection' in value;
}
