// Contract between bench/run.ts and each bench/*.bench.ts module.

/** One measured figure, with the peer it is compared against in the same run. */
export interface BenchRow {
  /** Which benchmark group, e.g. "tokenizer", "engine", "panel". */
  readonly group: string;
  /** What was measured, e.g. "tokenize+offsets 2MB". */
  readonly name: string;
  readonly value: number;
  /** Unit of value, e.g. "MB/s", "ms", "MiB". */
  readonly unit: string;
  /** The peer measured in the same run on the same input, when there is one. */
  readonly peer?: { readonly name: string; readonly value: number };
  /** ours / peer for throughputs, peer / ours for times: above 1 means we are faster. */
  readonly speedup?: number;
  readonly note?: string;
}

export interface BenchModule {
  run(): Promise<BenchRow[]>;
}
