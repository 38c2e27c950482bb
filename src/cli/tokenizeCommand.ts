// `model-lens tokenize (--file F | --text T) [--json]`: GPT-2 tokens with UTF-16 offsets.
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { tokenDisplay, tokenize, type TokenSpan } from '../tokenizer';
import { ExitCode, UsageError, type CliCommand } from './command';

const usage = `usage: model-lens tokenize (--file FILE | --text TEXT) [--json]

GPT-2 tokens of the text (the file is read as UTF-8), with UTF-16 offsets [start, end).
  --file FILE   tokenize this file
  --text TEXT   tokenize this text
  --json        print [{"id":…,"start":…,"end":…}, …] instead of a table
`;

function parse(args: readonly string[]): { file?: string; text?: string; json: boolean } {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...args],
      options: { file: { type: 'string' }, text: { type: 'string' }, json: { type: 'boolean', default: false } },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : String(err));
  }
  if ((values.file === undefined) === (values.text === undefined)) throw new UsageError('give exactly one of --file or --text');
  return { file: values.file, text: values.text, json: values.json ?? false };
}

function table(spans: readonly TokenSpan[]): string {
  const rows = spans.map((s, i) => [String(i), String(s.id), String(s.start), String(s.end), tokenDisplay(s.id)]);
  const header = ['index', 'id', 'start', 'end', 'token'];
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c]!.length)));
  const line = (cells: string[]) =>
    cells.map((cell, c) => (c === cells.length - 1 ? cell : c < 4 ? cell.padStart(widths[c]!) : cell)).join('  ');
  return [line(header), ...rows.map(line), `${spans.length} tokens`, ''].join('\n');
}

export const tokenizeCommand: CliCommand = {
  name: 'tokenize',
  summary: 'GPT-2 tokens of a file or text, with ids and UTF-16 offsets',
  usage,
  async run(args, io) {
    const opts = parse(args);
    let text: string;
    if (opts.file !== undefined) {
      try {
        text = await readFile(opts.file, 'utf8');
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        io.stderr(`model-lens tokenize: cannot read ${opts.file}${code ? ` (${code})` : ''}\n`);
        return ExitCode.failure;
      }
    } else {
      text = opts.text ?? '';
    }
    const spans = tokenize(text);
    io.stdout(opts.json ? `${JSON.stringify(spans)}\n` : table(spans));
    return ExitCode.ok;
  },
};
