// A session for an in-memory graph whose weights stay in the caller's arrays: large initializers
// become graph inputs bound to those arrays (onnx/weightInputs.ts), so a session opened on a
// model's weights (a variant, the panel's logit-lens graph) holds no copy of them.
import { encodeModel } from '../onnx/encode';
import type { GraphIR } from '../onnx/ir';
import { liftWeights, type BoundTensor } from '../onnx/weightInputs';
import type { InitializerDef } from '../onnx/ir';
import { createSession, type CreatedSession, type SessionOptions } from './session';

/** `bind` chooses what each weight is fed (DeviceWeights.bind: its copy on the device); by default the initializer's own array, or its float16 source (InitializerDef.half). */
export function createSharedWeightsSession(
  graph: GraphIR,
  opts: Omit<SessionOptions, 'boundInputs'> & { readonly bind?: (t: InitializerDef) => BoundTensor } = {},
): Promise<CreatedSession> {
  const { bind, ...sessionOpts } = opts;
  const lifted = liftWeights(graph, bind ? { bind } : {});
  return createSession(encodeModel(lifted.graph), { ...sessionOpts, boundInputs: lifted.weights });
}
