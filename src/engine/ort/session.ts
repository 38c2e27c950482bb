// The only module that imports onnxruntime-node. Everything else sees HostTensor and EngineSession.
import { existsSync, readdirSync } from 'node:fs';
// Before onnxruntime: it sets the environment onnxruntime reads when it starts (see the file).
import './environment';
import * as ort from 'onnxruntime-node';
import type { ElemType, TensorData } from '../onnx/ir';
import { gated } from './nativeGate';
import type { DeviceOption, ExecutionProviderName } from '../types';

/** A tensor in host memory, as fed to or fetched from a session. */
export interface HostTensor {
  readonly type: ElemType;
  readonly dims: readonly number[];
  readonly data: TensorData;
}

export interface EngineSession {
  readonly provider: ExecutionProviderName;
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  /** Runs the graph, computing and returning only `fetch` (onnxruntime prunes the rest of the outputs). */
  run(feeds: Readonly<Record<string, HostTensor>>, fetch: readonly string[]): Promise<Record<string, HostTensor>>;
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
  readonly boundInputs?: ReadonlyMap<string, HostTensor>;
}

export interface CreatedSession {
  readonly session: EngineSession;
  /** Set when the requested provider could not be used and another one was (a visible fallback). */
  readonly notice: string | null;
}

/** Fastest first: 'auto' tries these in order and keeps the first that creates a session. */
const AUTO_ORDER: readonly ExecutionProviderName[] = ['cuda', 'webgpu', 'cpu'];

/**
 * Whether this machine exposes a GPU to user space. 'auto' only tries webgpu when it does: on a
 * machine without one, Dawn can still find a software Vulkan adapter (Mesa's lavapipe), which
 * computes correctly but far slower than the CPU provider. Asking for 'webgpu' by name still
 * tries it (CI does, to test the webgpu path on lavapipe).
 */
export function gpuDevicePresent(): boolean {
  try {
    if (readdirSync('/dev').some((f) => /^nvidia\d+$/.test(f))) return true;
    return existsSync('/dev/dri') && readdirSync('/dev/dri').some((f) => f.startsWith('renderD'));
  } catch {
    return false;
  }
}

export interface ProviderPlan {
  readonly order: readonly ExecutionProviderName[];
  /** Providers left out of the order, each with why; joined into the fallback notice. */
  readonly skipped: readonly string[];
}

/**
 * What 'auto' tries on a platform, fastest first. The platform and the GPU check are passed in so
 * unit tests cover every branch on one machine. Only Linux is checked through device nodes: on
 * macOS onnxruntime's WebGPU provider runs on Metal and on Windows on D3D12, neither of which has a
 * software fallback as slow as lavapipe, so webgpu is simply tried there (a failure falls back to
 * the CPU with a notice). onnxruntime-node ships no CUDA provider for macOS.
 */
export function autoProviderPlan(platform: NodeJS.Platform, gpuPresent: () => boolean = gpuDevicePresent): ProviderPlan {
  switch (platform) {
    case 'linux':
      if (gpuPresent()) return { order: AUTO_ORDER, skipped: [] };
      return {
        order: AUTO_ORDER.filter((p) => p !== 'webgpu'),
        skipped: ['webgpu skipped: no GPU device node (/dev/nvidia*, /dev/dri/renderD*)'],
      };
    case 'darwin':
      return { order: ['webgpu', 'cpu'], skipped: [] };
    case 'win32':
      return { order: AUTO_ORDER, skipped: [] };
    default:
      return { order: ['cpu'], skipped: [`cuda and webgpu skipped: onnxruntime-node has no GPU provider on ${platform}`] };
  }
}

function candidates(device: DeviceOption): ProviderPlan {
  if (device === 'auto') return autoProviderPlan(process.platform);
  return { order: device === 'cpu' ? ['cpu'] : [device, 'cpu'], skipped: [] };
}

function toOrt(t: HostTensor): ort.Tensor {
  return new ort.Tensor(t.type, t.data, t.dims);
}

function fromOrt(name: string, v: ort.OnnxValue): HostTensor {
  if (!(v instanceof ort.Tensor)) throw new Error(`output '${name}' is not a tensor`);
  const type = v.type;
  if (type !== 'float32' && type !== 'int64' && type !== 'bool') throw new Error(`output '${name}' has unsupported type ${type}`);
  return { type, dims: [...v.dims], data: v.data as TensorData };
}

class OrtEngineSession implements EngineSession {
  private released = false;
  /** The bound inputs as onnxruntime tensors, made once: each wraps the caller's buffer. */
  private readonly bound: Readonly<Record<string, ort.Tensor>>;
  constructor(
    private readonly inner: ort.InferenceSession,
    readonly provider: ExecutionProviderName,
    boundInputs: ReadonlyMap<string, HostTensor> | undefined,
  ) {
    const bound: Record<string, ort.Tensor> = {};
    for (const [k, v] of boundInputs ?? []) bound[k] = toOrt(v);
    this.bound = bound;
  }

  get inputNames(): readonly string[] {
    return this.inner.inputNames.filter((n) => !(n in this.bound));
  }

  get outputNames(): readonly string[] {
    return this.inner.outputNames;
  }

  async run(feeds: Readonly<Record<string, HostTensor>>, fetch: readonly string[]): Promise<Record<string, HostTensor>> {
    if (this.released) throw new Error('session was released (model disposed)');
    const ortFeeds: Record<string, ort.Tensor> = { ...this.bound };
    for (const [k, v] of Object.entries(feeds)) ortFeeds[k] = toOrt(v);
    // Gated: the thread must not be ended while onnxruntime runs (see nativeGate.ts).
    const out = await gated(() => this.inner.run(ortFeeds, fetch));
    const result: Record<string, HostTensor> = {};
    for (const name of fetch) {
      const v = out[name];
      if (v === undefined) throw new Error(`session did not return '${name}'`);
      result[name] = fromOrt(name, v);
    }
    return result;
  }

  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
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
  const { order, skipped } = candidates(device);
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
        ...(opts.shareWeights ? { extra: { session: { disable_prepacking: '1' } } } : {}),
      };
      // Two calls rather than a union argument: the overloads take a path or bytes, not either.
      const inner = await gated(() =>
        typeof model === 'string' ? ort.InferenceSession.create(model, sessionOptions) : ort.InferenceSession.create(model, sessionOptions),
      );
      const notice = failures.length > 0 ? [...failures, ...skipped].join('; ') + `; falling back to ${provider}` : null;
      return { session: new OrtEngineSession(inner, provider, opts.boundInputs), notice };
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
