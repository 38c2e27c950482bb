// Worker-thread entry: owns one HookedGPT2 and serves EngineClient requests one at a time, so
// the extension host's thread never runs a forward pass. No vscode import.
import { parentPort, workerData } from 'node:worker_threads';
import { installNativeGate } from '../ort/nativeGate';
import { HookedGPT2 } from '../model';
import { handlePanelOp, panelTransfer } from './panelCompute';
import { DocumentCaches } from './documentCaches';
import { generate } from '../generate';
import { handleTensorOp, tensorTransfer } from './tensorOps';
import { predict } from './predictCompute';
import { experimentTransfer, handleExperimentOp } from './experimentCompute';
import { ABORT_ERROR_NAME, abortError } from '../../common/errors';
import type {
  ErrorReply,
  EventEnvelope,
  ProgressEnvelope,
  FaultRequest,
  ReplyEnvelope,
  RequestEnvelope,
  RunReply,
  WorkerReply,
  WorkerRequest,
} from './protocol';

interface Job {
  readonly id: number;
  readonly body: WorkerRequest;
  readonly abort: AbortController;
}

const port = parentPort;
if (port === null) throw new Error('engineWorker must run in a worker thread');
// EngineClient ends this thread only when no onnxruntime call is in progress (see nativeGate.ts).
const gateBuffer = (workerData as { nativeGate?: unknown } | null)?.nativeGate;
if (gateBuffer instanceof SharedArrayBuffer) installNativeGate(gateBuffer);

let model: HookedGPT2 | null = null;
/** Inline logits' key/value caches, per document; they belong to `model` and go with it. */
const documentCaches = new DocumentCaches();
const queue: Job[] = [];
let current: Job | null = null;

/** A test fault armed for the next run (FaultRequest 'nextRun'); null when none. */
let armedFault: FaultRequest | null = null;

/** Makes the thread fail as asked (tests of EngineClient's supervision only). */
function triggerFault(f: FaultRequest): void {
  switch (f.fault) {
    case 'exit':
      process.exit(f.code ?? 70);
      break;
    case 'throw':
      // Thrown from a fresh task so nothing here catches it: the thread's 'error' event, then exit.
      setImmediate(() => {
        throw new Error('injected fault: uncaught exception in the engine worker');
      });
      break;
    case 'hang':
      // Never returns, like a native call that does not come back; only terminate() ends it.
      for (;;);
    default: {
      const exhaustive: never = f.fault;
      throw new Error(`unknown fault ${String(exhaustive)}`);
    }
  }
}

/** The provider and notice the client last heard of (with the load reply or a ProviderEvent). */
let reported: { provider: string; notice: string | null } | null = null;

function reply(inReplyTo: number, body: WorkerReply, transfer: ArrayBuffer[] = []): void {
  // A run-time fallback happens inside a request: tell the client before the reply it awaits.
  if (model !== null && reported !== null && (model.provider !== reported.provider || model.notice !== reported.notice)) {
    reported = { provider: model.provider, notice: model.notice };
    const event: EventEnvelope = { event: { type: 'provider', provider: model.provider, notice: model.notice } };
    port!.postMessage(event);
  }
  const env: ReplyEnvelope = { inReplyTo, body };
  port!.postMessage(env, transfer);
}

function errorBody(err: unknown): ErrorReply {
  return err instanceof Error
    ? { type: 'error', name: err.name, message: err.message }
    : { type: 'error', name: 'Error', message: String(err) };
}

function isEnvelope(m: unknown): m is RequestEnvelope {
  if (typeof m !== 'object' || m === null) return false;
  const e = m as { id?: unknown; body?: { type?: unknown } };
  return typeof e.id === 'number' && typeof e.body === 'object' && e.body !== null && typeof e.body.type === 'string';
}

