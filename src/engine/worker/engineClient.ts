// The extension's (and CLI's) handle on the engine worker: typed requests, AbortSignal
// cancellation, tensors as Float32Array. No vscode import.
//
// The client supervises its worker thread. When the thread dies without being asked to (an
// uncaught error, running out of memory, process.exit in native code), the requests it held
// reject with EngineWorkerError naming the reason, and the next request starts a new thread and
// loads the last model again; after `maxRestarts` deaths within `restartWindowMs` it stops
// restarting and says so until resetRestarts(). A thread busy in one long onnxruntime call cannot
// be interrupted from inside (onnxruntime-node runs a session synchronously on the worker's own
// thread and its binding ignores RunOptions.terminate), so dispose, and a cancel that the run does
// not honour within `cancelGraceMs` (when one is set), end the thread instead of waiting for the run: at the end of
// the onnxruntime call in progress, never inside it (that aborts the process; see nativeGate.ts).
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { Intervention } from '../interventions';
import { ortEnvironmentForWorkers } from '../ort/environment';
import { closeNativeGate, createNativeGate } from '../ort/nativeGate';
import type { Tensor } from '../types';
import type { ExperimentOp, ExperimentResult } from './experimentCompute';
import type { PanelOp, PanelResult } from './panelCompute';
import type { GenerateProgress, GenerateReply, WireGenerateOptions } from './generationProtocol';
import type { TensorOp, TensorResult } from './tensorOps';
import type {
  EventEnvelope,
  FaultRequest,
  LoadedReply,
  ProgressEnvelope,
  ProviderEvent,
  PredictReply,
  ReplyEnvelope,
  ReplyFor,
  WorkerModelOptions,
  WorkerProgress,
  WorkerReply,
  WorkerRequest,
} from './protocol';
import type { LoadProgress } from '../model';
import { abortError, isAbortError } from '../../common/errors';

export type { LoadedReply, PredictReply, ProviderEvent, WorkerModelOptions } from './protocol';
export type { LoadProgress } from '../model';

/** A load's progress message without its wire tag. */
function loadStage(p: Extract<WorkerProgress, { type: 'load' }>): LoadProgress {
  return {
    stage: p.stage,
    ...(p.done !== undefined ? { done: p.done } : {}),
    ...(p.total !== undefined ? { total: p.total } : {}),
  };
}

/** Why the worker thread ended without being asked to, as handed to onWorkerDied. */
export interface WorkerDeath {
  /** "exit code 70", or the uncaught error's message with the exit code. */
  readonly reason: string;
  /** Requests that were in flight and rejected with EngineWorkerError. */
  readonly inFlight: number;
  /** Restarts still allowed in the current window; 0 with `exhausted` means none until resetRestarts(). */
  readonly restartsLeft: number;
  /** True when this death used up the restarts: requests are refused until resetRestarts(). */
  readonly exhausted: boolean;
}

export interface EngineClientOptions {
  /** The worker script; defaults to engineWorker.js beside this bundle (dist/). */
  readonly workerPath?: string;
  /** Extra node flags for the worker thread. */
  readonly execArgv?: readonly string[];
  /** Called when the loaded model changes provider at run time (before the reply that caused it). */
  readonly onProviderChange?: (e: ProviderEvent) => void;
  /** Called when the worker thread died without being asked to (after its requests were rejected). */
  readonly onWorkerDied?: (d: WorkerDeath) => void;
  /** Called when a new thread has loaded the last model again (its provider may differ). */
  readonly onWorkerRestarted?: (info: LoadedReply) => void;
  /** Restarts allowed within restartWindowMs (default 3 in 60,000 ms). */
  readonly maxRestarts?: number;
  readonly restartWindowMs?: number;
  /**
   * How long a cancelled request that the worker is running may take to stop at its next graph
   * segment before the thread is ended and started afresh (0 ends it at once). Requests queued
   * behind it are sent again to the new thread. Default: never. The thread can only be ended
   * between onnxruntime calls (nativeGate.ts), which is where a cancelled run stops by itself, so
   * ending it would save nothing and cost a model reload (seconds for gpt2-small); every keystroke
   * of inline logits cancels a run, so that cost would be paid while typing.
   */
  readonly cancelGraceMs?: number;
  /** Appended to the message that refuses requests once the restarts are used up (where the log is, how to retry). */
  readonly exhaustedHint?: string;
  /** The clock of the restart window (tests pass a fixed one). */
  readonly now?: () => number;
}

