// Which weight tensors are views of float16 bits (ModelOptions.dtype 'fp16', weightDtype.ts). Such
// a tensor's `data` is decoded to float32 on access; code that only needs to name the weight (the
// graph builder: a weight becomes a graph input fed its float16 bits) asks for the source instead
// and decodes nothing. Keyed by the Tensor object, so a tensor made from one ({ ...t }, new data)
// is not taken for a view and is decoded like any other.
import type { Tensor } from './types';

const sources = new WeakMap<Tensor, Uint16Array>();

/** The float16 bits `t` decodes from, or undefined for a tensor that holds its float32 values. */
export function halfSourceOf(t: Tensor): Uint16Array | undefined {
  return sources.get(t);
}

/** Records that `t.data` is `half` decoded (one value per element, same order). */
export function setHalfSource(t: Tensor, half: Uint16Array): void {
  sources.set(t, half);
}
