// The worker messages for generation and inline logits, kept apart from protocol.ts so that
// other request types can be added there without touching these.
import type { StopReason } from '../generate';
import type { SampledToken } from '../sampler';
import type { WireTensor } from './protocol';

/** GenerateOptions without the callbacks and signal, which cannot cross a thread. */
export interface WireGenerateOptions {
  readonly maxNewTokens?: number;
  readonly temperature?: number;
  readonly topK?: number;
  readonly topP?: number;
  readonly seed?: number;
  readonly stopAtEndOfText?: boolean;
}

/** Continues `tokens`; each token is streamed back as a ProgressEnvelope before the reply. Cancellable between tokens. */
export interface GenerateRequest {
  readonly type: 'generate';
  readonly tokens: Int32Array;
  readonly options: WireGenerateOptions;
}

export interface GenerateProgress {
  readonly type: 'token';
  readonly index: number;
  readonly token: SampledToken;
}

export interface GenerateReply {
  readonly type: 'generated';
  readonly tokens: readonly SampledToken[];
  readonly stop: StopReason;
}

/**
 * The next-token logits after `tokens`, from the key/value cache the worker keeps for `document`
 * (any stable key, e.g. a document URI): what the cache already covers is reused, an earlier
 * change drops what follows it. Caches are bounded (documentCaches.ts) and dropped with the model.
 */
export interface NextTokenRequest {
  readonly type: 'nextToken';
  readonly document: string;
  readonly tokens: Int32Array;
}

export interface NextTokenReply {
  readonly type: 'nextToken';
  /** [1, 1, d_vocab_out]: the last position's logits. */
  readonly logits: WireTensor;
  /** Positions reused from the cache (the forward ran tokens.length − reused). */
  readonly reused: number;
}

/** Drops the cache of a closed document. */
export interface ForgetDocumentRequest {
  readonly type: 'forgetDocument';
  readonly document: string;
}
