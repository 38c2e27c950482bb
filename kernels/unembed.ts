// Unembedding (TransformerLens components/unembed.py): logits = x·W_U + b_U; a tied checkpoint's
// W_U is read through W_E (src/engine/tiedUnembed.ts).
// TransformerLens 3.x hooks its input and output (unembed.py:30-31, 36, 40 @v3.5.1; added in
// commit 5fc23e7c, PR #1131): hook_in is ln_final's output [batch, pos, d_model], hook_out the
// logits [batch, pos, d_vocab_out]. TransformerLens 2.x's Unembed has no hook points.
import type { GraphBuilder, HookDecl } from '../src/engine/onnx/builder';
import { halfSourceOf } from '../src/engine/halfSource';
import { graphTensors } from '../src/engine/tiedUnembed';
import type { GPT2Weights, HookedGPT2Config, Tensor } from '../src/engine/types';

type UnembedCfg = Pick<HookedGPT2Config, 'transformer_lens_version'>;

/** The logits hook: a graph that unembeds only the last position has no full-size tensor for it. */
export const UNEMBED_HOOK_OUT = 'unembed.hook_out';

export function unembedHooks(cfg: UnembedCfg): HookDecl[] {
  if ((cfg.transformer_lens_version ?? '3.x') === '2.x') return [];
  return [
    { name: 'unembed.hook_in', dims: ['batch', 'pos', 'd_model'] },
    { name: UNEMBED_HOOK_OUT, dims: ['batch', 'pos', 'd_vocab_out'] },
  ];
}

/**
 * The hook point the unembedding reads, whole: its value at a position fixes that position's
 * logits. 3.x: unembed.hook_in; 2.x has no unembed hooks, and its ln_final.hook_normalized is
 * LayerNorm's output after the gain and bias (kernels/layerNorm.ts), which is what the unembedding
 * reads. HookedGPT2.readout holds it to unembed a long prompt in windows of positions.
 */
export function unembedInputHook(cfg: UnembedCfg): string {
  return (cfg.transformer_lens_version ?? '3.x') === '2.x' ? 'ln_final.hook_normalized' : 'unembed.hook_in';
}

/**
 * x [batch, pos, d_model] → logits under the graph name `out`: [batch, pos, d_vocab_out], or
 * [batch, 1, d_vocab_out] with `lastOnly` (hook_in still sees every position; hook_out is not
 * emitted, since no full-size logits exist: HookedGPT2 runs the full graph when it is asked for).
 * `lastIndex` (int64 [batch]): in a right-padded batch, each prompt's own last real position,
 * which `lastOnly` unembeds instead of the batch's last.
 */
export function emitUnembed(
  b: GraphBuilder,
  cfg: UnembedCfg,
  x: string,
  w: UnembedWeights,
  out: string,
  lastOnly: boolean,
  lastIndex?: string,
): string {
  const [hookIn, hookOut] = unembedHooks(cfg);
  let input = hookIn ? b.hook(hookIn, x) : x; // [batch, pos, d_model]
  if (lastOnly)
    input =
      lastIndex === undefined
        ? b.op('Slice', [input, b.ints([-1]), b.ints([Number.MAX_SAFE_INTEGER]), b.ints([1])])
        : rowAt(b, input, lastIndex); // [batch, 1, d_model]
  const logits = unembed(b, w, input);
  if (hookOut === undefined || lastOnly) return b.op('Identity', [logits], undefined, { out });
  return b.op('Identity', [b.hook(hookOut, logits)], undefined, { out });
}

/** What the unembedding reads: W_U and b_U, or for a tied checkpoint W_E and the tie's vectors. */
export type UnembedWeights = Pick<GPT2Weights, 'W_E' | 'W_U' | 'b_U' | 'tiedUnembed'>;

/** A weight's initializer, added the first time a graph asks for it (the forward and its readouts share one). */
function weightOnce(b: GraphBuilder, name: string, t: Tensor): string {
  return b.has(name) ? name : b.weight(name, t);
}

/**
 * x [.., d_model] → x·W_U + b_U [.., d_vocab_out]: every graph user of the unembedding goes
 * through here (the logits, the logit lens, its last-position reading). Untied: one MatMul with
 * W_U. Tied: Gemm with W_E transposed (transB, so no transposed copy exists anywhere) on x∘a,
 * plus the tie's rank-K correction (x·P)·Q and b_U as Gemm's C (src/engine/tiedUnembed.ts).
 */
