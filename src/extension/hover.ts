// Hover: the GPT-2 tokens under the pointer (every token of the word there, or the one token
// at the position off words), with visible text, id and index in the document's token list.
import * as vscode from 'vscode';
import { tokenCount } from '../common/counts';
import { tokenDisplay } from '../tokenizer';
import type { TokenSpan } from '../tokenizer/types';
import type { DocumentTokenRegistry } from './documentTokens';
import type { ModelLensSettings } from './settings';

/** A long word can be dozens of tokens; the hover lists the first few. */
const MAX_HOVER_TOKENS = 12;

export interface HoverTokens {
  /** Index of the first listed token in the document's token list. */
  readonly firstIndex: number;
  readonly spans: readonly TokenSpan[];
  readonly total: number;
}

export class TokenHoverProvider implements vscode.HoverProvider {
  constructor(
    private readonly registry: DocumentTokenRegistry,
    private readonly settings: () => ModelLensSettings,
  ) {}

  async provideHover(
    document: vscode.TextDocument,
    position: vscode.Position,
    token: vscode.CancellationToken,
  ): Promise<vscode.Hover | undefined> {
    if (!this.settings().hoverEnabled) return undefined;
    const cache = await this.registry.get(document);
    if (token.isCancellationRequested) return undefined;
    const offset = document.offsetAt(position);
    const word = document.getWordRangeAtPosition(position);
    let spans: TokenSpan[];
    let firstIndex: number;
    if (word) {
      spans = cache.tokensInRange(document.offsetAt(word.start), document.offsetAt(word.end));
      firstIndex = spans.length > 0 ? (cache.tokenAt(spans[0]!.start)?.index ?? 0) : 0;
    } else {
      const at = cache.tokenAt(offset);
      spans = at ? [at.span] : [];
      firstIndex = at?.index ?? 0;
    }
    if (spans.length === 0) return undefined;
    const range = new vscode.Range(document.positionAt(spans[0]!.start), document.positionAt(spans[spans.length - 1]!.end));
    return new vscode.Hover(hoverMarkdown({ firstIndex, spans, total: cache.count }), range);
  }
}

export function hoverMarkdown(t: HoverTokens): vscode.MarkdownString {
  const shown = t.spans.slice(0, MAX_HOVER_TOKENS);
  const md = new vscode.MarkdownString();
  md.supportHtml = false;
  md.isTrusted = false;
  const plural = t.spans.length === 1 ? 'token' : 'tokens';
  md.appendMarkdown(`**GPT-2: ${t.spans.length} ${plural}** (document: ${tokenCount(t.total, vscode.env.language)})\n\n`);
  md.appendMarkdown('| token | id | index |\n|:--|--:|--:|\n');
  shown.forEach((span, i) => {
    md.appendMarkdown(`| ${codeSpan(tokenDisplay(span.id))} | ${span.id} | ${t.firstIndex + i} |\n`);
  });
  if (t.spans.length > shown.length) md.appendMarkdown(`\n…and ${t.spans.length - shown.length} more`);
  return md;
}

/** A Markdown code span that survives backticks and table pipes in token text. */
function codeSpan(text: string): string {
  const safe = text.replace(/\|/g, '\\|');
  const fence = safe.includes('`') ? '`` ' : '`';
  return fence + safe + (fence === '`` ' ? ' ``' : '`');
}
