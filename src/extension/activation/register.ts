// Registers the model-backed features: the activation panel (and its serializer), inline
// next-token logits, the prediction hover and the token-loss highlight, all sharing one engine
// worker. Hidden commands (not in package.json) give in-host tests the panel's outcomes.
import * as vscode from 'vscode';
import { ACTIVATION_VIEW_TYPE, type PanelAblation } from '../../protocol/activation';
import { InlineLogits } from '../inlineLogits/inlineLogits';
import { PredictionHoverProvider } from '../inlineLogits/predictionHover';
import { LossHighlighter } from '../lossHighlight/lossHighlight';
import { registerContinueText } from '../generate/register';
import { ActivationPanelController } from './activationPanel';
import { EngineService } from './engineService';
import { registerExperimentCommands } from './experimentCommands';
import { SteeringState } from './steering';
import { registerSteeringCommands } from './steeringCommands';
import { ProviderStatus } from './providerStatus';
import { ModelLensSidebar } from '../sidebar/sidebar';
import { registerTensorView } from '../tensorView/register';
import { RecentRuns } from '../sidebar/runsView';

export const ACTIVATION_COMMANDS = {
  openActivationPanel: 'modelLens.openActivationPanel',
  exportActivationCache: 'modelLens.exportActivationCache',
  exportActivationView: 'modelLens.exportActivationView',
  toggleInlineLogits: 'modelLens.toggleInlineLogits',
  highlightTokenLoss: 'modelLens.highlightTokenLoss',
  clearTokenLossHighlight: 'modelLens.clearTokenLossHighlight',
  // Hidden: for tests and keybindings.
  ablate: 'modelLens.activationPanel.ablate',
  reset: 'modelLens.activationPanel.reset',
  panelState: 'modelLens.activationPanel.state',
  inlineLogitsState: 'modelLens.inlineLogits.state',
  /** The execution provider status (ProviderStatusSnapshot). */
  engineState: 'modelLens.engine.state',
  /** The engine's own memory report (the worker's process.memoryUsage() and the panel runs it holds). */
  engineMemory: 'modelLens.engine.memory',
} as const;

export function registerActivationFeatures(context: vscode.ExtensionContext, log: (line: string) => void): vscode.Disposable[] {
  const engine = new EngineService(context, log);
  const runs = new RecentRuns();
  const steering = new SteeringState(engine);
  const panel = new ActivationPanelController(context.extensionUri, engine, log, context.workspaceState, (r) => runs.record(r), steering);
  const inline = new InlineLogits(engine, steering);
  const loss = new LossHighlighter(engine);
  const providerStatus = new ProviderStatus(engine, log);
  const fail = (e: unknown): undefined => {
    void vscode.window.showErrorMessage(`Model Lens: ${e instanceof Error ? e.message : String(e)}`);
    return undefined;
  };
  const c = ACTIVATION_COMMANDS;
  return [
    providerStatus,
    engine,
    new ModelLensSidebar(engine),
    runs,
    ...registerTensorView(context.extensionUri, engine, log).disposables,
    steering,
    panel,
    inline,
    loss,
    // The editor context menu (and the Runs view) passes the document's URI: run on that document,
    // never on whichever editor happens to be active when the command arrives (a webview may be,
    // or the panel this command opened may have covered the editor it was given).
    vscode.commands.registerCommand(c.openActivationPanel, (uri?: unknown) => panel.openOnEditor(editorFor(uri))),
    vscode.commands.registerCommand(c.exportActivationCache, (path?: unknown) => panel.exportCache(path ?? undefined).catch(fail)),
    vscode.commands.registerCommand(c.exportActivationView, (path?: unknown) => panel.exportPng(path ?? undefined).catch(fail)),
    vscode.commands.registerCommand(c.toggleInlineLogits, () => inline.toggle()),
    vscode.commands.registerCommand(c.highlightTokenLoss, () => loss.highlight().catch(fail)),
    vscode.commands.registerCommand(c.clearTokenLossHighlight, () => loss.clear()),
    vscode.commands.registerCommand(c.ablate, (a: PanelAblation) => panel.ablate(a)),
    vscode.commands.registerCommand(c.reset, () => panel.reset()),
    vscode.commands.registerCommand(c.panelState, () => panel.current),
    vscode.commands.registerCommand(c.inlineLogitsState, () => inline.state),
    vscode.commands.registerCommand(c.engineState, () => providerStatus.snapshot),
    vscode.commands.registerCommand(c.engineMemory, async () => (await engine.get()).client.tensor({ op: 'memory' })),
    vscode.languages.registerHoverProvider([{ scheme: 'file' }, { scheme: 'untitled' }], new PredictionHoverProvider(engine)),
    ...registerContinueText(engine),
    ...registerExperimentCommands(engine, panel),
    ...registerSteeringCommands(steering),
    vscode.window.registerWebviewPanelSerializer(ACTIVATION_VIEW_TYPE, {
      deserializeWebviewPanel: (p, state) => panel.revive(p, state),
    }),
  ];
}

/**
 * The editor (or document and selection) a command given `uri` runs on: that document's visible
 * editor with its selection; the open document, whole, when no editor shows it; the active editor
 * when no URI is given.
 */
function editorFor(uri: unknown): Pick<vscode.TextEditor, 'document' | 'selection'> | undefined {
  if (!(uri instanceof vscode.Uri)) return vscode.window.activeTextEditor;
  const key = uri.toString();
  // A closed document's object can outlive it; its text is not the document now at that URI.
  const isIt = (d: vscode.TextDocument): boolean => !d.isClosed && d.uri.toString() === key;
  const active = vscode.window.activeTextEditor;
  if (active && isIt(active.document)) return active;
  const visible = vscode.window.visibleTextEditors.find((e) => isIt(e.document));
  if (visible) return visible;
  const document = vscode.workspace.textDocuments.find(isIt);
  return document && { document, selection: new vscode.Selection(0, 0, 0, 0) };
}
