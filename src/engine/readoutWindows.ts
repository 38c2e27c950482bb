// A long prompt's next-token readouts answered in windows of positions. Unembedding every position
// of a 1,024-token prompt makes [1024, d_vocab] logits (206 MB for GPT-2) and what reads them, and
// the session's onnxruntime arena then stays at that peak. Instead HookedGPT2.readout runs the
// forward once, holding the unembedding's input (unembedInputHook: [batch, pos, d_model], 3 MB),
// and then asks the readouts that allow it (Readout.windows) over windows of at most
// UNEMBED_WINDOW positions, each fed that held input: a small graph with no transformer block, one
// kept session whose arena is sized for one window. This module is the arithmetic of the windows:
// where they fall, the slices fed to each, and how their answers join.
import type { Readout, ReadoutAnswer } from './readouts';

/**
 * Prompts longer than this are unembedded in windows; up to it, in one run (its session, kept,
 * holds the logits of at most this many positions).
 */
export const WINDOWED_ABOVE = 256;

/**
 * Positions a window's readouts answer; its logits are at most UNEMBED_WINDOW + 1 rows per prompt.
 * Measured with the panel memory test's model (GPT-2's vocabulary): windows of 256 left the kept
 * window session's arena at about +200 MiB after a 1,024-token first view (+268 and +301 MiB over
 * the loaded model, against the test's 300), windows of 128 at about +90 (+161, +149).
 */
export const UNEMBED_WINDOW = 128;

export interface PositionWindow {
  /** The positions answered, [from, to). */
  readonly from: number;
  readonly to: number;
  /** The positions fed, [from, fedTo): one more than answered (the last answered row's next token), except at the end. */
  readonly fedTo: number;
}

/**
 * Windows covering [0, pos). A last window of one position would feed a single token, which
 * predicts nothing (a 'meanNext' readout's mean over no positions); it joins the window before.
 */
export function positionWindows(pos: number, size = UNEMBED_WINDOW): PositionWindow[] {
  const out: PositionWindow[] = [];
  for (let from = 0; from < pos; from += size) {
    let to = Math.min(pos, from + size);
    if (pos - to === 1) to = pos; // see above
    out.push({ from, to, fedTo: Math.min(pos, to + 1) });
    if (to === pos) break;
  }
  return out;
}

/** Positions [from, to) of a row-major [batch, pos, ...rest] array. */
export function slicePositions<T extends Float32Array | BigInt64Array>(
  data: T,
  dims: readonly number[],
  from: number,
  to: number,
): { dims: number[]; data: T } {
  const [batch, pos] = dims as [number, number];
  const row = dims.slice(2).reduce((a, d) => a * d, 1);
  const w = to - from;
  if (batch === 1) return { dims: [1, w, ...dims.slice(2)], data: data.subarray(from * row, to * row) as T }; // no copy
  const out = new (data.constructor as new (n: number) => T)(batch * w * row);
  for (let i = 0; i < batch; i++) out.set(data.subarray((i * pos + from) * row, (i * pos + to) * row) as never, i * w * row);
  return { dims: [batch, w, ...dims.slice(2)], data: out };
}

/** One window's answers, by readout key. */
export interface WindowAnswers {
  readonly window: PositionWindow;
  readonly answers: ReadonlyMap<string, ReadoutAnswer>;
}

/**
 * The windows' answers joined, as they arrive, into what one run over every position would have
 * answered. A 'rows' answer (the logits) is copied into its whole-prompt array as each window
 * comes, so a window's piece can go at once: joined at the end, every piece and the whole array
 * existed together (twice the logits: 392 MiB at 1,024 tokens). 'mean' answers are a few numbers
 * per window and are kept until result().
 */
export class WindowJoin {
  private readonly rows = new Map<string, { dims: number[]; data: Float32Array | BigInt64Array }>();
  private readonly means: WindowAnswers[] = [];

  constructor(
    private readonly readouts: readonly Readout[],
    private readonly pos: number,
    private readonly lengths: readonly number[] = [pos],
  ) {}

