// The incremental forward's graph pieces: past keys and values as graph inputs and the
// concatenated keys and values as `present` outputs, named and laid out as transformers.js and
// onnxruntime-genai do for GPT-2 ([batch, n_heads, seq, d_head]), so a cache handed between
// steps is the tensors themselves. The past length is read from the first past input's shape, so
// one session serves every past length (0 included).
import type { GraphBuilder } from '../src/engine/onnx/builder';

export function pastKeyName(L: number): string {
  return `past_key_values.${L}.key`;
}
export function pastValueName(L: number): string {
  return `past_key_values.${L}.value`;
}
export function presentKeyName(L: number): string {
  return `present.${L}.key`;
}
export function presentValueName(L: number): string {
  return `present.${L}.value`;
}

/** One layer's past inputs and the names its present outputs take. */
export interface LayerPast {
  /** [batch, n_heads, past, d_head] */
  readonly key: string;
  readonly value: string;
  readonly presentKey: string;
  readonly presentValue: string;
  /** int64 scalar: how many positions the past covers (shared by every layer). */
  readonly length: string;
}

/** Declares every layer's past inputs (float32 [batch, n_heads, past, d_head]) and returns them per layer. */
export function declarePast(b: GraphBuilder, nLayers: number, nHeads: number, dHead: number): LayerPast[] {
  const layers: { key: string; value: string; presentKey: string; presentValue: string }[] = [];
  for (let L = 0; L < nLayers; L++) {
    layers.push({
      key: b.input(pastKeyName(L), 'float32', ['batch', nHeads, 'past', dHead]),
      value: b.input(pastValueName(L), 'float32', ['batch', nHeads, 'past', dHead]),
      presentKey: presentKeyName(L),
      presentValue: presentValueName(L),
    });
  }
  const first = layers[0]?.key;
  if (first === undefined) throw new Error('internal: a model without layers has no past');
  const shape = b.op('Shape', [first], undefined, { type: 'int64' }); // [4]
  const length = b.op('Gather', [shape, b.constant('int64', [2], [])], { axis: { i: 0 } }); // scalar past
  return layers.map((l) => ({ ...l, length }));
}

/** Positions past..past+pos-1 of `x`'s axis 1, as int64 [pos]; computed once per graph. */
export function absolutePositions(b: GraphBuilder, x: string, pastLength: string): string {
  return b.once('absolute_positions', () => {
    const shape = b.op('Shape', [x], undefined, { type: 'int64' });
    const n = b.op('Gather', [shape, b.constant('int64', [1], [])], { axis: { i: 0 } }); // scalar pos
    const end = b.op('Add', [pastLength, n]);
    return b.op('Range', [pastLength, end, b.constant('int64', [1], [])]); // [pos]
  });
}

/**
 * The causal mask of new queries over past and new keys, [query_pos, key_pos = past + pos]:
 * true where the key's absolute position ≤ the query's. Computed once per graph.
 */
export function causalMaskWithPast(b: GraphBuilder, x: string, pastLength: string): string {
  return b.once('causal_mask_past', () => {
    const q = absolutePositions(b, x, pastLength); // [pos], absolute
    const shape = b.op('Shape', [x], undefined, { type: 'int64' });
    const n = b.op('Gather', [shape, b.constant('int64', [1], [])], { axis: { i: 0 } });
    const total = b.op('Add', [pastLength, n]);
    const k = b.op('Range', [b.constant('int64', [0], []), total, b.constant('int64', [1], [])]); // [past + pos]
    const qCol = b.op('Unsqueeze', [q, b.ints([1])]); // [pos, 1]
    const kRow = b.op('Unsqueeze', [k, b.ints([0])]); // [1, past + pos]
    return b.op('GreaterOrEqual', [qCol, kRow], undefined, { type: 'bool' }); // [pos, past + pos]
  });
}

/**
 * Appends this step's keys or values, [batch, pos, head_index, d_head] after their hook, to the
 * past [batch, n_heads, past, d_head]; the result is the named `present` output.
 */
export function appendPast(b: GraphBuilder, past: string, fresh: string, presentName: string): string {
  const byHead = b.op('Transpose', [fresh], { perm: { ints: [0, 2, 1, 3] } }); // [batch, head_index, pos, d_head]
  return b.op('Concat', [past, byHead], { axis: { i: 2 } }, { out: presentName }); // [batch, n_heads, past + pos, d_head]
}

/** The slice graph's input: int64 [1], how many leading positions to keep. */
export const PAST_KEEP_INPUT = 'past_keep';

/**
 * The first `past_keep` positions of every layer's past, as `present` outputs: how a cache whose
 * tensors stay on the device is truncated after an edit (they cannot be read back and cut in
 * JavaScript, so the cut runs where they are).
 */
export function emitPastSlice(b: GraphBuilder, nLayers: number, nHeads: number, dHead: number): void {
  const keep = b.input(PAST_KEEP_INPUT, 'int64', [1]);
  const zero = b.ints([0]);
  const axis = b.ints([2]);
  for (let L = 0; L < nLayers; L++) {
    for (const [from, to] of [
      [pastKeyName(L), presentKeyName(L)],
      [pastValueName(L), presentValueName(L)],
    ] as const) {
      const past = b.input(from, 'float32', ['batch', nHeads, 'past', dHead]);
      b.op('Slice', [past, zero, keep, axis], undefined, { out: to });
      b.output(to, ['batch', nHeads, 'keep', dHead]);
    }
  }
}
