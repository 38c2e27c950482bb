// How much memory a GPT-2 checkpoint needs once loaded and run, from its float32 size on disk and
// the cost per checkpoint byte measured by the bench (docs/ARCHITECTURE.md, "One copy of the
// weights"; bench/freshProcess.ts, a process of its own, 2 threads):
//   fp32: gpt2-small's shape peaks at 694 MiB for a 128-token run from a 523 MiB checkpoint
//         (1.33), gpt2-medium's at 1,904 MiB for 1,024 tokens from 1,450 MiB (1.31);
//   fp16 and bf16: gpt2-medium's at 1,318 and 1,333 MiB (0.91, 0.92), since the weights are held
//         in 16 bits and decoded block by block.
// The factor covers onnxruntime and Node themselves too, so it overestimates for larger models,
// whose fixed part is the same; longer prompts and the activation panel add to it.
import type { WeightDtype } from '../weightDtype';

export const RESIDENT_PER_CHECKPOINT_BYTE: Readonly<Record<WeightDtype, number>> = { fp32: 1.35, fp16: 0.95, bf16: 0.95 };

/** Bytes of memory a model needs loaded and running, from its checkpoint's size on disk in float32. */
export function residentBytesNeeded(checkpointBytes: number, dtype: WeightDtype = 'fp32'): number {
  return Math.round(checkpointBytes * RESIDENT_PER_CHECKPOINT_BYTE[dtype]);
}

/** A sentence when the model would not fit in `freeBytes` (os.freemem()), else null. */
export function memoryWarning(
  checkpointBytes: number,
  freeBytes: number,
  format: (b: number) => string,
  dtype: WeightDtype = 'fp32',
): string | null {
  const need = residentBytesNeeded(checkpointBytes, dtype);
  if (need <= freeBytes) return null;
  return `it needs about ${format(need)} of memory once loaded (${dtype}), and ${format(freeBytes)} is free`;
}