export function unembed(b: GraphBuilder, w: UnembedWeights, x: string, sliceBytes = VOCAB_SLICE_BYTES): string {
  const bU = weightOnce(b, 'unembed.b_U', w.b_U); // [d_vocab_out]
  if (w.tiedUnembed === undefined) {
    const W_U = weightOnce(b, 'unembed.W_U', w.W_U); // [d_model, d_vocab_out]
    const cols = vocabSlices(w.W_U, 1, sliceBytes).map(([lo, hi]) => sliceAxis(b, W_U, 1, lo, hi, w.W_U.dims[1]!));
    const product =
      cols.length === 1
        ? b.op('MatMul', [x, cols[0]!])
        : concatLast(
            b,
            cols.map((c) => b.op('MatMul', [x, c])),
          );
    return b.op('Add', [product, bU]);
  }
  const [d_vocab, d_model] = w.W_E.dims as [number, number];
  const t = graphTensors(w.tiedUnembed, d_model, d_vocab);
  const wE = weightOnce(b, 'embed.W_E', w.W_E); // [d_vocab, d_model]
  const shape = b.op('Shape', [x], undefined, { type: 'int64' });
  const rows = b.op('Reshape', [x, b.ints([-1, d_model])]); // [M, d_model]
  const y = t.scale === null ? rows : b.op('Mul', [rows, weightOnce(b, 'unembed.tie_scale', t.scale)]);
  let c = bU; // Gemm's C, broadcast over the M rows
  if (t.P !== null && t.Q !== null) {
    const coef = b.op('MatMul', [rows, weightOnce(b, 'unembed.tie_P', t.P)]); // [M, K]
    c = b.op('Add', [b.op('MatMul', [coef, weightOnce(b, 'unembed.tie_Q', t.Q)]), bU]); // [M, d_vocab]
  }
  // One Gemm per vocabulary slice of W_E (one for float32 weights), each with its slice of C.
  const parts = vocabSlices(w.W_E, 0, sliceBytes).map(([lo, hi]) =>
    b.op('Gemm', [y, sliceAxis(b, wE, 0, lo, hi, d_vocab), sliceAxis(b, c, c === bU ? 0 : 1, lo, hi, d_vocab)], { transB: { i: 1 } }),
  );
  const flat = parts.length === 1 ? parts[0]! : concatLast(b, parts); // [M, d_vocab]
  const outShape = b.op('Concat', [b.op('Slice', [shape, b.ints([0]), b.ints([-1]), b.ints([0])]), b.ints([d_vocab])], { axis: { i: 0 } });
  return b.op('Reshape', [flat, outShape]); // [.., d_vocab_out]
}

/**
 * Float32 bytes of one vocabulary slice of a 16-bit unembedding. Such a weight is fed narrow and
 * decoded to float32 in the graph, and a whole decode of W_E is 147 MiB at gpt2-small (196 at
 * medium) on every run, kept afterwards in the session's arena. Sliced, one slice's decode exists
 * at a time (weightInputs.ts gates each on its reader), and the arena keeps one slice's worth.
 */
export const VOCAB_SLICE_BYTES = 8 * 2 ** 20;

/** [lo, hi) ranges along `axis` (the vocabulary) of `t`: one whole range unless `t` is half-stored and large. */
function vocabSlices(t: Tensor, axis: number, sliceBytes: number): [number, number][] {
  const n = t.dims[axis]!;
  const bytes = t.dims.reduce((a, d) => a * d, 1) * Float32Array.BYTES_PER_ELEMENT;
  const count = halfSourceOf(t) === undefined ? 1 : Math.max(1, Math.floor(bytes / sliceBytes));
  const step = Math.ceil(n / count);
  return Array.from({ length: Math.ceil(n / step) }, (_, k) => [k * step, Math.min(n, (k + 1) * step)]);
}

/** `x`'s [lo, hi) along `axis`; `x` itself when that is all of it (size n). */
function sliceAxis(b: GraphBuilder, x: string, axis: number, lo: number, hi: number, n: number): string {
  return lo === 0 && hi === n ? x : b.op('Slice', [x, b.ints([lo]), b.ints([hi]), b.ints([axis])]);
}

function concatLast(b: GraphBuilder, parts: readonly string[]): string {
  return b.op('Concat', [...parts], { axis: { i: -1 } });
}

/**
 * W_U's columns for `tokens` (int64 [n]) as [d_model, n], without materialising W_U: a Gather of
 * W_U's columns, or tied, of W_E's rows with the tie's corrections (a∘E[t] + P·Q[:, t]).
 */
export function unembedColumns(b: GraphBuilder, w: UnembedWeights, tokens: string): string {
  if (w.tiedUnembed === undefined) return b.op('Gather', [weightOnce(b, 'unembed.W_U', w.W_U), tokens], { axis: { i: 1 } });
  const [d_vocab, d_model] = w.W_E.dims as [number, number];
  const t = graphTensors(w.tiedUnembed, d_model, d_vocab);
  const rows = b.op('Gather', [weightOnce(b, 'embed.W_E', w.W_E), tokens], { axis: { i: 0 } }); // [n, d_model]
  let cols = b.op('Transpose', [rows], { perm: { ints: [1, 0] } }); // [d_model, n]
  if (t.scale !== null) cols = b.op('Mul', [cols, b.op('Unsqueeze', [weightOnce(b, 'unembed.tie_scale', t.scale), b.ints([1])])]);
  if (t.P !== null && t.Q !== null) {
    const q = b.op('Gather', [weightOnce(b, 'unembed.tie_Q', t.Q), tokens], { axis: { i: 1 } }); // [K, n]
    cols = b.op('Add', [cols, b.op('MatMul', [weightOnce(b, 'unembed.tie_P', t.P), q])]);
  }
  return cols;
}

/** x [batch, pos, d] → [batch, 1, d]: entry i's row at index[i] (int64 [batch]). */
export function rowAt(b: GraphBuilder, x: string, index: string): string {
  const width = b.op('Slice', [b.op('Shape', [x], undefined, { type: 'int64' }), b.ints([2]), b.ints([3]), b.ints([0])]); // [1]: d
  const shape = b.op('Concat', [b.ints([1, 1]), width], { axis: { i: 0 } }); // [1, 1, d]
  const idx = b.op('Expand', [b.op('Reshape', [index, b.ints([-1, 1, 1])]), shape]); // [batch, 1, d]
  return b.op('GatherElements', [x, idx], { axis: { i: 1 } });
}
