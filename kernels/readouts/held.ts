// Hook points copied out as they are, for a view that answers later from held copies (the logit
// lens and DLA read a few small [pos, d_model] tensors; holding them costs less than re-running
// the forward). They come out as one flat tensor, the hooks one after another, with each hook's
// shape beside it: one allocation of about 120 MB at 1,024 tokens for GPT-2 small, which the C
// allocator maps on its own and unmaps when it is freed. Dozens of 3 MB arrays would instead be
// carved from glibc's heaps, whose freed space it keeps (docs/ARCHITECTURE.md, "Memory").
import type { HeldActivations } from '../../src/engine/runState';
import type { Readout, ReadoutAnswer } from './readout';

/** The answer holding every hook, flattened and concatenated in the order asked. */
const PACKED = 'packed';
const shapeOf = (hook: string): string => `${hook}:shape`;

export function held(hooks: readonly string[]): Readout {
  return {
    key: `held:${hooks.join(',')}`, // the hooks fix the outputs, so they are part of the key
    params: {},
    emit(g) {
      const b = g.b;
      const flat = hooks.map((h) => b.op('Reshape', [h, b.ints([-1])]));
      g.output(PACKED, flat.length === 1 ? flat[0]! : b.op('Concat', flat, { axis: { i: 0 } }));
      for (const h of hooks) g.output(shapeOf(h), b.op('Shape', [h], undefined, { type: 'int64' }));
    },
  };
}

/** The hooks of a `held(hooks)` answer by name: views into its one buffer, each with its own shape. */
export function heldActivations(hooks: readonly string[], answer: ReadoutAnswer): HeldActivations {
  const packed = answer[PACKED]?.data;
  if (!(packed instanceof Float32Array)) throw new Error(`internal: the held answer has no float32 '${PACKED}'`);
  const out = new Map<string, { readonly dims: readonly number[]; readonly data: Float32Array }>();
  let offset = 0;
  for (const h of hooks) {
    const shape = answer[shapeOf(h)]?.data;
    if (!(shape instanceof BigInt64Array)) throw new Error(`internal: the held answer has no shape for '${h}'`);
    const dims = Array.from(shape, Number);
    const size = dims.reduce((a, d) => a * d, 1);
    out.set(h, { dims, data: packed.subarray(offset, offset + size) });
    offset += size;
  }
  if (offset !== packed.length) throw new Error(`internal: the held answer has ${packed.length} values, its shapes say ${offset}`);
  return out;
}
