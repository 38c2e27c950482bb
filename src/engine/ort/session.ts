// The only module that imports onnxruntime-node. Everything else sees HostTensor and EngineSession.
// Before onnxruntime: it sets the environment onnxruntime reads when it starts (see the file).
import './environment';
import * as ort from 'onnxruntime-node';
import type { ElemType, TensorData } from '../onnx/ir';
import { gated } from './nativeGate';
import { autoProviderPlan, type ProviderPlan } from './providerPlan';
import { isDeviceTensor, type DeviceTensor } from './deviceTensor';
import type { DeviceOption, ExecutionProviderName } from '../types';

export { autoProviderPlan, gpuDevicePresent, type ProviderPlan } from './providerPlan';
export { isDeviceTensor, type DeviceTensor } from './deviceTensor';

/** A tensor in host memory, as fed to or fetched from a session. */
export interface HostTensor {
  readonly type: ElemType;
  readonly dims: readonly number[];
  readonly data: TensorData;
}

/** What a session takes and returns: host tensors, and device tensors for SessionOptions.deviceOutputs. */
export type SessionTensor = HostTensor | DeviceTensor;

export interface EngineSession {
  readonly provider: ExecutionProviderName;
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  /** The outputs this session leaves on the device (DeviceTensor); empty unless the provider keeps them (webgpu). */
  readonly deviceOutputs: ReadonlySet<string>;
  /**
   * Runs the graph, computing and returning only `fetch` (onnxruntime prunes the rest of the
   * outputs). Outputs in deviceOutputs come back as DeviceTensor, the rest as HostTensor; a
   * DeviceTensor fed back stays on the device (its session must run on the same provider).
   */
  run(feeds: Readonly<Record<string, SessionTensor>>, fetch: readonly string[]): Promise<Record<string, SessionTensor>>;
  release(): Promise<void>;
}

export interface SessionOptions {
  readonly device?: DeviceOption;
  /** Intra-op threads; onnxruntime's default (all cores) when absent. */
  readonly threads?: number;
  /**
   * onnxruntime's graph optimisation level. 'basic' (the default) keeps TransformerLens's
   * arithmetic as written; 'all' lets the provider fuse LayerNorm, GELU and MatMul+Add into its
   * own kernels, which rounds differently (measured by test/gpu's parity table).
   */
  readonly optimization?: 'basic' | 'all';
  /**
   * Keep MatMul weights where they are instead of prepacking a private copy per session. With a
   * path model whose weights are external data, onnxruntime memory-maps them on the CPU, so every
   * session of a model shares one set of pages; prepacking would copy them all again per session
   * (measured on gpt2-small's shape: ~+450 MB per variant with it, ~+50 MB without, run time
   * unchanged within noise at 16 to 512 tokens).
   */
  readonly shareWeights?: boolean;
  /**
   * Inputs fed on every run from these tensors (a model's weights as graph inputs, see
   * onnx/weightInputs.ts). They are wrapped once, without a copy, and left out of `inputNames`.
   */
  readonly boundInputs?: ReadonlyMap<string, SessionTensor>;
  /**
   * false: no CPU memory arena, so each tensor is its own malloc and is freed after the run
   * instead of staying with the session at the run's peak. Only half-precision models use it
   * (their float32 casts of the weights are per-run buffers as large as the weights): glibc keeps
   * what such runs free in its heaps, so other sessions keep the arena and are released when
   * their memory should go back (docs/ARCHITECTURE.md, "Memory given back"). Default true.
   */
  readonly memArena?: boolean;
  /**
   * Outputs to leave on the device when the session lands on webgpu (onnxruntime-node's
   * `preferredOutputLocation: 'gpu-buffer'`): they come back as DeviceTensor, to be fed to the
   * next run and disposed by their owner. Ignored on the other providers (docs/GPU.md).
   */
  readonly deviceOutputs?: readonly string[];
}

export interface CreatedSession {
  readonly session: EngineSession;
  /** Set when the requested provider could not be used and another one was (a visible fallback). */
  readonly notice: string | null;
}

