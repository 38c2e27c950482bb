// A session for an in-memory graph whose weights stay in the caller's arrays: large initializers
// become graph inputs bound to those arrays (onnx/weightInputs.ts), so a session opened on a
// model's weights (a variant, the panel's logit-lens graph) holds no copy of them.
import { encodeModel } from '../onnx/encode';
import type { GraphIR } from '../onnx/ir';
import { liftWeights, type Bf16Decode, type BoundTensor } from '../onnx/weightInputs';
import type { InitializerDef } from '../onnx/ir';
import { createSession, type CreatedSession, type SessionOptions } from './session';

/**
 * `bind` chooses what each weight is fed (DeviceWeights.bind: its copy on the device); by default
 * the initializer's own array, or its 16-bit source (InitializerDef.half). `bf16Decode`: how
 * bfloat16 weights are decoded ('table' unless the session can only run on the CPU).
 */
export function createSharedWeightsSession(
  graph: GraphIR,
  opts: Omit<SessionOptions, 'boundInputs'> & { readonly bind?: (t: InitializerDef) => BoundTensor; readonly bf16Decode?: Bf16Decode } = {},
): Promise<CreatedSession> {
  const { bind, bf16Decode, ...sessionOpts } = opts;
  const lifted = liftWeights(graph, { ...(bind ? { bind } : {}), ...(bf16Decode ? { bf16Decode } : {}) });
  return createSession(encodeModel(lifted.graph), { ...sessionOpts, boundInputs: lifted.weights });
}
