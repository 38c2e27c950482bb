// The sidebar's Runs view: the activation panel's recent runs (where the prompt came from, its
// tokens, the ablations, the mean loss), newest first; clicking one opens its prompt in a new
// untitled editor and runs the panel on it again with the same ablations. Kept for the window's
// lifetime (a run's text is at most MAX_SAVED_TEXT characters), not across reloads.
import * as vscode from 'vscode';
import type { ActRun, PanelAblation } from '../../protocol/activation';

export const RUNS_VIEW = 'modelLens.runs';
export const RUNS_COMMANDS = {
  reopen: 'modelLens.runs.reopen',
  clear: 'modelLens.runs.clear',
  /** Hidden: the recorded runs (RecordedRun[]), for in-host tests. */
  state: 'modelLens.runs.state',
} as const;

const MAX_RUNS = 20;

export interface RecordedRun {
  readonly id: number;
  readonly source: string;
  readonly text: string;
  readonly tokens: number;
  readonly meanLoss: number;
  readonly ablations: readonly PanelAblation[];
  readonly modelLabel: string;
  readonly at: string;
}

const ablationText = (a: PanelAblation): string =>
  `${a.kind === 'head' ? `L${a.layer}H${a.index}` : `L${a.layer}N${a.index}`}${a.method && a.method !== 'zero' ? ` (${a.method})` : ''}`;
const sameRun = (a: RecordedRun, b: Omit<RecordedRun, 'id' | 'at'>): boolean =>
  a.text === b.text && a.modelLabel === b.modelLabel && JSON.stringify(a.ablations) === JSON.stringify(b.ablations);

/** The runs' tree item: plain data, read by the view and by tests. */
export function runItem(r: RecordedRun): vscode.TreeItem {
  const item = new vscode.TreeItem(r.source, vscode.TreeItemCollapsibleState.None);
  item.id = `run:${r.id}`;
  const ablated = r.ablations.length > 0 ? ` · ablated ${r.ablations.map(ablationText).join(' ')}` : '';
  item.description = `${r.tokens} tokens · loss ${Number.isFinite(r.meanLoss) ? r.meanLoss.toFixed(3) : '—'}${ablated}`;
  const preview = r.text.length > 400 ? `${r.text.slice(0, 400)}…` : r.text;
  item.tooltip = new vscode.MarkdownString().appendText(`${r.at} · ${r.modelLabel}\n\n${preview}`);
  item.command = { command: RUNS_COMMANDS.reopen, title: 'Reopen run', arguments: [r.id] };
  item.contextValue = 'modelLens.run';
  return item;
}

export class RecentRuns implements vscode.TreeDataProvider<RecordedRun>, vscode.Disposable {
  private runs: RecordedRun[] = [];
  private nextId = 1;
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChangeTreeData = this.changed.event;
  private readonly disposables: vscode.Disposable[];

  constructor() {
    this.disposables = [
      this.changed,
      vscode.window.createTreeView(RUNS_VIEW, { treeDataProvider: this }),
      vscode.commands.registerCommand(RUNS_COMMANDS.reopen, (id: unknown) => this.reopen(id)),
      vscode.commands.registerCommand(RUNS_COMMANDS.clear, () => {
        this.runs = [];
        this.changed.fire();
      }),
      vscode.commands.registerCommand(RUNS_COMMANDS.state, () => this.runs),
    ];
  }

  /** Called by the activation panel after each run it shows. */
  record(run: ActRun): void {
    const entry = {
      source: run.source,
      text: run.savedText,
      tokens: run.tokens.length,
      meanLoss: run.meanLoss,
      ablations: [...run.ablations],
      modelLabel: run.modelLabel,
    };
    // The same prompt, model and ablations again moves to the top instead of repeating.
    this.runs = [
      { ...entry, id: this.nextId++, at: new Date().toLocaleTimeString() },
      ...this.runs.filter((r) => !sameRun(r, entry)),
    ].slice(0, MAX_RUNS);
    this.changed.fire();
  }

  getChildren(node?: RecordedRun): RecordedRun[] {
    return node ? [] : this.runs;
  }

  getTreeItem(r: RecordedRun): vscode.TreeItem {
    return runItem(r);
  }

  /** Opens the run's prompt in a new editor and runs the panel on it with the same ablations. */
  private async reopen(id: unknown): Promise<boolean> {
    const run = this.runs.find((r) => r.id === id);
    if (!run) return false;
    const doc = await vscode.workspace.openTextDocument({ content: run.text, language: 'plaintext' });
    await vscode.window.showTextDocument(doc, vscode.ViewColumn.One);
    await vscode.commands.executeCommand('modelLens.openActivationPanel', doc.uri);
    // Each ablation re-runs the panel; a newer run cancels the one before it, so only the last completes.
    for (const a of run.ablations) await vscode.commands.executeCommand('modelLens.activationPanel.ablate', a);
    return true;
  }

  dispose(): void {
    for (const d of this.disposables) d.dispose();
  }
}