function candidates(device: DeviceOption): ProviderPlan {
  if (device === 'auto') return autoProviderPlan(process.platform);
  return { order: device === 'cpu' ? ['cpu'] : [device, 'cpu'], skipped: [] };
}

function toOrt(name: string, t: SessionTensor): ort.Tensor {
  if (!isDeviceTensor(t)) return new ort.Tensor(t.type, t.data, t.dims);
  if (!(t instanceof OrtDeviceTensor)) throw new Error(`internal: '${name}' is a device tensor from elsewhere`);
  // A disposed tensor's location is 'none', which the binding rejects; say which input it was.
  if (t.disposed) throw new Error(`'${name}' is a device tensor that was disposed`);
  return t.inner;
}

/**
 * An onnxruntime gpu-buffer tensor (a session output left on the device). onnxruntime-node 1.30
 * cannot read one back: its `getData()` ends the process (the binding's download throws a C
 * string), so the engine never calls it and only feeds it to another run or disposes it. Its
 * buffer must not outlive the session that made it (feeding it afterwards aborted the process on
 * lavapipe), so that session's release waits for it (OrtEngineSession.release).
 */
class OrtDeviceTensor implements DeviceTensor {
  readonly location = 'gpu-buffer';
  readonly dims: readonly number[];
  readonly type: ElemType;
  constructor(
    readonly inner: ort.Tensor,
    private readonly onDispose: () => void,
  ) {
    this.dims = [...inner.dims];
    const type = inner.type;
    if (type !== 'float32' && type !== 'float16' && type !== 'int64' && type !== 'bool')
      throw new Error(`device tensor has unsupported type ${type}`);
    this.type = type;
  }
  get disposed(): boolean {
    return this.inner.location === 'none';
  }
  dispose(): void {
    if (this.disposed) return;
    this.inner.dispose();
    this.onDispose();
  }
}

function fromOrt(name: string, v: ort.OnnxValue, onDeviceDispose: () => void): SessionTensor {
  if (!(v instanceof ort.Tensor)) throw new Error(`output '${name}' is not a tensor`);
  if (v.location === 'gpu-buffer') return new OrtDeviceTensor(v, onDeviceDispose);
  const type = v.type;
  if (type !== 'float32' && type !== 'int64' && type !== 'bool') throw new Error(`output '${name}' has unsupported type ${type}`);
  return { type, dims: [...v.dims], data: v.data as TensorData };
}

class OrtEngineSession implements EngineSession {
  private released = false;
  /** Device tensors this session made that are not disposed yet: the native session outlives them. */
  private liveDeviceOutputs = 0;
  private nativeReleased = false;
  /** The bound inputs as onnxruntime tensors, made once: each wraps the caller's buffer. */
  private readonly bound: Readonly<Record<string, ort.Tensor>>;
  constructor(
    private readonly inner: ort.InferenceSession,
    readonly provider: ExecutionProviderName,
    boundInputs: ReadonlyMap<string, SessionTensor> | undefined,
    readonly deviceOutputs: ReadonlySet<string>,
  ) {
    const bound: Record<string, ort.Tensor> = {};
    for (const [k, v] of boundInputs ?? []) bound[k] = toOrt(k, v);
    this.bound = bound;
  }

  get inputNames(): readonly string[] {
    return this.inner.inputNames.filter((n) => !(n in this.bound));
  }

  get outputNames(): readonly string[] {
    return this.inner.outputNames;
  }

  async run(feeds: Readonly<Record<string, SessionTensor>>, fetch: readonly string[]): Promise<Record<string, SessionTensor>> {
    if (this.released) throw new Error('session was released (model disposed)');
    const ortFeeds: Record<string, ort.Tensor> = { ...this.bound };
    for (const [k, v] of Object.entries(feeds)) ortFeeds[k] = toOrt(k, v);
    // Gated: the thread must not be ended while onnxruntime runs (see nativeGate.ts).
    const out = await gated(() => this.inner.run(ortFeeds, fetch));
    const result: Record<string, SessionTensor> = {};
    for (const name of fetch) {
      const v = out[name];
      if (v === undefined) throw new Error(`session did not return '${name}'`);
      if (v instanceof ort.Tensor && v.location === 'gpu-buffer') this.liveDeviceOutputs++;
      result[name] = fromOrt(name, v, () => this.deviceOutputDisposed());
    }
    return result;
  }

