// Messages between EngineClient (extension host, CLI) and the engine worker thread. Tensors
// travel as Float32Array with their dims, moved with transfer lists, never as JSON numbers.
import type { HookDecl } from '../hookPoints';
import type { AppliedProcessing, LoadProgress, ModelOptions } from '../model';
import type { Intervention } from '../interventions';
import type { ExecutionProviderName, HookedGPT2Config } from '../types';
import type { PanelOp, PanelResult } from './panelCompute';
import type {
  GenerateRequest,
  GenerateReply,
  GenerateProgress,
  NextTokenRequest,
  NextTokenReply,
  ForgetDocumentRequest,
} from './generationProtocol';
import type { TensorOp, TensorResult } from './tensorOps';
import type { PredictReply, PredictRequest } from './predictCompute';

export type { PredictReply, PredictRequest } from './predictCompute';
import type { ExperimentOp, ExperimentResult } from './experimentCompute';

export interface WireTensor {
  readonly dims: readonly number[];
  readonly data: Float32Array;
}

/**
 * The load options a worker accepts: ModelOptions less the two the engine decides per provider
 * (graph optimisation level and how sessions get the weights), so the extension cannot pick a
 * combination that no test covers. Everything in it can cross a thread.
 */
export type WorkerModelOptions = Omit<ModelOptions, 'optimization' | 'weightStorage'>;

export type WorkerRequest =
  | { readonly type: 'load'; readonly folder: string; readonly options: WorkerModelOptions }
  | {
      readonly type: 'run';
      readonly tokens: Int32Array;
      /** Exact names and/or globs; absent = no activations. */
      readonly names?: readonly string[];
      readonly interventions?: readonly Intervention[];
      /** 'last': logits of the last position only ([1, 1, d_vocab]), for next-token views. */
      readonly logitsAt?: 'all' | 'last';
    }
  | { readonly type: 'cancel'; readonly target: number }
  /** The activation panel's requests (panelCompute.ts): summaries of a run held in the worker. */
  | { readonly type: 'panel'; readonly op: PanelOp }
  /** The tensor view's and the sidebar's requests (tensorOps.ts): held tensors, slices, nearest tokens, memory. */
  | { readonly type: 'tensor'; readonly op: TensorOp }
  /** Batched experiments (experimentCompute.ts): patching sweeps, head detection. */
  | { readonly type: 'experiment'; readonly op: ExperimentOp }
  | { readonly type: 'dispose' }
  /** Generation and per-document incremental next-token logits (generationProtocol.ts). */
  | GenerateRequest
  | NextTokenRequest
  | ForgetDocumentRequest
  /** Next-token predictions answered in the graph (predictCompute.ts): only what the editor shows. */
  | PredictRequest
  | FaultRequest;

/**
 * FOR TESTS ONLY: makes the worker fail the way a real fault would, so the supervision in
 * EngineClient is tested against a thread that really dies or really stops answering. Handled on
 * arrival (never queued) and never answered. `during: 'now'` acts at once, between whatever the
 * worker is doing; 'nextRun' arms it for the next run request, which then fails inside its forward
 * pass (at the first layer's hook_resid_mid, after part of the graph has run).
 * - exit: process.exit(code) in the worker (as an abort() in native code or an OOM kill ends it);
 * - throw: an uncaught exception (the worker's 'error' event, then exit code 1);
 * - hang: a synchronous loop that never returns, standing in for one long native segment (only
 *   ending the thread stops it).
 */
export interface FaultRequest {
  readonly type: 'fault';
  readonly fault: 'exit' | 'throw' | 'hang';
  readonly during: 'now' | 'nextRun';
  /** Exit code for 'exit' (default 70). */
  readonly code?: number;
}

export interface LoadedReply {
  readonly type: 'loaded';
  readonly cfg: HookedGPT2Config;
  readonly hookPoints: readonly HookDecl[];
  readonly provider: ExecutionProviderName;
  readonly notice: string | null;
  /** What loading found worth saying but not refusing (non-finite weights, by tensor name). */
  readonly warnings: readonly string[];
  /** The from_pretrained switches the weights went through, and any step skipped with a warning. */
  readonly processing: AppliedProcessing | null;
  /** The weights were read from the processed-weights cache (ModelOptions.processedWeightsCache), not processed. */
  readonly fromProcessedCache: boolean;
}

export interface RunReply {
  readonly type: 'result';
  readonly logits: WireTensor;
  readonly activations: readonly (WireTensor & { readonly name: string })[];
}

export interface DisposedReply {
  readonly type: 'disposed';
  /** onnxruntime sessions still open after disposal (0 when everything was released). */
  readonly openSessions: number;
}

export interface ErrorReply {
  readonly type: 'error';
  readonly name: string;
  readonly message: string;
}

export interface PanelReply {
  readonly type: 'panel';
  readonly result: PanelResult;
}

export interface ExperimentReply {
  readonly type: 'experiment';
  readonly result: ExperimentResult;
}

export interface TensorReply {
  readonly type: 'tensor';
  readonly result: TensorResult;
}

export type WorkerReply =
  | TensorReply
  | ExperimentReply
  | PredictReply
  | PanelReply
  | LoadedReply
  | RunReply
  | DisposedReply
  | ErrorReply
  | GenerateReply
  | NextTokenReply
  | { readonly type: 'cancelled' }
  | { readonly type: 'forgotten' };

export interface RequestEnvelope {
  readonly id: number;
  readonly body: WorkerRequest;
}

export interface ReplyEnvelope {
  readonly inReplyTo: number;
  readonly body: WorkerReply;
}

/**
 * Sent by the worker, unasked, just before a reply when the loaded model changed provider since
 * the last report (a GPU provider failed while running and the model moved to the CPU).
 */
export interface ProviderEvent {
  readonly type: 'provider';
  readonly provider: ExecutionProviderName;
  readonly notice: string | null;
}

export interface EventEnvelope {
  readonly event: ProviderEvent;
}

/** A `load` request's progress: one stage of HookedGPT2.fromPretrained (LoadProgress). */
export type LoadProgressMessage = { readonly type: 'load' } & LoadProgress;

/** What a request reports while it runs: a generation's tokens, a load's stages. */
export type WorkerProgress = GenerateProgress | LoadProgressMessage;

/** Sent by the worker while a request runs, before its reply (a `generate` request's tokens, a `load` request's stages). */
export interface ProgressEnvelope {
  readonly inReplyTo: number;
  readonly progress: WorkerProgress;
}

/** Which reply a request type resolves to. */
export interface ReplyFor {
  load: LoadedReply;
  run: RunReply;
  dispose: DisposedReply;
  cancel: { readonly type: 'cancelled' };
  panel: PanelReply;
  generate: GenerateReply;
  nextToken: NextTokenReply;
  forgetDocument: { readonly type: 'forgotten' };
  tensor: TensorReply;
  predict: PredictReply;
  experiment: ExperimentReply;
  fault: never;
}