async function handle(job: Job): Promise<void> {
  const { body } = job;
  switch (body.type) {
    case 'load': {
      documentCaches.clear();
      if (model !== null) await model.dispose();
      model = null;
      model = await HookedGPT2.fromPretrained(body.folder, body.options, (p) => {
        const env: ProgressEnvelope = { inReplyTo: job.id, progress: { type: 'load', ...p } };
        port!.postMessage(env);
      });
      reported = { provider: model.provider, notice: model.notice };
      reply(job.id, {
        type: 'loaded',
        cfg: model.cfg,
        hookPoints: model.hookPoints(),
        provider: model.provider,
        notice: model.notice,
        processing: model.processing,
        warnings: model.loadWarnings,
        fromProcessedCache: model.readFromProcessedCache,
      });
      return;
    }
    case 'run': {
      if (model === null) throw new Error('no model loaded');
      const fault = armedFault;
      armedFault = null;
      const r = await model.forward(body.tokens, {
        signal: job.abort.signal,
        ...(fault !== null ? { hooks: [{ name: 'blocks.0.hook_resid_mid', fn: () => triggerFault(fault) }] } : {}),
        ...(body.names !== undefined ? { names: body.names } : {}),
        ...(body.interventions !== undefined ? { interventions: body.interventions } : {}),
        ...(body.logitsAt !== undefined ? { logitsAt: body.logitsAt } : {}),
      });
      const activations = [...r.activations].map(([name, t]) => ({ name, dims: t.dims, data: t.data }));
      const out: RunReply = { type: 'result', logits: r.logits, activations };
      reply(job.id, out, [r.logits.data.buffer as ArrayBuffer, ...activations.map((a) => a.data.buffer as ArrayBuffer)]);
      return;
    }
    case 'dispose': {
      documentCaches.clear();
      const open = model;
      model = null;
      if (open !== null) await open.dispose();
      reply(job.id, { type: 'disposed', openSessions: open?.openSessions ?? 0 });
      return;
    }
    case 'panel': {
      const result = await handlePanelOp(model, body.op, job.abort.signal);
      if (job.abort.signal.aborted) throw abortError();
      reply(job.id, { type: 'panel', result }, panelTransfer(result));
      return;
    }
    case 'generate': {
      if (model === null) throw new Error('no model loaded');
      const r = await generate(model, Array.from(body.tokens), {
        ...body.options,
        signal: job.abort.signal,
        onToken: (token, index) => {
          const env: ProgressEnvelope = { inReplyTo: job.id, progress: { type: 'token', index, token } };
          port!.postMessage(env);
        },
      });
      reply(job.id, { type: 'generated', tokens: r.tokens, stop: r.stop });
      return;
    }
    case 'nextToken': {
      if (model === null) throw new Error('no model loaded');
      const r = await documentCaches.nextToken(model, body.document, Array.from(body.tokens), body.topK, job.abort.signal);
      if (job.abort.signal.aborted) throw abortError();
      reply(job.id, { type: 'nextToken', ...r }, [r.topIds.buffer as ArrayBuffer, r.topProbs.buffer as ArrayBuffer]);
      return;
    }
    case 'forgetDocument':
      documentCaches.forget(body.document);
      reply(job.id, { type: 'forgotten' });
      return;
    case 'tensor': {
      const result = await handleTensorOp(model, body.op, job.abort.signal);
      if (job.abort.signal.aborted) throw abortError();
      reply(job.id, { type: 'tensor', result }, tensorTransfer(result));
      return;
    }
    case 'predict': {
      if (model === null) throw new Error('no model loaded');
      const r = await predict(model, body, job.abort.signal);
      if (job.abort.signal.aborted) throw abortError();
      reply(
        job.id,
        r,
        [r.topIds, r.topProbs, r.loss, r.nextProb, r.nextRank].map((a) => a.buffer as ArrayBuffer),
      );
      return;
    }
    case 'experiment': {
      const result = await handleExperimentOp(model, body.op, job.abort.signal);
      if (job.abort.signal.aborted) throw abortError();
      reply(job.id, { type: 'experiment', result }, experimentTransfer(result));
      return;
    }
    case 'cancel':
    case 'fault':
      return; // handled on arrival
    default: {
      const exhaustive: never = body;
      throw new Error(`unknown request ${JSON.stringify(exhaustive)}`);
    }
  }
}

async function pump(): Promise<void> {
  if (current !== null) return;
  while (queue.length > 0) {
    const job = queue.shift()!;
    current = job;
    try {
      await handle(job);
    } catch (err) {
      reply(job.id, errorBody(err));
    } finally {
      current = null;
    }
  }
}

port.on('message', (m: unknown) => {
  if (!isEnvelope(m)) return; // not ours; nothing to reply to
  const { id, body } = m;
  if (body.type === 'fault') {
    if (body.during === 'nextRun') armedFault = body;
    else triggerFault(body);
    return;
  }
  if (body.type === 'cancel') {
    const queued = queue.findIndex((j) => j.id === body.target);
    if (queued >= 0) {
      const [job] = queue.splice(queued, 1);
      reply(job!.id, { type: 'error', name: ABORT_ERROR_NAME, message: abortError().message });
    } else if (current?.id === body.target) {
      current.abort.abort(); // checked between graph segments and before the reply is sent
    }
    reply(id, { type: 'cancelled' });
    return;
  }
  queue.push({ id, body, abort: new AbortController() });
  void pump();
});
