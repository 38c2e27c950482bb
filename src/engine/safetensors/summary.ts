// A safetensors file's header as a table: every tensor's dtype, shape and byte size, grouped by
// module the way the Modules tree groups TransformerLens names (`blocks.0.attn.hook_pattern`
// under `blocks.0.attn`). Built from readSafetensors' checked header only: no tensor data is read.
import { stat } from 'node:fs/promises';
import { readSafetensors, type SafetensorsFile } from './read';
import type { SafetensorsSummary, TensorRow } from './summaryTypes';

export type { SafetensorsSummary, TensorGroup, TensorRow } from './summaryTypes';

/** `blocks.10.attn.hook_pattern` → `blocks.10.attn`; `hook_embed` → ''. */
export function moduleOf(name: string): string {
  const at = name.lastIndexOf('.');
  return at < 0 ? '' : name.slice(0, at);
}

/** Groups in order of first appearance in the file's data; rows in data order within each. */
export function summarize(file: SafetensorsFile, fileBytes: number): SafetensorsSummary {
  const groups = new Map<string, TensorRow[]>();
  let dataBytes = 0;
  for (const name of file.names()) {
    const t = file.tensors.get(name)!;
    const bytes = t.end - t.begin;
    dataBytes += bytes;
    const module = moduleOf(name);
    const rows = groups.get(module) ?? [];
    rows.push({ name, dtype: t.dtype, shape: t.dims, bytes });
    groups.set(module, rows);
  }
  return {
    fileBytes,
    tensorCount: file.tensors.size,
    dataBytes,
    metadata: Object.entries(file.metadata),
    groups: [...groups].map(([module, tensors]) => ({ module, tensors })),
  };
}

/** Reads only the header of `path` (checked as the engine's loader checks it) and summarizes it. */
export async function summarizeSafetensorsFile(path: string): Promise<SafetensorsSummary> {
  const file = await readSafetensors(path);
  return summarize(file, (await stat(path)).size);
}
