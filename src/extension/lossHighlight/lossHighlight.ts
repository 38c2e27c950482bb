// "Model Lens: Highlight Token Loss": each token of the selection coloured by the model's loss
// on it (viridis in five bins, colour-blind safe), with the legend and the value in each token's
// hover message; "Clear Token Loss Highlight" removes it. The run happens in the engine worker.
import * as vscode from 'vscode';
import { tokenDisplay } from '../../tokenizer';
import { documentLength, documentReader } from '../documentText';
import { finiteAnswers, NonFiniteLogitsError } from '../logitRows';
import { headInput } from '../modelInput';
import type { EngineService } from '../activation/engineService';

const BINS = ['#440154', '#3b528b', '#21918c', '#5ec962', '#fde725'];
const TEXT = ['#fff', '#fff', '#fff', '#000', '#000'];

export interface LossHighlightOutcome {
  readonly tokens: number;
  /** Loss of each highlighted token (the first token of the text is scored after BOS). */
  readonly losses: number[];
  readonly maxLoss: number;
  /** Characters of the selection (or document) tokenized: a bounded head, never a whole large document. */
  readonly charsTokenized: number;
  /** Set when nothing was highlighted because the model's output was unusable (NaN or infinite logits). */
  readonly error?: string;
}

export class LossHighlighter implements vscode.Disposable {
  private readonly types = BINS.map((bg, i) =>
    vscode.window.createTextEditorDecorationType({ backgroundColor: bg, color: TEXT[i], borderRadius: '2px' }),
  );
  private inflight: AbortController | undefined;
  private readonly status = vscode.window.createStatusBarItem(vscode.StatusBarAlignment.Right, 90);

  constructor(private readonly engine: EngineService) {}

  async highlight(editor = vscode.window.activeTextEditor): Promise<LossHighlightOutcome | undefined> {
    if (!editor) return undefined;
    this.inflight?.abort();
    const abort = new AbortController();
    this.inflight = abort;
    const doc = editor.document;
    const version = doc.version;
    const sel = editor.selection.isEmpty ? new vscode.Range(doc.positionAt(0), doc.positionAt(documentLength(doc))) : editor.selection;
    const start = doc.offsetAt(sel.start);
    const length = doc.offsetAt(sel.end) - start;
    if (length === 0) return undefined;
    const engine = await this.engine.get();
    // Only the first n_ctx - 1 tokens are scored, so only a bounded head of the text is tokenized.
    const { ids, spans, charsTokenized } = headInput(documentReader(doc, start), length, engine.cfg.n_ctx);
    const n = spans.length;
    if (n === 0) return undefined;
    // Only the per-position loss leaves the engine (answered in the graph), not [pos, d_vocab] logits.
    const r = await engine.client.predict(ids, { topK: 1, at: 'every', signal: abort.signal });
    if (abort.signal.aborted || doc.version !== version) return undefined;
    let losses: number[];
    try {
      // Token i of the text is predicted at position i (BOS sits at 0).
      losses = Array.from(finiteAnswers(r.loss.subarray(0, n)));
    } catch (e) {
      if (!(e instanceof NonFiniteLogitsError)) throw e;
      this.clear();
      void vscode.window.showErrorMessage(`Model Lens: cannot highlight token loss: ${e.message}.`);
      return { tokens: n, losses: [], maxLoss: Number.NaN, charsTokenized, error: e.message };
    }
    const maxLoss = Math.max(...losses, 1e-9);
    const buckets: vscode.DecorationOptions[][] = BINS.map(() => []);
    const legend = `loss (nats): ${BINS.map((_, b) => `${((b * maxLoss) / BINS.length).toFixed(1)}–${(((b + 1) * maxLoss) / BINS.length).toFixed(1)}`).join(' · ')} (viridis, low → high)`;
    losses.forEach((l, i) => {
      const s = spans[i]!;
      const bin = Math.min(BINS.length - 1, Math.floor((l / maxLoss) * BINS.length));
      const md = new vscode.MarkdownString(
        `**Model Lens loss** ${l.toFixed(3)} nats for \`${tokenDisplay(s.id).replace(/`/g, "'")}\`${engine.model.isDemo ? ' — demo model: random weights' : ''}\n\n${legend}`,
      );
      buckets[bin]!.push({ range: new vscode.Range(doc.positionAt(start + s.start), doc.positionAt(start + s.end)), hoverMessage: md });
    });
    this.types.forEach((t, b) => editor.setDecorations(t, buckets[b]!));
    const mean = losses.reduce((a, b) => a + b, 0) / losses.length;
    this.status.text = `$(symbol-color) loss ${mean.toFixed(2)} mean, ${maxLoss.toFixed(2)} max${engine.model.isDemo ? ' (demo: random weights)' : ''}`;
    this.status.tooltip = legend;
    this.status.show();
    return { tokens: n, losses, maxLoss, charsTokenized };
  }

  clear(): void {
    this.inflight?.abort();
    for (const ed of vscode.window.visibleTextEditors) for (const t of this.types) ed.setDecorations(t, []);
    this.status.hide();
  }

  dispose(): void {
    this.clear();
    for (const t of this.types) t.dispose();
    this.status.dispose();
  }
}
