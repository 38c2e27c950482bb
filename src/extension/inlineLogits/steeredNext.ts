// The next tokens with the steering vector added (SteeringState), shown beside the normal hint
// while a vector is active. A full forward over the context with the addVector intervention: the
// document's key/value cache holds the unsteered run, so it cannot be reused here. The context is
// cut exactly as nextTokens.ts cuts it, so both hints speak of the same tokens.
import * as vscode from 'vscode';
import type { Intervention } from '../../engine/interventions';
import { decode, tokenDisplay } from '../../tokenizer';
import type { LoadedEngine } from '../activation/engineService';
import { readableOffset } from '../documentText';
import { finiteAnswers } from '../logitRows';
import { tailInput } from '../modelInput';
import { CONTEXT_CHARS, type NextToken } from './nextTokens';

export async function steeredNextTokens(
  engine: LoadedEngine,
  doc: vscode.TextDocument,
  offset: number,
  k: number,
  steering: Intervention,
  signal: AbortSignal,
): Promise<NextToken[]> {
  const from = readableOffset(doc, Math.max(0, offset - CONTEXT_CHARS));
  const context = doc.getText(new vscode.Range(doc.positionAt(from), doc.positionAt(offset)));
  const { ids } = tailInput(context, from === 0, engine.cfg.n_ctx);
  if (ids.length === 0) return [];
  const r = await engine.client.experiment({ op: 'nextTokens', tokens: Int32Array.from(ids), interventions: [steering], k }, signal);
  if (r.op !== 'nextTokens') throw new Error('unexpected engine reply');
  finiteAnswers(r.probs, () => ids.length - 1);
  return Array.from(r.ids, (id, j) => ({ id, display: tokenDisplay(id), text: decode([id]), probability: r.probs[j]! }));
}