  add(part: WindowAnswers): void {
    let keep = false;
    for (const r of this.readouts) {
      const a = part.answers.get(r.key);
      if (a === undefined) throw new Error(`internal: no answer for readout ${r.key} in window [${part.window.from}, ${part.window.to})`);
      if (r.windows !== 'rows') {
        keep = true;
        continue;
      }
      for (const [name, piece] of Object.entries(a)) {
        const key = `${r.key}\u0000${name}`;
        const out = this.rows.get(key) ?? wholeRows(piece, this.pos);
        this.rows.set(key, out);
        copyRows(out, piece, part.window, this.pos);
      }
    }
    if (keep) this.means.push(part);
  }

  result(): Map<string, ReadoutAnswer> {
    const joined = new Map<string, ReadoutAnswer>();
    for (const r of this.readouts) {
      const out: Record<string, { dims: readonly number[]; data: Float32Array | BigInt64Array }> = {};
      if (r.windows === 'rows') {
        for (const [key, whole] of this.rows) if (key.startsWith(`${r.key}\u0000`)) out[key.slice(r.key.length + 1)] = whole;
      } else {
        const mine = this.means.map((p) => p.answers.get(r.key)!);
        for (const name of Object.keys(mine[0] ?? {})) {
          out[name] = weightedMean(
            mine.map((a) => a[name]!),
            this.means,
            this.lengths,
            `${r.key}/${name}`,
          );
        }
      }
      joined.set(r.key, out);
    }
    return joined;
  }
}

type Piece = { readonly dims: readonly number[]; readonly data: Float32Array | BigInt64Array };

/** The [batch, pos, ...] array a window's [batch, fed, ...] rows go into. */
function wholeRows(first: Piece, pos: number): { dims: number[]; data: Float32Array | BigInt64Array } {
  const batch = first.dims[0]!;
  const rest = first.dims.slice(2);
  const size = batch * pos * rest.reduce((a, d) => a * d, 1);
  return { dims: [batch, pos, ...rest], data: first.data instanceof Float32Array ? new Float32Array(size) : new BigInt64Array(size) };
}

/** Rows [from, to) of a window's [batch, fed, ...] answer into `out` at their positions. */
function copyRows(
  out: { dims: readonly number[]; data: Float32Array | BigInt64Array },
  p: Piece,
  window: PositionWindow,
  pos: number,
): void {
  const batch = out.dims[0]!;
  const row = out.dims.slice(2).reduce((a, d) => a * d, 1);
  const { from, to, fedTo } = window;
  if (p.dims[0] !== batch || p.dims[1] !== fedTo - from || p.data.constructor !== out.data.constructor) {
    throw new Error(`internal: window [${from}, ${fedTo}) answered [${p.dims.join(', ')}]`);
  }
  const fed = fedTo - from;
  for (let i = 0; i < batch; i++) {
    out.data.set(p.data.subarray(i * fed * row, (i * fed + to - from) * row) as never, (i * pos + from) * row);
  }
}

/**
 * Σ n_k · mean_k / Σ n_k per batch entry, in float64, with n_k the positions window k predicted
 * for that entry: fed − 1, fewer where its prompt ends inside the window (a padded batch), none
 * where it ended before (that window's mean is then over nothing, and skipped).
 */
function weightedMean(
  pieces: readonly { readonly dims: readonly number[]; readonly data: Float32Array | BigInt64Array }[],
  parts: readonly WindowAnswers[],
  lengths: readonly number[],
  what: string,
): { dims: number[]; data: Float32Array } {
  const n = pieces[0]!.data.length;
  const sum = new Float64Array(n);
  const count = new Float64Array(n);
  pieces.forEach((p, k) => {
    if (!(p.data instanceof Float32Array) || p.data.length !== n)
      throw new Error(`internal: window answers of ${what} differ in shape or type`);
    const { from, fedTo } = parts[k]!.window;
    for (let i = 0; i < n; i++) {
      // One prompt widened to the batch (runMetricBatch) has one length for every entry.
      const len = lengths.length === 1 ? lengths[0]! : lengths[i]!;
      const w = Math.max(0, Math.min(fedTo, len) - from - 1);
      if (w === 0) continue;
      sum[i]! += w * p.data[i]!;
      count[i]! += w;
    }
  });
  return { dims: [...pieces[0]!.dims], data: Float32Array.from(sum, (s, i) => s / count[i]!) };
}