export interface EngineRunResult {
  readonly logits: Tensor;
  readonly activations: ReadonlyMap<string, Tensor>;
}

/** The worker thread died, or died too often to be restarted; `reason` says how. */
export class EngineWorkerError extends Error {
  constructor(
    message: string,
    readonly reason: string,
    readonly exhausted: boolean,
  ) {
    super(message);
    this.name = 'EngineWorkerError';
  }
}

/** One request from the caller's side; outlives a thread when it is sent again after a restart. */
interface Call {
  readonly body: WorkerRequest;
  readonly signal: AbortSignal | undefined;
  resolve(body: WorkerReply): void;
  reject(err: Error): void;
  /** The id it has on the thread it was last sent to. */
  id: number;
  /** Receives the request's progress messages (a generation's tokens), if it has any. */
  readonly onProgress?: (p: WorkerProgress) => void;
}

/** One worker thread and what it holds. */
interface Thread {
  readonly worker: Worker;
  /** Requests sent to this thread and not yet answered, in the order sent (the worker's FIFO order). */
  readonly pending: Map<number, Call>;
  /** Cancelled requests the worker was running: their grace timers, until the worker answers. */
  readonly stopping: Map<number, ReturnType<typeof setTimeout>>;
  readonly exited: Promise<number>;
  /** Counts the thread's calls into onnxruntime; closed before the thread is ended. */
  readonly gate: SharedArrayBuffer;
  /** Set when this side ends the thread (dispose, interrupt): its exit is not a death. */
  ending: boolean;
  error: Error | null;
  alive: boolean;
}

/** Ends a thread once it is outside onnxruntime's native code (ending it inside aborts the process). */
async function endThread(thread: Thread): Promise<void> {
  await closeNativeGate(thread.gate);
  await thread.worker.terminate();
}

export class EngineClient {
  private thread: Thread | null = null;
  /** The thread started last (alive or not), for `exited`. */
  private latest: Thread;
  private starting: Promise<Thread> | null = null;
  private nextId = 1;
  private disposed = false;
  /** The last model loaded, loaded again into a restarted thread. */
  private lastLoad: { readonly folder: string; readonly options: WorkerModelOptions } | null = null;
  /** When recent deaths happened (this side's clock), for the restart limit. */
  private deaths: number[] = [];
  private lastDeath: string | null = null;
  private threadsStarted = 0;
  private readonly maxRestarts: number;
  private readonly restartWindowMs: number;
  private readonly cancelGraceMs: number;
  private readonly now: () => number;

  constructor(private readonly opts: EngineClientOptions = {}) {
    this.maxRestarts = opts.maxRestarts ?? 3;
    this.restartWindowMs = opts.restartWindowMs ?? 60_000;
    this.cancelGraceMs = opts.cancelGraceMs ?? Number.POSITIVE_INFINITY;
    this.now = opts.now ?? Date.now;
    this.latest = this.startThread();
    this.thread = this.latest;
  }

  /** Resolves with the exit code when the current (or last) worker thread has exited. */
  get exited(): Promise<number> {
    return this.latest.exited;
  }

  /** Worker threads started so far (1 until a death, interrupt or restart). */
  get workersStarted(): number {
    return this.threadsStarted;
  }

  /** Whether a worker thread is running now. */
  get workerAlive(): boolean {
    return this.thread?.alive ?? false;
  }

  /** Requests sent and not yet answered (an idle unload waits while there are any). */
  get inFlight(): number {
    return this.thread?.pending.size ?? 0;
  }

  /** Forgets past deaths, so a refused client starts a worker again on the next request (the user's retry). */
  resetRestarts(): void {
    this.deaths = [];
  }

  private startThread(): Thread {
    this.threadsStarted++;
    const gate = createNativeGate();
    // onnxruntime in the worker reads the process's real environment (getenv), which only the main thread can set.
    ortEnvironmentForWorkers();
    const worker = new Worker(this.opts.workerPath ?? join(__dirname, 'engineWorker.js'), {
      execArgv: [...(this.opts.execArgv ?? [])],
      workerData: { nativeGate: gate },
    });
    const thread: Thread = {
      worker,
      gate,
      pending: new Map(),
      stopping: new Map(),
      exited: new Promise((resolve) => worker.once('exit', resolve)),
      ending: false,
      error: null,
      alive: true,
    };
    worker.on('message', (m: ReplyEnvelope | EventEnvelope | ProgressEnvelope) => this.onMessage(thread, m));
    // An uncaught error in the worker: 'exit' (code 1) follows; keep the error for the reason.
    worker.on('error', (err) => (thread.error ??= err));
    worker.once('exit', (code) => this.onExit(thread, code));
    return thread;
  }

