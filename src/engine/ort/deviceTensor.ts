// A tensor that stays in an execution provider's memory between runs (webgpu's gpu-buffer
// outputs, see SessionOptions.deviceOutputs): the engine can feed it to another run and dispose
// it, never read it (onnxruntime-node 1.30 has no download for it; docs/GPU.md).
import type { ElemType } from '../onnx/ir';

export interface DeviceTensor {
  readonly location: 'gpu-buffer';
  readonly type: ElemType;
  readonly dims: readonly number[];
  /** True once disposed: it can no longer be fed. */
  readonly disposed: boolean;
  /** Frees the device memory now (idempotent); nothing else frees it. */
  dispose(): void;
}

export function isDeviceTensor(t: unknown): t is DeviceTensor {
  return typeof t === 'object' && t !== null && (t as { location?: unknown }).location === 'gpu-buffer';
}

/** Bytes the tensor holds on the device. */
export function deviceBytes(t: DeviceTensor): number {
  const per = { float32: 4, float16: 2, uint16: 2, int32: 4, int64: 8, bool: 1 }[t.type];
  return t.dims.reduce((a, b) => a * b, per);
}
