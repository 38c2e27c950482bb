// A model's weights on the webgpu device, uploaded once and fed to every webgpu session
// (ModelOptions.weightStorage 'device'). With external data ('file') each session uploads its
// own copy of every weight it reads, so the device held the weights once per session variant.
// Here the large initializers are graph inputs (onnx/weightInputs.ts, as on the CPU) bound to
// device tensors: an upload session copies each weight to the device once (Identity, its outputs
// left there by `preferredOutputLocation: 'gpu-buffer'`) and every later session reads those
// buffers. onnxruntime-node has no way to make a device tensor from host data directly; a session
// output is the only source of one.
import { GraphBuilder } from './onnx/builder';
import type { GraphIR, InitializerDef } from './onnx/ir';
import type { DeviceTensor } from './ort/deviceTensor';
import { isDeviceTensor, type EngineSession } from './ort/session';

/** Identifies one weight as a session binds it: its initializer name and shape (the same array may be fed under two shapes). */
function keyOf(t: Pick<InitializerDef, 'name' | 'dims'>): string {
  return `${t.name}|${t.dims.join('x')}`;
}

export class DeviceWeights {
  private readonly onDevice = new Map<string, DeviceTensor>();
  /** Uploads run one at a time, so two sessions opened together upload a weight once. */
  private queue: Promise<void> = Promise.resolve();
  private disposed = false;

  /**
   * Ensures every one of `weights` is on the device. `open` makes a session on webgpu that leaves
   * the named outputs on the device; anything else (the provider fell back) is an error.
   */
  ensure(
    weights: readonly InitializerDef[],
    open: (g: GraphIR, deviceOutputs: readonly string[]) => Promise<EngineSession>,
  ): Promise<void> {
    const next = this.queue.then(() => this.upload(weights, open));
    this.queue = next.catch(() => undefined);
    return next;
  }

  /** What a session's lifted weight input is fed: the device copy of `t`. */
  readonly bind = (t: InitializerDef): DeviceTensor => {
    const d = this.onDevice.get(keyOf(t));
    if (d === undefined || d.disposed) throw new Error(`internal: weight '${t.name}' is not on the device`);
    return d;
  };

  /** Bytes on the device (each weight once). */
  get bytes(): number {
    let n = 0;
    for (const t of this.onDevice.values()) n += t.dims.reduce((a, b) => a * b, t.type === 'float16' ? 2 : 4);
    return n;
  }

  get count(): number {
    return this.onDevice.size;
  }

  /** Frees the device copies (and with the last of them the upload sessions that made them). */
  async dispose(): Promise<void> {
    this.disposed = true;
    await this.queue;
    for (const t of this.onDevice.values()) t.dispose();
    this.onDevice.clear();
  }

  private async upload(
    weights: readonly InitializerDef[],
    open: (g: GraphIR, deviceOutputs: readonly string[]) => Promise<EngineSession>,
  ): Promise<void> {
    if (this.disposed) throw new Error('this model was disposed');
    const missing = [...new Map(weights.filter((w) => !this.onDevice.has(keyOf(w))).map((w) => [keyOf(w), w])).values()];
    if (missing.length === 0) return;
    const b = new GraphBuilder('upload_weights');
    const outputs = missing.map((w, i) => {
      const input = b.input(`weight_${i}`, w.type, w.dims);
      const out = b.op('Identity', [input], undefined, { out: `device_${i}` });
      b.output(out, w.dims);
      return out;
    });
    const session = await open(b.build(), outputs);
    try {
      if (session.provider !== 'webgpu') throw new Error(`weights can be kept on webgpu only, not ${session.provider}`);
      const feeds = Object.fromEntries(missing.map((w, i) => [`weight_${i}`, { type: w.type, dims: w.dims, data: w.data }]));
      const out = await session.run(feeds, outputs);
      missing.forEach((w, i) => {
        const t = out[outputs[i]!];
        if (!isDeviceTensor(t)) throw new Error(`internal: weight '${w.name}' came back to the host`);
        this.onDevice.set(keyOf(w), t);
      });
    } finally {
      // The native session stays until the buffers it made are disposed (OrtEngineSession.release).
      await session.release();
    }
  }
}