  /** No more runs; the native session goes now, or with the last device tensor it made. */
  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    await this.releaseNativeWhenFree();
  }

  private deviceOutputDisposed(): void {
    this.liveDeviceOutputs--;
    if (this.released) this.releaseNativeWhenFree().catch(() => undefined); // nothing waits on it
  }

  private async releaseNativeWhenFree(): Promise<void> {
    if (this.liveDeviceOutputs > 0 || this.nativeReleased) return;
    this.nativeReleased = true;
    await gated(() => this.inner.release());
  }
}

/**
 * Creates a session for an ONNX model on the requested provider, falling back (in order) to the
 * next that works, ending on the CPU, and saying so in `notice`. `model` is the encoded bytes, or
 * the path of an .onnx file: onnxruntime resolves a path model's external data (weights.bin)
 * relative to the file's folder, which bytes cannot do.
 */
export async function createSession(model: Uint8Array | string, opts: SessionOptions = {}): Promise<CreatedSession> {
  const device = opts.device ?? 'cpu';
  const planned = candidates(device);
  // Inputs bound to device buffers (weights kept on webgpu) can only be read there: no fallback.
  const onDevice = [...(opts.boundInputs?.values() ?? [])].some(isDeviceTensor);
  const { order, skipped } = onDevice ? { order: planned.order.slice(0, 1), skipped: planned.skipped } : planned;
  const failures: string[] = [];
  for (const provider of order) {
    try {
      const sessionOptions: ort.InferenceSession.SessionOptions = {
        executionProviders: [provider],
        // 'extended' fusions rewrite LayerNorm/GELU/attention patterns into fused kernels with
        // their own rounding; 'basic' keeps TransformerLens's arithmetic as written.
        graphOptimizationLevel: opts.optimization ?? 'basic',
        ...(opts.threads !== undefined ? { intraOpNumThreads: opts.threads } : {}),
        logSeverityLevel: 3,
        ...(opts.memArena === false ? { enableCpuMemArena: false } : {}),
        ...(opts.shareWeights ? { extra: { session: { disable_prepacking: '1' } } } : {}),
      };
      // Only webgpu's buffers can be handed back (the binding's gpu-buffer is WebGPU_Buffer memory).
      const deviceOutputs = new Set(provider === 'webgpu' ? (opts.deviceOutputs ?? []) : []);
      if (deviceOutputs.size > 0)
        sessionOptions.preferredOutputLocation = Object.fromEntries([...deviceOutputs].map((n) => [n, 'gpu-buffer']));
      // Two calls rather than a union argument: the overloads take a path or bytes, not either.
      const inner = await gated(() =>
        typeof model === 'string' ? ort.InferenceSession.create(model, sessionOptions) : ort.InferenceSession.create(model, sessionOptions),
      );
      const notice = failures.length > 0 ? [...failures, ...skipped].join('; ') + `; falling back to ${provider}` : null;
      return { session: new OrtEngineSession(inner, provider, opts.boundInputs, deviceOutputs), notice };
    } catch (err) {
      failures.push(`${provider} unavailable: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`);
    }
  }
  throw new Error(`no execution provider could run the model: ${failures.join('; ')}`);
}

/** Providers this onnxruntime-node build can try here (cuda only when its library is installed). */
export function availableProviders(): ExecutionProviderName[] {
  const known: readonly ExecutionProviderName[] = ['cpu', 'webgpu', 'cuda'];
  return ort
    .listSupportedBackends()
    .filter((b) => b.bundled || b.name === 'cuda')
    .map((b) => b.name)
    .filter((n): n is ExecutionProviderName => (known as readonly string[]).includes(n));
}