  private onMessage(thread: Thread, m: ReplyEnvelope | EventEnvelope | ProgressEnvelope): void {
    if ('progress' in m) {
      try {
        thread.pending.get(m.inReplyTo)?.onProgress?.(m.progress);
      } catch {
        // A listener's bug must not stop the replies that follow.
      }
      return;
    }
    if ('event' in m) {
      if (thread !== this.thread) return; // a thread being ended says nothing about the current one
      try {
        this.opts.onProviderChange?.(m.event);
      } catch {
        // A listener's bug must not stop the replies that follow.
      }
      return;
    }
    const timer = thread.stopping.get(m.inReplyTo);
    if (timer !== undefined) {
      // The cancelled run stopped at a segment boundary (or finished): no need to end the thread.
      clearTimeout(timer);
      thread.stopping.delete(m.inReplyTo);
    }
    const call = thread.pending.get(m.inReplyTo);
    if (call === undefined) return; // already cancelled on this side
    thread.pending.delete(m.inReplyTo);
    if (m.body.type === 'error') {
      const e = new Error(m.body.message);
      e.name = m.body.name;
      call.reject(e);
    } else {
      call.resolve(m.body);
    }
  }

  private onExit(thread: Thread, code: number): void {
    thread.alive = false;
    for (const t of thread.stopping.values()) clearTimeout(t);
    thread.stopping.clear();
    if (this.thread === thread) this.thread = null;
    if (thread.ending) {
      // Ended on purpose: whatever is still pending was handled by whoever ended it.
      for (const call of thread.pending.values()) call.reject(abortError('the request (the engine worker was stopped)'));
      thread.pending.clear();
      return;
    }
    const reason = thread.error ? `${thread.error.message} (exit code ${code})` : `exit code ${code}`;
    this.lastDeath = reason;
    const t = this.now();
    this.deaths = [...this.deaths.filter((d) => t - d < this.restartWindowMs), t];
    const restartsLeft = Math.max(0, this.maxRestarts - this.deaths.length);
    const exhausted = this.deaths.length > this.maxRestarts;
    const inFlight = thread.pending.size;
    const err = new EngineWorkerError(
      `the engine worker stopped (${reason}) while ${inFlight} request(s) were in flight; the next request starts a new one and reloads the model`,
      reason,
      false,
    );
    for (const call of thread.pending.values()) call.reject(err);
    thread.pending.clear();
    if (this.disposed) return;
    try {
      this.opts.onWorkerDied?.({ reason, inFlight, restartsLeft, exhausted });
    } catch {
      // A listener's bug must not break supervision.
    }
  }

  /** A live thread with the last model loaded, starting one (and reloading the model) when needed. */
  private async ready(reload: boolean): Promise<Thread> {
    if (this.thread?.alive && !this.thread.ending) return this.thread;
    if (this.starting) return this.starting;
    const t = this.now();
    this.deaths = this.deaths.filter((d) => t - d < this.restartWindowMs);
    if (this.deaths.length > this.maxRestarts) {
      const hint = this.opts.exhaustedHint ? ` ${this.opts.exhaustedHint}` : '';
      throw new EngineWorkerError(
        `the engine worker stopped ${this.deaths.length} times within ${Math.round(this.restartWindowMs / 1000)} s (last: ${this.lastDeath}); it is not restarted again until you retry.${hint}`,
        this.lastDeath ?? 'unknown',
        true,
      );
    }
    const start = async (): Promise<Thread> => {
      const thread = this.startThread();
      this.thread = thread;
      this.latest = thread;
      const last = this.lastLoad;
      if (reload && last !== null) {
        const info = await this.send<LoadedReply>(thread, { type: 'load', folder: last.folder, options: last.options }, undefined);
        try {
          this.opts.onWorkerRestarted?.(info);
        } catch {
          // A listener's bug must not fail the request that caused the restart.
        }
      }
      return thread;
    };
    this.starting = start().finally(() => (this.starting = null));
    return this.starting;
  }

