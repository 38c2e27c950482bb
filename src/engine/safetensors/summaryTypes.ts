// The shape of a safetensors header summary (summary.ts), apart from the code that reads files,
// so the webview can import the types without Node's.

export interface TensorRow {
  readonly name: string;
  readonly dtype: string;
  readonly shape: readonly number[];
  readonly bytes: number;
}

export interface TensorGroup {
  /** The module path ('' for top-level names such as `hook_embed` or `logits`). */
  readonly module: string;
  readonly tensors: readonly TensorRow[];
}

export interface SafetensorsSummary {
  readonly fileBytes: number;
  readonly tensorCount: number;
  readonly dataBytes: number;
  readonly metadata: readonly (readonly [string, string])[];
  readonly groups: readonly TensorGroup[];
}
