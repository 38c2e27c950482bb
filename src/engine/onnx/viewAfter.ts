// Ordering without a data dependency. Where a node sits in an ONNX graph does not decide when
// onnxruntime runs it, and ONNX has no control edges, so "compute x only after `after` exists"
// is written as data: a Reshape of x to its own shape, that shape being Shape(x) plus
// Size(after) − Size(after). It changes no value (a Reshape is a view) but cannot run before
// `after` does. Used to pool each layer's attention pattern before the next layer starts
// (readouts.ts orderBefore) and to decode each 16-bit weight just before its reader
// (weightInputs.ts).
import type { ElemType, NodeDef } from './ir';

/**
 * The nodes that make `out`, a view of `x` (type `type`) computed once `after` exists; each new
 * value is named `out` + a suffix and its type set in `types`.
 */
export function viewAfter(x: string, after: string, out: string, type: ElemType, types: Map<string, ElemType>): NodeDef[] {
  const name = (s: string): string => `${out}::${s}`;
  for (const s of ['size', 'zero', 'shape', 'same']) types.set(name(s), 'int64');
  types.set(out, type);
  return [
    { op: 'Size', name: name('Size'), inputs: [after], outputs: [name('size')] },
    { op: 'Sub', name: name('Sub'), inputs: [name('size'), name('size')], outputs: [name('zero')] },
    { op: 'Shape', name: name('Shape'), inputs: [x], outputs: [name('shape')] },
    { op: 'Add', name: name('Add'), inputs: [name('shape'), name('zero')], outputs: [name('same')] },
    { op: 'Reshape', name: name('Reshape'), inputs: [x, name('same')], outputs: [out] },
  ];
}
