// The one place inline logits get their numbers: the top-k next tokens at a document position.
// Whatever the engine request becomes (an incremental one over a kept KV cache, a top-k computed
// in the worker), the presentation in inlineLogits.ts calls only this.
import * as vscode from 'vscode';
import { decode, tokenDisplay } from '../../tokenizer';
import type { LoadedEngine } from '../activation/engineService';
import { logitRow, probability } from '../logitRows';
import { readableOffset } from '../documentText';
import { tailInput } from '../modelInput';
import { nextTokenLogits } from './nextTokenLogits';

/** Context before the position that is tokenized: enough for n_ctx tokens of ordinary text (see modelInput.ts for the rules). */
export const CONTEXT_CHARS = 8000;

export interface NextToken {
  readonly id: number;
  /** Display text of the token (tokenDisplay). */
  readonly display: string;
  /** The token's text as it would be inserted. */
  readonly text: string;
  readonly probability: number;
}

export interface NextTokens {
  readonly top: readonly NextToken[];
  /** Milliseconds spent tokenizing on the host, and waiting for the engine's answer. */
  readonly tokenizeMs: number;
  readonly engineMs: number;
}

/**
 * The model's top `k` next tokens after `offset` in `doc`, or undefined when there is no text
 * before it. Throws NonFiniteLogitsError for a damaged model, AbortError when `signal` aborts.
 */
export async function topNextTokens(
  engine: LoadedEngine,
  doc: vscode.TextDocument,
  offset: number,
  k: number,
  signal: AbortSignal,
): Promise<NextTokens | undefined> {
  const t0 = performance.now();
  const from = readableOffset(doc, Math.max(0, offset - CONTEXT_CHARS));
  const context = doc.getText(new vscode.Range(doc.positionAt(from), doc.positionAt(offset)));
  const { ids } = tailInput(context, from === 0, engine.cfg.n_ctx);
  if (ids.length === 0) return undefined;
  const t1 = performance.now();
  // The last position alone, on the document's key/value cache in the worker (incremental).
  const r = { logits: await nextTokenLogits(engine.client, doc.uri.toString(), ids, signal) };
  const t2 = performance.now();
  const V = r.logits.dims[2]!;
  const logits = r.logits.data;
  const row = logitRow(logits, V, 0);
  const best: number[] = [];
  for (let v = 0; v < V; v++) {
    if (best.length < k || logits[v]! > logits[best[best.length - 1]!]!) {
      best.push(v);
      best.sort((a, b) => logits[b]! - logits[a]!);
      if (best.length > k) best.pop();
    }
  }
  return {
    top: best.map((id) => ({ id, display: tokenDisplay(id), text: decode([id]), probability: probability(logits, V, 0, id, row) })),
    tokenizeMs: t1 - t0,
    engineMs: t2 - t1,
  };
}
