// A session for an in-memory graph whose weights stay in the caller's arrays: large initializers
// become graph inputs bound to those arrays (onnx/weightInputs.ts), so a session opened on a
// model's weights (a variant, the panel's logit-lens graph) holds no copy of them.
import { encodeModel } from '../onnx/encode';
import type { GraphIR } from '../onnx/ir';
import { liftWeights } from '../onnx/weightInputs';
import { createSession, type CreatedSession, type SessionOptions } from './session';

export function createSharedWeightsSession(graph: GraphIR, opts: Omit<SessionOptions, 'boundInputs'> = {}): Promise<CreatedSession> {
  const lifted = liftWeights(graph);
  return createSession(encodeModel(lifted.graph), { ...opts, boundInputs: lifted.weights });
}