  /** Sends one call on `thread`; settles when it answers, is cancelled, or the thread ends. */
  private send<R extends WorkerReply>(
    thread: Thread,
    body: WorkerRequest,
    signal: AbortSignal | undefined,
    onProgress?: (p: WorkerProgress) => void,
  ): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      const call: Call = {
        body,
        signal,
        resolve: resolve as (b: WorkerReply) => void,
        reject,
        id: 0,
        ...(onProgress ? { onProgress } : {}),
      };
      this.post(thread, call);
    });
  }

  private post(thread: Thread, call: Call): void {
    const id = this.nextId++;
    call.id = id;
    const onAbort = (): void => this.cancel(thread, call);
    const { resolve, reject } = call;
    call.resolve = (b) => {
      call.signal?.removeEventListener('abort', onAbort);
      resolve(b);
    };
    call.reject = (e) => {
      call.signal?.removeEventListener('abort', onAbort);
      reject(e);
    };
    thread.pending.set(id, call);
    call.signal?.addEventListener('abort', onAbort, { once: true });
    // Tokens are copied, not transferred (a few KB at most), so a call can be sent again after a restart.
    thread.worker.postMessage({ id, body: call.body });
  }

  private cancel(thread: Thread, call: Call): void {
    // The worker serves requests in the order sent: the first still pending is the one running.
    const running = thread.pending.keys().next().value === call.id;
    if (!thread.pending.delete(call.id)) return;
    call.reject(abortError());
    if (!thread.alive || thread.ending) return;
    thread.worker.postMessage({ id: this.nextId++, body: { type: 'cancel', target: call.id } });
    if (!running || this.cancelGraceMs === Number.POSITIVE_INFINITY) return;
    if (this.cancelGraceMs <= 0) {
      this.interrupt(thread);
      return;
    }
    // The run stops at its next graph segment; a segment that runs on past the grace ends the thread.
    const timer = setTimeout(() => {
      thread.stopping.delete(call.id);
      this.interrupt(thread);
    }, this.cancelGraceMs);
    timer.unref();
    thread.stopping.set(call.id, timer);
  }

  /** Ends a thread stuck in a cancelled run; the calls queued behind it go to a fresh thread. */
  private interrupt(thread: Thread): void {
    if (thread.ending || !thread.alive) return;
    thread.ending = true;
    if (this.thread === thread) this.thread = null;
    const queued = [...thread.pending.values()];
    thread.pending.clear();
    void endThread(thread);
    for (const call of queued) {
      this.ready(true).then(
        (fresh) => this.post(fresh, call),
        (e: unknown) => call.reject(e instanceof Error ? e : new Error(String(e))),
      );
    }
  }

  private async request<T extends WorkerRequest>(
    body: T,
    signal?: AbortSignal,
    onProgress?: (p: WorkerProgress) => void,
  ): Promise<ReplyFor[T['type']]> {
    if (this.disposed) throw new Error('the engine was disposed; its worker exited');
    if (signal?.aborted) throw abortError();
    // With a live thread the request is posted before this call returns, so requests reach the
    // worker in the order they were made and a cancel right after a call finds it sent.
    const live = this.thread?.alive && !this.thread.ending ? this.thread : null;
    const thread = live ?? (await this.ready(body.type !== 'load'));
    if (signal?.aborted) throw abortError();
    return this.send<ReplyFor[T['type']]>(thread, body, signal, onProgress);
  }

  /**
   * Loads a model folder in the worker; `onProgress` hears each stage (reading the checkpoint in
   * bytes, processing, building the main session; see LoadProgress) before the reply.
   */
  async load(
    folder: string,
    options: WorkerModelOptions = {},
    signal?: AbortSignal,
    onProgress?: (p: LoadProgress) => void,
  ): Promise<LoadedReply> {
    try {
      const listener = onProgress ? (p: WorkerProgress): void => (p.type === 'load' ? onProgress(loadStage(p)) : undefined) : undefined;
      const reply = await this.request({ type: 'load', folder, options }, signal, listener);
      this.lastLoad = { folder, options };
      return reply;
    } catch (e) {
      // The worker dropped its model before trying the new one: a restart has nothing to reload.
      if (!isAbortError(e) && !(e instanceof EngineWorkerError)) this.lastLoad = null;
      throw e;
    }
  }

  async run(
    tokens: readonly number[] | Int32Array,
    opts: { names?: readonly string[]; interventions?: readonly Intervention[]; logitsAt?: 'all' | 'last'; signal?: AbortSignal } = {},
  ): Promise<EngineRunResult> {
    const ids = Int32Array.from(tokens);
    const reply = await this.request(
      {
        type: 'run',
        tokens: ids,
        ...(opts.names ? { names: opts.names } : {}),
        ...(opts.interventions ? { interventions: opts.interventions } : {}),
        ...(opts.logitsAt ? { logitsAt: opts.logitsAt } : {}),
      },
      opts.signal,
    );
    return { logits: reply.logits, activations: new Map(reply.activations.map((a) => [a.name, { dims: a.dims, data: a.data }])) };
  }

  /**
   * Next-token predictions answered in the graph (predictCompute.ts): every position's loss and
   * top-k, or the last position's top-k and one target token's probability and rank.
   */
  async predict(
    tokens: readonly number[] | Int32Array,
    opts: { topK: number; at: 'every' | 'last'; target?: number; signal?: AbortSignal },
  ): Promise<PredictReply> {
    return this.request(
      {
        type: 'predict',
        tokens: Int32Array.from(tokens),
        topK: opts.topK,
        at: opts.at,
        ...(opts.target !== undefined ? { target: opts.target } : {}),
      },
      opts.signal,
    );
  }

  /** An activation-panel request served in the worker (see panelCompute.ts). */
  /** A batched experiment (patching sweep, head detection) on the loaded model; cancellable between its session calls. */
  async experiment(op: ExperimentOp, signal?: AbortSignal): Promise<ExperimentResult> {
    return (await this.request({ type: 'experiment', op }, signal)).result;
  }

  async panel(op: PanelOp, signal?: AbortSignal): Promise<PanelResult> {
    return (await this.request({ type: 'panel', op }, signal)).result;
  }

  /**
   * Continues `tokens` in the worker (src/engine/generate.ts); `onToken` receives each token as it
   * is picked. An abort stops it between tokens (the promise rejects with AbortError).
   */
  async generate(
    tokens: readonly number[],
    options: WireGenerateOptions,
    opts: { onToken?: (p: GenerateProgress) => void; signal?: AbortSignal } = {},
  ): Promise<GenerateReply> {
    const { onToken } = opts;
    const listener = onToken ? (p: WorkerProgress): void => (p.type === 'token' ? onToken(p) : undefined) : undefined;
    return this.request({ type: 'generate', tokens: Int32Array.from(tokens), options }, opts.signal, listener);
  }

  /**
   * The top-k next tokens after `tokens`, answered in the graph on the worker's key/value cache
   * for `document`: typing at the end runs only the new tokens, and only k ids and probabilities cross.
   */
  async nextToken(
    document: string,
    tokens: readonly number[],
    topK: number,
    signal?: AbortSignal,
  ): Promise<{ topIds: Int32Array; topProbs: Float32Array; reused: number }> {
    const r = await this.request({ type: 'nextToken', document, tokens: Int32Array.from(tokens), topK }, signal);
    return { topIds: r.topIds, topProbs: r.topProbs, reused: r.reused };
  }

  /** Drops the worker's cache for a closed document. */
  async forgetDocument(document: string): Promise<void> {
    await this.request({ type: 'forgetDocument', document });
  }

  /** A tensor-view request served in the worker (see tensorOps.ts); needs no model for a file's tensors. */
  async tensor<T extends TensorOp>(op: T, signal?: AbortSignal): Promise<Extract<TensorResult, { op: T['op'] }>> {
    return (await this.request({ type: 'tensor', op }, signal)).result as Extract<TensorResult, { op: T['op'] }>;
  }

  /** FOR TESTS ONLY: makes the worker thread fail (see FaultRequest in protocol.ts). */
  async injectFault(fault: FaultRequest['fault'], during: FaultRequest['during'], code?: number): Promise<void> {
    const thread = await this.ready(true);
    const body: FaultRequest = { type: 'fault', fault, during, ...(code !== undefined ? { code } : {}) };
    thread.worker.postMessage({ id: this.nextId++, body });
  }

  /**
   * Releases the model and ends the thread. An idle worker releases its sessions first and the
   * count of sessions left open (0) is returned; a busy one is ended at once, without waiting for
   * its run (the thread's end frees its memory), and its requests reject with AbortError.
   */
  async dispose(): Promise<number> {
    if (this.disposed) return 0;
    this.disposed = true;
    const thread = this.thread;
    this.thread = null;
    if (thread === null || !thread.alive) return 0;
    if (thread.pending.size > 0 || thread.stopping.size > 0) {
      thread.ending = true;
      const calls = [...thread.pending.values()];
      thread.pending.clear();
      for (const call of calls) call.reject(abortError('the request (the engine was disposed while it ran)'));
      await endThread(thread);
      return 0;
    }
    try {
      const r = await this.send<ReplyFor['dispose']>(thread, { type: 'dispose' }, undefined);
      return r.openSessions;
    } finally {
      thread.ending = true;
      await endThread(thread);
    }
  }
}
