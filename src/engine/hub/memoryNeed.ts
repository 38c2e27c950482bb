// How much memory a GPT-2 checkpoint needs once loaded, from its float32 size and the cost per
// weight byte measured on gpt2-small's shape (docs/ARCHITECTURE.md, "One copy of the weights"):
// 1,138 MiB resident after loading and one run, for a 523 MiB float32 checkpoint. The factor
// covers the separate unembedding (GPT-2 ties it to the embedding on disk), the attention
// weights' second layout, onnxruntime and Node themselves; it overestimates for larger models,
// whose fixed part is the same.
export const RESIDENT_PER_CHECKPOINT_BYTE = 2.2;

/** Bytes of memory a model needs loaded (fp32), from its checkpoint's size on disk in float32. */
export function residentBytesNeeded(checkpointBytes: number): number {
  return Math.round(checkpointBytes * RESIDENT_PER_CHECKPOINT_BYTE);
}

/** A sentence when the model would not fit in `freeBytes` (os.freemem()), else null. */
export function memoryWarning(checkpointBytes: number, freeBytes: number, format: (b: number) => string): string | null {
  const need = residentBytesNeeded(checkpointBytes);
  if (need <= freeBytes) return null;
  return `it needs about ${format(need)} of memory once loaded, and ${format(freeBytes)} is free`;
}
