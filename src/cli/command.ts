// What one `model-lens <command>` subcommand is. main.ts keeps the table; each command
// lives in its own module and only needs this contract.

export interface CliIo {
  /** Writes to standard output; returning `false` (as stream.write does) means the text was queued and the caller should await `drained` before writing more. */
  readonly stdout: (text: string) => unknown;
  readonly stderr: (text: string) => void;
  /** Resolves when standard output can take more (backpressure); absent: it always can. */
  readonly drained?: () => Promise<void>;
}

/**
 * Output written in batches of about 64 KB with backpressure: a command that prints millions of
 * lines never builds one giant string (a 50 MB file's JSON would pass V8's string limit) nor
 * queues more than a batch ahead of a slow reader.
 */
export class BatchedOutput {
  private parts: string[] = [];
  private size = 0;
  /** Writes made to io.stdout, and the longest one in UTF-16 units: the tests' measure of streaming. */
  writes = 0;
  longestWrite = 0;

  constructor(
    private readonly io: CliIo,
    private readonly batchUnits = 64 * 1024,
  ) {}

  /** Adds text (no await per line: a caller checks `full` and awaits flush, once per batch). */
  add(text: string): void {
    this.parts.push(text);
    this.size += text.length;
  }

  /** A batch is ready: await flush() before adding more. */
  get full(): boolean {
    return this.size >= this.batchUnits;
  }

  async flush(): Promise<void> {
    if (this.size === 0) return;
    const text = this.parts.join('');
    this.parts = [];
    this.size = 0;
    this.writes += 1;
    this.longestWrite = Math.max(this.longestWrite, text.length);
    if (this.io.stdout(text) === false && this.io.drained) await this.io.drained();
  }
}

export interface CliCommand {
  readonly name: string;
  /** One line for the command list. */
  readonly summary: string;
  /** Full usage text, printed on --help or a usage error. */
  readonly usage: string;
  /** Resolves to the exit code (see ExitCode); throw UsageError for bad arguments. */
  run(args: readonly string[], io: CliIo): Promise<number>;
}

export const ExitCode = {
  ok: 0,
  /** The command could not do its job (unreadable file, failed run). */
  failure: 1,
  /** Bad command line or bad query: nothing was attempted. */
  usage: 2,
} as const;

/** Bad arguments: main prints the message and the command's usage and exits with ExitCode.usage. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}
