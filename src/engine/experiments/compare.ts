// Two runs side by side (the activation panel's Compare view): two prompts, or one prompt with
// and without interventions. Three small differences, each answered in the graph by a readout:
//   the logit lens at the last position, per layer, at the tokens either run ranks highest next
//     (lensAtLast: A's probability − B's, a [layers, tokens] map);
//   one head's attention pattern (headPattern: A − B over the query and key positions both
//     prompts have, the first min(posA, posB); causal attention makes those rows comparable);
//   the top next tokens of each run (nextToken).
import { headPattern } from '../../../kernels/readouts/headPattern';
import { lensAtLast } from '../../../kernels/readouts/lensAtLast';
import { logitLensLabels } from '../../../kernels/readouts/logitLens';
import { nextToken } from '../../../kernels/readouts/nextToken';
import type { Intervention } from '../interventions';
import type { HookedGPT2 } from '../model';
import type { ReadoutAnswer } from '../readouts';

export interface CompareSide {
  readonly tokens: readonly number[];
  readonly interventions: readonly Intervention[];
}

export interface CompareRequest {
  readonly a: CompareSide;
  readonly b: CompareSide;
  readonly layer: number;
  readonly head: number;
  /** How many top next tokens of each run (their union is where the lens is read). */
  readonly k: number;
}

export interface CompareResult {
  /** "0_pre" … "final_post" */
  readonly layers: readonly string[];
  /** The tokens the lens is read at: A's top k, then B's not already there. */
  readonly targets: Int32Array;
  /** Lens probabilities [layers, targets] of each run. */
  readonly lensA: Float32Array;
  readonly lensB: Float32Array;
  /** The pattern of the chosen head over the first m positions of each run, [m, m]. */
  readonly m: number;
  readonly patternA: Float32Array;
  readonly patternB: Float32Array;
  readonly topA: { readonly ids: Int32Array; readonly probs: Float32Array };
  readonly topB: { readonly ids: Int32Array; readonly probs: Float32Array };
}

function answer(a: ReadoutAnswer | undefined, name: string): Float32Array | BigInt64Array {
  const t = a?.[name];
  if (t === undefined) throw new Error(`internal: readout answer '${name}' missing`);
  return t.data;
}

/** [pos, pos] → its top-left [m, m]. */
function corner(p: Float32Array, pos: number, m: number): Float32Array {
  const out = new Float32Array(m * m);
  for (let q = 0; q < m; q++) out.set(p.subarray(q * pos, q * pos + m), q * m);
  return out;
}

export async function compareRuns(model: HookedGPT2, req: CompareRequest, signal?: AbortSignal): Promise<CompareResult> {
  const { n_layers, n_heads } = model.cfg;
  if (!Number.isInteger(req.layer) || req.layer < 0 || req.layer >= n_layers)
    throw new Error(`layer ${req.layer} is out of range 0..${n_layers - 1}`);
  if (!Number.isInteger(req.head) || req.head < 0 || req.head >= n_heads)
    throw new Error(`head ${req.head} is out of range 0..${n_heads - 1}`);
  const k = Math.max(1, Math.min(Math.floor(req.k), 20));
  const opts = (s: CompareSide): { interventions: readonly Intervention[]; signal?: AbortSignal } => ({
    interventions: s.interventions,
    ...(signal ? { signal } : {}),
  });
  // First each run's own top next tokens and the head's pattern, then the lens at their union.
  const first = async (s: CompareSide): Promise<{ ids: Int32Array; probs: Float32Array; pattern: Float32Array }> => {
    const top = nextToken(k, null);
    const pat = headPattern(req.layer, req.head);
    const [t, p] = [
      (await model.readout(s.tokens, [top], opts(s))).get(top.key),
      (await model.readout(s.tokens, [pat], opts(s))).get(pat.key),
    ];
    return {
      ids: Int32Array.from(answer(t, 'topIds'), Number),
      probs: Float32Array.from(answer(t, 'topProbs'), Number),
      pattern: Float32Array.from(answer(p, 'pattern'), Number),
    };
  };
  const a = await first(req.a);
  const b = await first(req.b);
  const targets = [...a.ids];
  for (const id of b.ids) if (!targets.includes(id)) targets.push(id);
  // A fixed count (2k) keeps one graph per k: pad with the first target and drop the padding after.
  const padded = [...targets, ...Array<number>(2 * k - targets.length).fill(targets[0]!)];
  const lens = async (s: CompareSide): Promise<Float32Array> => {
    const r = lensAtLast(padded);
    const all = Float32Array.from(answer((await model.readout(s.tokens, [r], opts(s))).get(r.key), 'probs'), Number); // [layers, 1, 1, 2k]
    const rows = n_layers + 1;
    const out = new Float32Array(rows * targets.length);
    for (let l = 0; l < rows; l++) out.set(all.subarray(l * padded.length, l * padded.length + targets.length), l * targets.length);
    return out;
  };
  const m = Math.min(req.a.tokens.length, req.b.tokens.length);
  return {
    layers: logitLensLabels(model.cfg),
    targets: Int32Array.from(targets),
    lensA: await lens(req.a),
    lensB: await lens(req.b),
    m,
    patternA: corner(a.pattern, req.a.tokens.length, m),
    patternB: corner(b.pattern, req.b.tokens.length, m),
    topA: { ids: a.ids, probs: a.probs },
    topB: { ids: b.ids, probs: b.probs },
  };
}
