// The tokens Continue Text generated, per document: coloured by probability (five viridis bins)
// with a hover (token, probability, rank, the top 5 at its step). Any change to the document
// drops them: Continue Text's own steps set them again right after each edit, and a user's edit
// leaves them gone, since offsets and the model's view of the text no longer hold.
import * as vscode from 'vscode';
import type { SampledToken } from '../../engine/sampler';
import { PROB_BINS, PROB_TEXT, probBin, tokenHoverMarkdown, tokenOffsets } from './tokenInfo';

interface PlacedToken {
  readonly start: number;
  readonly end: number;
  readonly token: SampledToken;
}

export class GeneratedTokens implements vscode.Disposable, vscode.HoverProvider {
  private readonly types = PROB_BINS.map((bg, i) =>
    vscode.window.createTextEditorDecorationType({ backgroundColor: bg, color: PROB_TEXT[i], borderRadius: '2px' }),
  );
  private readonly byDocument = new Map<string, PlacedToken[]>();
  private readonly subscriptions: vscode.Disposable[];
  /** Set per run: the hover says when the numbers come from random weights. */
  demo = false;

  constructor() {
    this.subscriptions = [
      vscode.workspace.onDidChangeTextDocument((e) => {
        if (e.contentChanges.length > 0) this.clear(e.document);
      }),
      vscode.workspace.onDidCloseTextDocument((d) => this.byDocument.delete(d.uri.toString())),
      vscode.languages.registerHoverProvider([{ scheme: 'file' }, { scheme: 'untitled' }], this),
    ];
  }

  /** The tokens of the text inserted at `offset` (its `length` characters), coloured in `editor`. */
  set(editor: vscode.TextEditor, offset: number, tokens: readonly SampledToken[], length: number): void {
    const doc = editor.document;
    const spans = tokenOffsets(tokens.map((t) => t.id));
    const placed = tokens
      .map((token, i) => ({ start: offset + spans[i]!.start, end: offset + Math.min(spans[i]!.end, length), token }))
      .filter((p) => p.end > p.start);
    this.byDocument.set(doc.uri.toString(), placed);
    const buckets: vscode.Range[][] = PROB_BINS.map(() => []);
    for (const p of placed) buckets[probBin(p.token.prob)]!.push(new vscode.Range(doc.positionAt(p.start), doc.positionAt(p.end)));
    this.types.forEach((t, b) => editor.setDecorations(t, buckets[b]!));
  }

  /** The generated tokens shown in `doc` (tests read them). */
  tokensIn(doc: vscode.TextDocument): readonly PlacedToken[] {
    return this.byDocument.get(doc.uri.toString()) ?? [];
  }

  clear(doc: vscode.TextDocument): void {
    if (!this.byDocument.delete(doc.uri.toString())) return;
    for (const ed of vscode.window.visibleTextEditors) if (ed.document === doc) for (const t of this.types) ed.setDecorations(t, []);
  }

  provideHover(doc: vscode.TextDocument, position: vscode.Position): vscode.Hover | undefined {
    const at = doc.offsetAt(position);
    const hit = this.byDocument.get(doc.uri.toString())?.find((p) => p.start <= at && at < p.end);
    if (hit === undefined) return undefined;
    const md = new vscode.MarkdownString(tokenHoverMarkdown(hit.token, this.demo));
    return new vscode.Hover(md, new vscode.Range(doc.positionAt(hit.start), doc.positionAt(hit.end)));
  }

  dispose(): void {
    for (const s of this.subscriptions) s.dispose();
    for (const t of this.types) t.dispose();
    this.byDocument.clear();
  }
}
