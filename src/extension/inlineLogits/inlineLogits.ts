// Inline next-token logits: after the cursor (or the selection's end) the model's top-k next
// tokens with probabilities, as an after-text decoration. Debounced; an edit, a cursor move or a
// newer request cancels the run in flight, and a result is shown only if the document version
// and position it was computed for are still current, so nothing stale appears.
import * as vscode from 'vscode';
import { isAbortError } from '../../common/errors';
import { tokenDisplay } from '../../tokenizer';
import { logitRow, NonFiniteLogitsError, probability } from '../logitRows';
import { tailInput } from '../modelInput';
import { readableOffset } from '../documentText';
import type { EngineService } from '../activation/engineService';
import { nextTokenLogits } from './nextTokenLogits';

export const INLINE_LOGITS_SETTING = 'modelLens.inlineLogits';
const DEBOUNCE_MS = 250;
/** Context before the cursor that is tokenized: enough for n_ctx tokens of ordinary text (see modelInput.ts for the rules). */
const CONTEXT_CHARS = 8000;

export interface InlineLogitsState {
  /** The decoration text shown now, '' when none. */
  readonly text: string;
  readonly uri: string | undefined;
  readonly version: number | undefined;
  readonly offset: number | undefined;
}

function readConfig(): { enabled: boolean; topK: number } {
  const c = vscode.workspace.getConfiguration(INLINE_LOGITS_SETTING);
  const topK = c.get<number>('topK', 5);
  return { enabled: c.get<boolean>('enabled', false), topK: Number.isInteger(topK) ? Math.max(1, Math.min(20, topK)) : 5 };
}

export class InlineLogits implements vscode.Disposable {
  private readonly decoration = vscode.window.createTextEditorDecorationType({
    after: {
      color: new vscode.ThemeColor('editorInlayHint.foreground'),
      backgroundColor: new vscode.ThemeColor('editorInlayHint.background'),
      margin: '0 0 0 1em',
    },
    rangeBehavior: vscode.DecorationRangeBehavior.ClosedClosed,
  });
  private readonly subscriptions: vscode.Disposable[] = [];
  private timer: ReturnType<typeof setTimeout> | undefined;
  private inflight: AbortController | undefined;
  private shown: InlineLogitsState = { text: '', uri: undefined, version: undefined, offset: undefined };
  private readonly changed = new vscode.EventEmitter<InlineLogitsState>();
  /** Fires whenever what is shown changes (tests wait on it). */
  readonly onDidChange = this.changed.event;

  constructor(private readonly engine: EngineService) {
    this.subscriptions.push(
      this.decoration,
      this.changed,
      vscode.workspace.onDidChangeTextDocument((e) => {
        if (e.document === vscode.window.activeTextEditor?.document) this.schedule();
      }),
      vscode.window.onDidChangeTextEditorSelection(() => this.schedule()),
      vscode.window.onDidChangeActiveTextEditor(() => this.schedule()),
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (e.affectsConfiguration(INLINE_LOGITS_SETTING)) this.schedule();
      }),
      engine.onDidChangeModel(() => this.schedule()),
    );
    this.schedule();
  }

  get state(): InlineLogitsState {
    return this.shown;
  }

  async toggle(): Promise<boolean> {
    const next = !readConfig().enabled;
    await vscode.workspace.getConfiguration(INLINE_LOGITS_SETTING).update('enabled', next, vscode.ConfigurationTarget.Global);
    return next;
  }

  /** Clears what is shown and cancels the pending run; a new one starts after the debounce. */
  private schedule(): void {
    clearTimeout(this.timer);
    this.inflight?.abort();
    this.inflight = undefined;
    this.clear();
    if (!readConfig().enabled) return;
    this.timer = setTimeout(() => void this.compute(), DEBOUNCE_MS);
  }

  private clear(): void {
    if (this.shown.text === '' && this.shown.uri === undefined) return;
    for (const ed of vscode.window.visibleTextEditors) ed.setDecorations(this.decoration, []);
    this.shown = { text: '', uri: undefined, version: undefined, offset: undefined };
    this.changed.fire(this.shown);
  }

  private async compute(): Promise<void> {
    const editor = vscode.window.activeTextEditor;
    if (!editor) return;
    const { topK } = readConfig();
    const doc = editor.document;
    const version = doc.version;
    const at = editor.selection.end;
    const offset = doc.offsetAt(at);
    const abort = new AbortController();
    this.inflight = abort;
    try {
      const engine = await this.engine.get();
      if (abort.signal.aborted) return;
      const from = readableOffset(doc, Math.max(0, offset - CONTEXT_CHARS));
      const context = doc.getText(new vscode.Range(doc.positionAt(from), at));
      const { ids } = tailInput(context, from === 0, engine.cfg.n_ctx);
      if (ids.length === 0) return;
      // The last position alone, on the document's key/value cache in the worker (incremental).
      const r = { logits: await nextTokenLogits(engine.client, doc.uri.toString(), ids, abort.signal) };
      // Stale if anything moved while it ran: the abort covers edits and moves, this check covers a race with them.
      if (
        abort.signal.aborted ||
        doc.version !== version ||
        editor !== vscode.window.activeTextEditor ||
        doc.offsetAt(editor.selection.end) !== offset
      )
        return;
      let text: string;
      try {
        text = formatTopK(r.logits.data, r.logits.dims[2]!, 0, topK, engine.model.isDemo);
      } catch (e) {
        if (!(e instanceof NonFiniteLogitsError)) throw e;
        text = `next: unavailable (${e.message})`;
      }
      const line = doc.lineAt(at.line);
      editor.setDecorations(this.decoration, [
        { range: new vscode.Range(line.range.end, line.range.end), renderOptions: { after: { contentText: text } } },
      ]);
      this.shown = { text, uri: doc.uri.toString(), version, offset };
      this.changed.fire(this.shown);
    } catch (e) {
      if (!isAbortError(e) && !(e instanceof vscode.CancellationError)) {
        void vscode.window.setStatusBarMessage(`Model Lens inline logits: ${(e as Error).message}`, 5000);
      }
    } finally {
      if (this.inflight === abort) this.inflight = undefined;
    }
  }

  dispose(): void {
    clearTimeout(this.timer);
    this.inflight?.abort();
    for (const s of this.subscriptions) s.dispose();
  }
}

/** "next: ' the' 12.3% · ',' 8.1% …" from the logits row at `pos` of [1, pos, d_vocab]. */
export function formatTopK(logits: Float32Array, V: number, pos: number, k: number, isDemo: boolean): string {
  const base = pos * V;
  // Throws NonFiniteLogitsError for a damaged model: shown as the decoration's text by the caller.
  const row = logitRow(logits, V, pos);
  const best: number[] = [];
  for (let v = 0; v < V; v++) {
    if (best.length < k || logits[base + v]! > logits[base + best[best.length - 1]!]!) {
      best.push(v);
      best.sort((a, b) => logits[base + b]! - logits[base + a]!);
      if (best.length > k) best.pop();
    }
  }
  const parts = best.map((v) => `${JSON.stringify(tokenDisplay(v))} ${(100 * probability(logits, V, pos, v, row)).toFixed(1)}%`);
  return `next: ${parts.join(' · ')}${isDemo ? '  (demo model: random weights)' : ''}`;
}
