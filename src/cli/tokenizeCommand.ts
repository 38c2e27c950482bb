// `model-lens tokenize (--file F | --text T) [--json]`: GPT-2 tokens with UTF-16 offsets.
// Input of any size: the file is read and tokenized in pieces (tokenStream.ts) and the output is
// written in batches as the tokens come, so memory stays bounded by a piece, not by the file.
import { stat } from 'node:fs/promises';
import { tokenDisplay } from '../tokenizer';
import { BatchedOutput, ExitCode, UsageError, type CliCommand } from './command';
import { parseFlags } from './flags';
import { readUtf8Chunks, tokenizePieces } from './tokenStream';

const usage = `usage: model-lens tokenize (--file FILE | --text TEXT) [--json]

GPT-2 tokens of the text (the file is read as UTF-8), with UTF-16 offsets [start, end).
  --file FILE   tokenize this file ('-': standard input); any size, read in pieces
  --text TEXT   tokenize this text
  --json        print [{"id":…,"start":…,"end":…}, …] instead of a table
`;

function parse(args: readonly string[]): { file?: string; text?: string; json: boolean } {
  const { values } = parseFlags(args, { file: { type: 'string' }, text: { type: 'string' }, json: { type: 'boolean', default: false } });
  if ((values.file === undefined) === (values.text === undefined)) throw new UsageError('give exactly one of --file or --text');
  return { file: values.file, text: values.text, json: values.json ?? false };
}

/** Why a file cannot be read, or null when it can (checked before any output). */
export async function unreadableReason(path: string): Promise<string | null> {
  if (path === '-') return null;
  try {
    const s = await stat(path);
    if (s.isDirectory()) return 'EISDIR';
    return null;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code ?? 'error';
  }
}

const HEADER = ['index', 'id', 'start', 'end', 'token'] as const;

/**
 * Column widths before the first row is known: every index, start and end is at most the
 * input's UTF-8 byte count (a token holds at least one byte, a UTF-16 unit at least one byte),
 * and ids have at most five digits.
 */
function tableWidths(maxBytes: number): number[] {
  const digits = String(maxBytes).length;
  return [
    Math.max(HEADER[0].length, digits),
    Math.max(HEADER[1].length, 5),
    Math.max(HEADER[2].length, digits),
    Math.max(HEADER[3].length, digits),
  ];
}

function tableLine(cells: readonly string[], widths: readonly number[]): string {
  return `${cells.map((cell, c) => (c < 4 ? cell.padStart(widths[c]!) : cell)).join('  ')}\n`;
}

/** One token's row; written out rather than through tableLine: it runs once per token, millions of times for a big file. */
function tableRow(index: number, id: number, start: number, end: number, display: string, widths: readonly number[]): string {
  return `${String(index).padStart(widths[0]!)}  ${String(id).padStart(widths[1]!)}  ${String(start).padStart(widths[2]!)}  ${String(end).padStart(widths[3]!)}  ${display}\n`;
}

export const tokenizeCommand: CliCommand = {
  name: 'tokenize',
  summary: 'GPT-2 tokens of a file or text, with ids and UTF-16 offsets',
  usage,
  async run(args, io) {
    const opts = parse(args);
    let chunks: AsyncIterable<string> | Iterable<string>;
    let maxBytes: number;
    if (opts.file !== undefined) {
      const problem = await unreadableReason(opts.file);
      if (problem !== null) {
        io.stderr(`model-lens tokenize: cannot read ${opts.file} (${problem})\n`);
        return ExitCode.failure;
      }
      maxBytes = opts.file === '-' ? Number.MAX_SAFE_INTEGER : (await stat(opts.file)).size;
      chunks = readUtf8Chunks(opts.file);
    } else {
      const text = opts.text ?? '';
      maxBytes = Buffer.byteLength(text, 'utf8');
      chunks = [text];
    }
    // Standard input's size is unknown: its table's columns fit any count up to 10^9 - 1.
    const widths = tableWidths(opts.file === '-' ? 999_999_999 : maxBytes);
    const out = new BatchedOutput(io);
    // Display strings by id, made on first use: a big file repeats the same few thousand tokens.
    const displays: (string | undefined)[] = [];
    let count = 0;
    out.add(opts.json ? '[' : tableLine(HEADER, widths));
    try {
      for await (const { tokens, base } of tokenizePieces(chunks)) {
        for (let i = 0; i < tokens.length; i++) {
          const id = tokens.ids[i]!;
          const start = base + tokens.starts[i]!;
          const end = base + tokens.ends[i]!;
          if (opts.json) out.add(`${count === 0 ? '' : ','}{"id":${id},"start":${start},"end":${end}}`);
          else out.add(tableRow(count, id, start, end, (displays[id] ??= tokenDisplay(id)), widths));
          count += 1;
          if (out.full) await out.flush();
        }
      }
    } catch (err) {
      await out.flush();
      const code = (err as NodeJS.ErrnoException).code;
      io.stderr(`\nmodel-lens tokenize: cannot read ${opts.file ?? 'the text'}${code ? ` (${code})` : ` (${(err as Error).message})`}\n`);
      return ExitCode.failure;
    }
    out.add(opts.json ? ']\n' : `${count} tokens\n`);
    await out.flush();
    return ExitCode.ok;
  },
};
