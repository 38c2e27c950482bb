// Next-token predictions for the editor features (loss highlight, prediction hover, inline
// logits), answered in the graph by readouts so only what they show leaves onnxruntime: per-position
// loss for the highlight, the last position's top-k (and one token's probability and rank) for the
// hover and inline logits, which then unembed that position alone. No vscode import.
import type { HookedGPT2 } from '../model';
import type { ReadoutAnswer } from '../readouts';
import { lossAndTopK } from '../../../kernels/readouts/lossAndTopK';
import { nextToken } from '../../../kernels/readouts/nextToken';

export interface PredictRequest {
  readonly type: 'predict';
  readonly tokens: Int32Array;
  /** How many next tokens per position (at least 1). */
  readonly topK: number;
  /** 'every' position (the loss highlight), or the 'last' one only (inline logits, hovers). */
  readonly at: 'every' | 'last';
  /** With 'last': the token whose probability and rank to report (the one that really follows). */
  readonly target?: number;
}

/** Rows are positions: every position, or one row for the last. */
export interface PredictReply {
  readonly type: 'predicted';
  readonly topK: number;
  readonly topIds: Int32Array; // [rows, topK]
  readonly topProbs: Float32Array; // [rows, topK]
  /** Cross-entropy of the next (or target) token; NaN where there is none. [rows] */
  readonly loss: Float32Array;
  /** Its probability; NaN where there is none. [rows] */
  readonly nextProb: Float32Array;
  /** Its 1-based rank among all tokens; 0 where there is none. [rows] */
  readonly nextRank: Int32Array;
}

function data(a: ReadoutAnswer | undefined, name: string): Float32Array | BigInt64Array {
  const t = a?.[name];
  if (t === undefined) throw new Error(`internal: readout answer '${name}' missing`);
  return t.data;
}
const f32 = (a: ReadoutAnswer | undefined, name: string): Float32Array => Float32Array.from(data(a, name), Number);
const i32 = (a: ReadoutAnswer | undefined, name: string): Int32Array => Int32Array.from(data(a, name), Number);

export async function predict(model: HookedGPT2, req: PredictRequest, signal: AbortSignal): Promise<PredictReply> {
  const k = Math.max(1, Math.min(Math.floor(req.topK), model.cfg.d_vocab_out));
  const n = req.tokens.length;
  if (req.at === 'every') {
    const r = lossAndTopK(k);
    const a = (await model.readout(req.tokens, [r], { signal })).get(r.key);
    const loss = f32(a, 'loss');
    const nextProb = f32(a, 'nextProb');
    const nextRank = i32(a, 'nextRank');
    loss[n - 1] = NaN; // the last position has no next token
    nextProb[n - 1] = NaN;
    nextRank[n - 1] = 0;
    return { type: 'predicted', topK: k, topIds: i32(a, 'topIds'), topProbs: f32(a, 'topProbs'), loss, nextProb, nextRank };
  }
  const target = req.target;
  if (target !== undefined && (!Number.isInteger(target) || target < 0 || target >= model.cfg.d_vocab_out)) {
    throw new Error(`target token ${target} is not an id in 0..${model.cfg.d_vocab_out - 1}`);
  }
  const r = nextToken(k, target ?? null);
  const a = (await model.readout(req.tokens, [r], { signal })).get(r.key);
  const p = f32(a, 'targetProb');
  const has = target !== undefined;
  return {
    type: 'predicted',
    topK: k,
    topIds: i32(a, 'topIds'),
    topProbs: f32(a, 'topProbs'),
    loss: Float32Array.of(has ? -Math.log(p[0]!) : NaN),
    nextProb: Float32Array.of(has ? p[0]! : NaN),
    nextRank: Int32Array.of(has ? i32(a, 'targetRank')[0]! : 0),
  };
}
