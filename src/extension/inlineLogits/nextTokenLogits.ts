// Where inline logits get their numbers: the engine worker's key/value cache for the document
// (EngineClient.nextToken), so typing at the end of a long document runs only the new tokens and
// an edit earlier reruns from the first changed token. No vscode import.
import type { EngineClient } from '../../engine/worker/engineClient';
import type { Tensor } from '../../engine/types';

/** The last position's logits after `ids` ([1, 1, d_vocab_out]), from `documentKey`'s cache in the worker. */
export async function nextTokenLogits(
  client: EngineClient,
  documentKey: string,
  ids: readonly number[],
  signal: AbortSignal,
): Promise<Tensor> {
  return (await client.nextToken(documentKey, ids, signal)).logits;
}
