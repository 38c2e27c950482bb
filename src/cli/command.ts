// What one `model-lens <command>` subcommand is. main.ts keeps the table; each command
// lives in its own module and only needs this contract.

export interface CliIo {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
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
