// A second hover provider beside the token hover (hover.ts): once a model is loaded, the
// model's prediction at the hovered token's position and the probability and rank of the
// token that really comes next. It never loads a model by itself (hovers must stay cheap).
import * as vscode from 'vscode';
import { tokenDisplay } from '../../tokenizer';
import { finiteAnswers, NonFiniteLogitsError } from '../logitRows';
import { documentLength, readableOffset } from '../documentText';
import { tailInput, tailWindow } from '../modelInput';
import type { EngineService } from '../activation/engineService';

const CONTEXT_CHARS = 4000;

export class PredictionHoverProvider implements vscode.HoverProvider {
  constructor(private readonly engine: EngineService) {}

  async provideHover(
    doc: vscode.TextDocument,
    position: vscode.Position,
    token: vscode.CancellationToken,
  ): Promise<vscode.Hover | undefined> {
    // Only a model already loaded: a load in progress may wait on the user, and a hover must not.
    const engine = this.engine.loadedNow();
    if (!engine || token.isCancellationRequested) return undefined;
    const offset = doc.offsetAt(position);
    const from = readableOffset(doc, Math.max(0, offset - CONTEXT_CHARS));
    // Past the hovered token, only the next one is needed; a little more keeps it whole.
    const length = documentLength(doc);
    const end = Math.min(length, offset + 200);
    const text = doc.getText(new vscode.Range(doc.positionAt(from), doc.positionAt(end)));
    const atDocumentEnd = end === length;
    const { spans: all } = tailInput(text, from === 0, Number.MAX_SAFE_INTEGER);
    // A token touching the read's end may be a piece of a longer one, unless the document ends there.
    const spans = atDocumentEnd ? all : all.filter((s) => s.end < text.length);
    const idx = spans.findIndex((s) => from + s.start <= offset && offset < from + s.end);
    if (idx < 0 || idx + 1 >= spans.length) return undefined;
    const ids = tailWindow(
      spans.slice(0, idx + 2).map((s) => s.id),
      from === 0,
      engine.cfg.n_ctx,
    );
    const abort = new AbortController();
    const sub = token.onCancellationRequested(() => abort.abort());
    try {
      const p = ids.length - 2; // the hovered token's position
      const next = ids[ids.length - 1]!;
      // The hovered position's prediction only, answered in the graph: top-1 and the actual next token's probability and rank.
      const r = await engine.client.predict(ids.slice(0, -1), { topK: 1, at: 'last', target: next, signal: abort.signal });
      try {
        finiteAnswers([r.topProbs[0]!, r.nextProb[0]!], () => p);
      } catch (e) {
        if (!(e instanceof NonFiniteLogitsError)) throw e;
        return new vscode.Hover(new vscode.MarkdownString(`**Model Lens prediction** unavailable: ${e.message}.`));
      }
      const arg = r.topIds[0]!;
      const md = new vscode.MarkdownString();
      md.appendMarkdown(`**Model Lens prediction** (${engine.label}; \`${engine.processing}\`)\n\n`);
      md.appendMarkdown(`predicted next: \`${tokenDisplay(arg)}\` ${(100 * r.topProbs[0]!).toFixed(1)}%\n\n`);
      md.appendMarkdown(`actual next: \`${tokenDisplay(next)}\` ${(100 * r.nextProb[0]!).toFixed(2)}%, rank ${r.nextRank[0]!}`);
      const s = spans[idx]!;
      return new vscode.Hover(md, new vscode.Range(doc.positionAt(from + s.start), doc.positionAt(from + s.end)));
    } catch {
      return undefined;
    } finally {
      sub.dispose();
    }
  }
}
