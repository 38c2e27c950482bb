// Status bar: token count of the selection, or of the whole document when nothing is selected.
// Recounted at most every DEBOUNCE_MS from the document's (incrementally updated) cache: a
// selection's count re-tokenizes only its ends (DocumentTokenCache.countInRange); if the
// document changes while the cache is built, the selections are tokenized in slices instead.
import * as vscode from 'vscode';
import { tokenCount } from '../common/counts';
import { COMMANDS } from './commands';
import type { DocumentTokenRegistry } from './documentTokens';
import type { ModelLensSettings } from './settings';
import { rangeCounts } from './rangeTokens';
import { tokenizeInSlices } from './sliceTokenize';
import { TokenizeCancelled } from './turns';

export const STATUS_DEBOUNCE_MS = 200;

export class TokenCountStatus implements vscode.Disposable {
  readonly item: vscode.StatusBarItem;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private generation = 0;
  private readonly subscriptions: vscode.Disposable[] = [];

  constructor(
    private readonly registry: DocumentTokenRegistry,
    private readonly settings: () => ModelLensSettings,
  ) {
    this.item = vscode.window.createStatusBarItem('modelLens.tokenCount', vscode.StatusBarAlignment.Right, 100);
    this.item.name = 'Model Lens: GPT-2 token count';
    this.item.command = COMMANDS.tokenizeSelection;
    this.subscriptions.push(
      this.item,
      vscode.window.onDidChangeActiveTextEditor(() => this.schedule()),
      vscode.window.onDidChangeTextEditorSelection(() => this.schedule()),
      registry.onDidUpdate((doc) => {
        if (doc === vscode.window.activeTextEditor?.document) this.schedule();
      }),
    );
    this.schedule();
  }

  /** Recount soon; bursts of events (typing, dragging a selection) collapse into one count. */
  schedule(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.update(), STATUS_DEBOUNCE_MS);
  }

  dispose(): void {
    clearTimeout(this.timer);
    this.generation++;
    for (const s of this.subscriptions) s.dispose();
  }

  private async update(): Promise<void> {
    const generation = ++this.generation;
    // Focus in a panel leaves no active editor: keep counting the editor beside it.
    const editor = vscode.window.activeTextEditor ?? vscode.window.visibleTextEditors[0];
    if (!this.settings().statusBarEnabled || !editor) {
      this.item.hide();
      return;
    }
    const selections = editor.selections.filter((s) => !s.isEmpty);
    try {
      let count: number;
      let what: string;
      if (selections.length > 0) {
        const document = editor.document;
        const ranges = selections.map((s) => [document.offsetAt(s.start), document.offsetAt(s.end)] as const);
        const counts = await rangeCounts(this.registry, document, ranges);
        count = 0;
        if (counts) {
          for (const c of counts) count += c;
        } else {
          for (const s of selections) {
            const packed = await tokenizeInSlices(document.getText(s), {
              isCancelled: () => generation !== this.generation,
              meter: this.registry.workMeter,
            });
            count += packed.length;
          }
        }
        what = selections.length === 1 ? 'selection' : `${selections.length} selections`;
      } else {
        const cache = await this.registry.get(editor.document);
        count = cache.count;
        what = 'document';
      }
      if (generation !== this.generation) return;
      this.item.text = `$(symbol-numeric) ${tokenCount(count, vscode.env.language)}`;
      this.item.tooltip = `GPT-2 tokens of the ${what}'s text (the model's input adds BOS). Click to tokenize it.`;
      this.item.show();
    } catch (e) {
      if (!(e instanceof TokenizeCancelled)) throw e;
    }
  }
}
