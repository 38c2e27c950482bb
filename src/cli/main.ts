// `model-lens <command> [args]`: a table of subcommands, each in its own module.
// To add one, import it and add it to `commands`.
import { ExitCode, UsageError, type CliCommand, type CliIo } from './command';
import { GENERATE_SUMMARY, GENERATE_USAGE } from './generateUsage';
import { infoCommand } from './infoCommand';
import { RUN_SUMMARY, RUN_USAGE } from './runUsage';
import { tokenizeCommand } from './tokenizeCommand';
import { vocabCommand } from './vocabCommand';

/** `run` loads its module on use: it pulls in the native onnxruntime addon, which tokenize and vocab never need. */
const runCommand: CliCommand = {
  name: 'run',
  summary: RUN_SUMMARY,
  usage: RUN_USAGE,
  run: async (args, io) => (await import('./runCommand')).runCommand.run(args, io),
};

/** `generate` loads its module on use, for the same reason as `run`. */
const generateCommand: CliCommand = {
  name: 'generate',
  summary: GENERATE_SUMMARY,
  usage: GENERATE_USAGE,
  run: async (args, io) => (await import('./generateCommand')).generateCommand.run(args, io),
};

const commands: readonly CliCommand[] = [tokenizeCommand, vocabCommand, runCommand, infoCommand, generateCommand];

function usage(): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  return [
    'usage: model-lens <command> [options]',
    '',
    'commands:',
    ...commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    "run 'model-lens <command> --help' for a command's options",
    '',
  ].join('\n');
}

export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined) {
    io.stderr(usage());
    return ExitCode.usage;
  }
  if (name === '--help' || name === '-h' || name === 'help') {
    io.stdout(usage());
    return ExitCode.ok;
  }
  const command = commands.find((c) => c.name === name);
  if (command === undefined) {
    io.stderr(`model-lens: unknown command '${name}'\n\n${usage()}`);
    return ExitCode.usage;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    io.stdout(command.usage);
    return ExitCode.ok;
  }
  try {
    return await command.run(rest, io);
  } catch (err) {
    if (err instanceof UsageError) {
      io.stderr(`model-lens ${command.name}: ${err.message}\n\n${command.usage}`);
      return ExitCode.usage;
    }
    io.stderr(`model-lens ${command.name}: ${err instanceof Error ? err.message : String(err)}\n`);
    return ExitCode.failure;
  }
}

const processIo: CliIo = {
  stdout: (t) => process.stdout.write(t),
  stderr: (t) => void process.stderr.write(t),
  // 'close' and 'error' end the wait too: a reader that went away must not hang the command.
  drained: () =>
    new Promise<void>((resolveDrain) => {
      const done = (): void => {
        process.stdout.off('drain', done).off('close', done).off('error', done);
        resolveDrain();
      };
      process.stdout.once('drain', done).once('close', done).once('error', done);
    }),
};

// A reader that closed early (`model-lens tokenize … | head`) is not an error of ours.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(ExitCode.ok);
  throw err;
});

// A signal would end the process without 'exit', leaving temp folders (the model's weights)
// behind; process.exit emits 'exit', whose handlers remove them. Exit status as a shell reports
// a signal death: 128 + the signal's number.
const SIGNAL_EXIT: Readonly<Record<'SIGINT' | 'SIGTERM' | 'SIGHUP', number>> = { SIGINT: 130, SIGTERM: 143, SIGHUP: 129 };
for (const [signal, code] of Object.entries(SIGNAL_EXIT)) {
  process.once(signal, () => {
    process.stderr.write(`model-lens: interrupted (${signal})\n`);
    process.exit(code);
  });
}

// exitCode rather than exit(): a large --json output to a pipe must finish flushing.
runCli(process.argv.slice(2), processIo).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`model-lens: ${String(err)}\n`);
    process.exitCode = ExitCode.failure;
  },
);
