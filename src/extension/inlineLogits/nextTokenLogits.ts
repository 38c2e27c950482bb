// Where inline logits get their numbers: the engine worker's key/value cache for the document,
// with the top-k answered in the graph (EngineClient.nextToken), so typing at the end of a long
// document runs only the new tokens, an edit earlier reruns from the first changed token, and only
// k ids and probabilities cross to the host. No vscode import.
import type { EngineClient } from '../../engine/worker/engineClient';

/** The last position's top-k after `ids`, from `documentKey`'s cache in the worker. */
export async function nextTokenTopK(
  client: EngineClient,
  documentKey: string,
  ids: readonly number[],
  topK: number,
  signal: AbortSignal,
): Promise<{ topIds: Int32Array; topProbs: Float32Array }> {
  return client.nextToken(documentKey, ids, topK, signal);
}
