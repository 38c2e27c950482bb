// How much memory a GPT-2 checkpoint needs once loaded and run, from its float32 size on disk: a
// fixed part (Node, onnxruntime, the tokenizer) plus a cost per checkpoint byte, fitted to the
// highest peaks the benches measured, each model in a process of its own (bench/freshProcess.ts,
// 2 threads; README, Benchmarks: medium and xl), with room:
//   fp32: gpt2-medium's shape (a 1,450 MiB checkpoint) 2,187 MiB, the logit lens's first window
//         at 1,024 tokens; gpt2-xl's (6,134 MiB) 6,852, direct logit attribution at 128;
//   fp16 and bf16: gpt2-medium's 1,531 (fp16's lens window when glibc keeps freed memory in
//         another thread's heap, README); gpt2-xl's 3,936 (the weights held in 16 bits and
//         decoded block by block).
// One factor per byte, as before, had to cover the small models' fixed part, and so overstated
// gpt2-xl by 2 GB in fp32. Longer prompts than measured add to it.
import type { WeightDtype } from '../weightDtype';

const MiB = 2 ** 20;

/** Resident bytes = fixedBytes + perCheckpointByte × the float32 checkpoint's bytes. */
export const RESIDENT_NEED: Readonly<Record<WeightDtype, { readonly fixedBytes: number; readonly perCheckpointByte: number }>> = {
  fp32: { fixedBytes: 768 * MiB, perCheckpointByte: 1.0 },
  fp16: { fixedBytes: 800 * MiB, perCheckpointByte: 0.52 },
  bf16: { fixedBytes: 800 * MiB, perCheckpointByte: 0.52 },
};

/** Bytes of memory a model needs loaded and running, from its checkpoint's size on disk in float32. */
export function residentBytesNeeded(checkpointBytes: number, dtype: WeightDtype = 'fp32'): number {
  const { fixedBytes, perCheckpointByte } = RESIDENT_NEED[dtype];
  return Math.round(fixedBytes + checkpointBytes * perCheckpointByte);
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
