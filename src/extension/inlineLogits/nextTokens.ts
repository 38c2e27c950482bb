// The one place inline logits get their numbers: the top-k next tokens at a document position.
// They come from the engine worker's key/value cache for the document, with the top-k answered in
// the graph (EngineClient.nextToken → the nextToken readout on the incremental graph): typing at the
// end of a long document runs only the new tokens, an edit earlier reruns from the first changed
// token, and only k ids and probabilities cross to the host. The presentation in inlineLogits.ts
// calls only this.
import * as vscode from 'vscode';
import { decode, tokenDisplay } from '../../tokenizer';
import type { LoadedEngine } from '../activation/engineService';
import { readableOffset } from '../documentText';
import { finiteAnswers } from '../logitRows';
import { tailInput } from '../modelInput';

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
  // Never between a CRLF's two characters: VS Code would move the start and shift every offset.
  const from = readableOffset(doc, Math.max(0, offset - CONTEXT_CHARS));
  const context = doc.getText(new vscode.Range(doc.positionAt(from), doc.positionAt(offset)));
  const { ids } = tailInput(context, from === 0, engine.cfg.n_ctx);
  if (ids.length === 0) return undefined;
  const t1 = performance.now();
  const r = await engine.client.nextToken(doc.uri.toString(), ids, k, signal);
  const t2 = performance.now();
  finiteAnswers(r.topProbs, () => ids.length - 1);
  return {
    top: Array.from(r.topIds, (id, j) => ({ id, display: tokenDisplay(id), text: decode([id]), probability: r.topProbs[j]! })),
    tokenizeMs: t1 - t0,
    engineMs: t2 - t1,
  };
}
