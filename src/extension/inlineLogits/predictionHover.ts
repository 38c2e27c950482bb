// A second hover provider beside the token hover (hover.ts): once a model is loaded, the
// model's prediction at the hovered token's position and the probability and rank of the
// token that really comes next. It never loads a model by itself (hovers must stay cheap).
import * as vscode from 'vscode';
import { END_OF_TEXT_ID, tokenDisplay, tokenize } from '../../tokenizer';
import type { EngineService } from '../activation/engineService';

const CONTEXT_CHARS = 4000;

export class PredictionHoverProvider implements vscode.HoverProvider {
  constructor(private readonly engine: EngineService) {}

  async provideHover(doc: vscode.TextDocument, position: vscode.Position, token: vscode.CancellationToken): Promise<vscode.Hover | undefined> {
    const engine = await this.engine.peek();
    if (!engine || token.isCancellationRequested) return undefined;
    const offset = doc.offsetAt(position);
    const from = Math.max(0, offset - CONTEXT_CHARS);
    const text = doc.getText(new vscode.Range(doc.positionAt(from), doc.positionAt(Math.min(doc.getText().length, offset + 200))));
    const spans = tokenize(text);
    const idx = spans.findIndex((s) => from + s.start <= offset && offset < from + s.end);
    if (idx < 0 || idx + 1 >= spans.length) return undefined;
    const ids = [END_OF_TEXT_ID, ...spans.slice(0, idx + 2).map((s) => s.id)].slice(-engine.cfg.n_ctx);
    const abort = new AbortController();
    const sub = token.onCancellationRequested(() => abort.abort());
    try {
      const r = await engine.client.run(ids, { signal: abort.signal });
      const V = r.logits.dims[2]!;
      const p = ids.length - 2; // the hovered token's position
      const base = p * V;
      let max = -Infinity;
      let arg = 0;
      for (let v = 0; v < V; v++) if (r.logits.data[base + v]! > max) (max = r.logits.data[base + v]!), (arg = v);
      let sum = 0;
      for (let v = 0; v < V; v++) sum += Math.exp(r.logits.data[base + v]! - max);
      const next = ids[ids.length - 1]!;
      const x = r.logits.data[base + next]!;
      let rank = 1;
      for (let v = 0; v < V; v++) if (r.logits.data[base + v]! > x) rank++;
      const md = new vscode.MarkdownString();
      md.appendMarkdown(`**Model Lens prediction** (${engine.label}; \`${engine.processing}\`)\n\n`);
      md.appendMarkdown(`predicted next: \`${tokenDisplay(arg)}\` ${((100 * 1) / sum).toFixed(1)}%\n\n`);
      md.appendMarkdown(`actual next: \`${tokenDisplay(next)}\` ${((100 * Math.exp(x - max)) / sum).toFixed(2)}%, rank ${rank}`);
      const s = spans[idx]!;
      return new vscode.Hover(md, new vscode.Range(doc.positionAt(from + s.start), doc.positionAt(from + s.end)));
    } catch {
      return undefined;
    } finally {
      sub.dispose();
    }
  }
}
