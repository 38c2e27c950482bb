// `model-lens vocab QUERY [--mode substring|regex|prefix|id] [--limit N] [--json]`.
import { DEFAULT_SEARCH_LIMIT, Vocabulary, type VocabSearchMode } from '../tokenizer';
import { ExitCode, UsageError, type CliCommand } from './command';
import { parseFlags } from './flags';

const MODES: readonly VocabSearchMode[] = ['substring', 'regex', 'prefix', 'id'];

const usage = `usage: model-lens vocab QUERY [--mode substring|regex|prefix|id] [--limit N] [--json]

Search GPT-2's 50,257 tokens. Display: · space, ↵ newline, → tab, <xx> bytes that are not whole UTF-8.
  --mode MODE   substring (default), regex, prefix, or id (e.g. "50256" or "100-110")
                regex: RE2 syntax, linear time; no backreferences or lookaround
  --limit N     at most N results (default ${DEFAULT_SEARCH_LIMIT})
  --json        print [{"id":…,"display":…,"bytes":[…],"partialUtf8":…}, …]
`;

export const vocabCommand: CliCommand = {
  name: 'vocab',
  summary: "search GPT-2's vocabulary by text, regex, prefix or id",
  usage,
  async run(args, io) {
    const { values, positionals } = parseFlags(
      args,
      { mode: { type: 'string', default: 'substring' }, limit: { type: 'string' }, json: { type: 'boolean', default: false } },
      true,
    );
    if (positionals.length !== 1) throw new UsageError('give exactly one QUERY (quote it if it has spaces)');
    const mode = values.mode as VocabSearchMode;
    if (!MODES.includes(mode)) throw new UsageError(`unknown --mode '${values.mode}' (use ${MODES.join(', ')})`);
    let limit = DEFAULT_SEARCH_LIMIT;
    if (values.limit !== undefined) {
      if (!/^\d+$/.test(values.limit)) throw new UsageError(`--limit must be a whole number, got '${values.limit}'`);
      limit = Number(values.limit);
    }
    const result = Vocabulary.shared().search(positionals[0]!, mode, limit);
    if (!result.ok) {
      io.stderr(`model-lens vocab: ${result.error}\n`);
      return ExitCode.usage;
    }
    if (values.json) {
      const rows = result.entries.map((e) => ({ id: e.id, display: e.display, bytes: Array.from(e.bytes), partialUtf8: e.partialUtf8 }));
      io.stdout(`${JSON.stringify(rows)}\n`);
    } else {
      const width = Math.max(2, ...result.entries.map((e) => String(e.id).length));
      const lines = result.entries.map((e) => `${String(e.id).padStart(width)}  ${e.display}${e.partialUtf8 ? '  (partial UTF-8)' : ''}`);
      lines.push(`${result.entries.length} of ${result.total} matches`, '');
      io.stdout(lines.join('\n'));
    }
    return ExitCode.ok;
  },
};
