// The extension's (and CLI's) handle on the engine worker: typed requests, AbortSignal
// cancellation, tensors as Float32Array. No vscode import.
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { Intervention } from '../interventions';
import type { Tensor } from '../types';
import type { PanelOp, PanelResult } from './panelCompute';
import type { EventEnvelope, LoadedReply, ProviderEvent, ReplyEnvelope, ReplyFor, WorkerModelOptions, WorkerReply, WorkerRequest } from './protocol';
import { abortError } from '../../common/errors';

export type { LoadedReply, ProviderEvent, WorkerModelOptions } from './protocol';

export interface EngineClientOptions {
  /** The worker script; defaults to engineWorker.js beside this bundle (dist/). */
  readonly workerPath?: string;
  /** Extra node flags for the worker thread. */
  readonly execArgv?: readonly string[];
  /** Called when the loaded model changes provider at run time (before the reply that caused it). */
  readonly onProviderChange?: (e: ProviderEvent) => void;
}

export interface EngineRunResult {
  readonly logits: Tensor;
  readonly activations: ReadonlyMap<string, Tensor>;
}

interface Pending {
  readonly type: WorkerRequest['type'];
  resolve(body: WorkerReply): void;
  reject(err: Error): void;
}

export class EngineClient {
  private readonly worker: Worker;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private dead: Error | null = null;
  /** Resolves when the worker thread has exited. */
  readonly exited: Promise<number>;

  constructor(opts: EngineClientOptions = {}) {
    this.worker = new Worker(opts.workerPath ?? join(__dirname, 'engineWorker.js'), { execArgv: [...(opts.execArgv ?? [])] });
    this.worker.on('message', (m: ReplyEnvelope | EventEnvelope) => {
      if ('event' in m) {
        try {
          opts.onProviderChange?.(m.event);
        } catch {
          // A listener's bug must not stop the replies that follow.
        }
        return;
      }
      const p = this.pending.get(m.inReplyTo);
      if (p === undefined) return; // already cancelled on this side
      this.pending.delete(m.inReplyTo);
      if (m.body.type === 'error') {
        const e = new Error(m.body.message);
        e.name = m.body.name;
        p.reject(e);
      } else {
        p.resolve(m.body);
      }
    });
    this.worker.on('error', (err) => this.fail(err));
    this.exited = new Promise((resolve) =>
      this.worker.once('exit', (code) => {
        this.fail(new Error(`engine worker exited (code ${code})`));
        resolve(code);
      }),
    );
  }

  private fail(err: Error): void {
    this.dead ??= err;
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }

  private request<T extends WorkerRequest>(body: T, signal?: AbortSignal, transfer: ArrayBuffer[] = []): Promise<ReplyFor[T['type']]> {
    if (this.dead) return Promise.reject(this.dead);
    if (signal?.aborted) return Promise.reject(abortError());
    const id = this.nextId++;
    return new Promise<ReplyFor[T['type']]>((resolve, reject) => {
      const onAbort = (): void => {
        if (!this.pending.delete(id)) return;
        reject(abortError());
        this.worker.postMessage({ id: this.nextId++, body: { type: 'cancel', target: id } });
      };
      this.pending.set(id, {
        type: body.type,
        resolve: (b) => {
          signal?.removeEventListener('abort', onAbort);
          resolve(b as ReplyFor[T['type']]);
        },
        reject: (e) => {
          signal?.removeEventListener('abort', onAbort);
          reject(e);
        },
      });
      signal?.addEventListener('abort', onAbort, { once: true });
      this.worker.postMessage({ id, body }, transfer);
    });
  }

  load(folder: string, options: WorkerModelOptions = {}, signal?: AbortSignal): Promise<LoadedReply> {
    return this.request({ type: 'load', folder, options }, signal);
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
      [ids.buffer as ArrayBuffer],
    );
    return { logits: reply.logits, activations: new Map(reply.activations.map((a) => [a.name, { dims: a.dims, data: a.data }])) };
  }

  /** An activation-panel request served in the worker (see panelCompute.ts). */
  async panel(op: PanelOp, signal?: AbortSignal): Promise<PanelResult> {
    const transfer = op.op === 'run' ? [op.tokens.buffer as ArrayBuffer] : [];
    return (await this.request({ type: 'panel', op }, signal, transfer)).result;
  }

  /** Releases the model's sessions in the worker, then ends the thread. Returns sessions left open (0). */
  async dispose(): Promise<number> {
    if (this.dead) return 0;
    try {
      const r = await this.request({ type: 'dispose' });
      return r.openSessions;
    } finally {
      await this.worker.terminate();
    }
  }
}
