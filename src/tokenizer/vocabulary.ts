// GPT-2's 50,257 tokens as a searchable table, built once on first use (~tens of ms) so that
// as-you-type search is a scan over precomputed strings.
import { displayBytes, isPartialUtf8 } from './display';
import { GPT2_VOCAB_SIZE, type VocabEntry, type VocabSearchMode, type VocabSearchResult } from './types';
import { compileUserRegex } from './userRegex';
import { vocabTables } from './vocabData';

interface Row {
  readonly entry: VocabEntry;
  /** Decoded alone, U+FFFD for partial UTF-8 (to_str_tokens). */
  readonly text: string;
  readonly textLower: string;
  readonly displayLower: string;
}

export const DEFAULT_SEARCH_LIMIT = 200;
/** Rows scanned per step of searchSteps: under 20 ms for the slowest accepted regex. */
export const SEARCH_ROWS_PER_STEP = 2048;

export class Vocabulary {
  private static instance: Vocabulary | undefined;
  private rowsCache: Row[] | undefined;

  /** The process-wide table (it is immutable, so one is enough). */
  static shared(): Vocabulary {
    return (Vocabulary.instance ??= new Vocabulary());
  }

  get size(): number {
    return GPT2_VOCAB_SIZE;
  }

  /** Entry of an id; undefined when the id is not in the vocabulary. */
  entry(id: number): VocabEntry | undefined {
    return Number.isInteger(id) ? this.rows()[id]?.entry : undefined;
  }

  entries(): VocabEntry[] {
    return this.rows().map((r) => r.entry);
  }

  /**
   * Search the vocabulary. Never throws: a bad query (invalid regex, malformed id list)
   * comes back as { ok: false, error } so a search box can show it inline.
   * - substring / prefix: matched against the token's text and its display form (so ' the'
   *   and '·the' both work, and '<e2>' finds partial-UTF-8 tokens); case-insensitive unless
   *   the query has an upper-case letter (smart case). Exact matches first, then prefixes,
   *   then the rest, each by id.
   * - regex: RE2 syntax (linear time; no backreferences or lookaround, see userRegex.ts), smart
   *   case, tested against the token's text.
   * - id: ids and ranges separated by spaces or commas, e.g. "50256" or "100-110, 7".
   * limit caps entries; total counts every match.
   */
  search(query: string, mode: VocabSearchMode = 'substring', limit: number = DEFAULT_SEARCH_LIMIT): VocabSearchResult {
    const steps = this.searchSteps(query, mode, limit);
    for (;;) {
      const next = steps.next();
      if (next.done) return next.value;
    }
  }

  /**
   * The same search in steps: each `next()` scans at most `rowsPerStep` rows and yields the
   * number scanned so far; the generator's return value is the result. The extension host runs
   * one step per event-loop turn, so a slow pattern never holds it (a row costs at most about
   * 10 µs even for the largest pattern userRegex accepts).
   */
  *searchSteps(
    query: string,
    mode: VocabSearchMode = 'substring',
    limit: number = DEFAULT_SEARCH_LIMIT,
    rowsPerStep: number = SEARCH_ROWS_PER_STEP,
  ): Generator<number, VocabSearchResult, void> {
    const cap = Number.isFinite(limit) ? Math.max(0, Math.floor(limit)) : DEFAULT_SEARCH_LIMIT;
    if (typeof query !== 'string') return { ok: false, error: 'query must be a string' };
    switch (mode) {
      case 'substring':
      case 'prefix':
        return yield* this.searchText(query, mode === 'prefix', cap, rowsPerStep);
      case 'regex':
        return yield* this.searchRegex(query, cap, rowsPerStep);
      case 'id':
        return this.searchIds(query, cap);
      default: {
        const unknown: never = mode;
        return { ok: false, error: `unknown search mode "${String(unknown)}" (use substring, regex, prefix or id)` };
      }
    }
  }

  private rows(): Row[] {
    if (this.rowsCache) return this.rowsCache;
    const { bytes, byteStart } = vocabTables();
    const decoder = new TextDecoder('utf-8');
    const rows = new Array<Row>(GPT2_VOCAB_SIZE);
    for (let id = 0; id < GPT2_VOCAB_SIZE; id++) {
      const b = bytes.subarray(byteStart[id]!, byteStart[id + 1]!);
      const display = displayBytes(b);
      const text = decoder.decode(b);
      rows[id] = {
        entry: Object.freeze({ id, display, bytes: b, partialUtf8: isPartialUtf8(b) }),
        text,
        textLower: text.toLowerCase(),
        displayLower: display.toLowerCase(),
      };
    }
    this.rowsCache = rows;
    return rows;
  }

  private *searchText(query: string, prefixOnly: boolean, cap: number, rowsPerStep: number): Generator<number, VocabSearchResult, void> {
    const fold = query === query.toLowerCase();
    const q = query;
    const exact: VocabEntry[] = [];
    const prefix: VocabEntry[] = [];
    const inner: VocabEntry[] = [];
    let total = 0;
    const rows = this.rows();
    for (let i = 0; i < rows.length; i++) {
      if (i > 0 && i % rowsPerStep === 0) yield i;
      const r = rows[i]!;
      const t = fold ? r.textLower : r.text;
      const d = fold ? r.displayLower : r.entry.display;
      let bucket: VocabEntry[] | undefined;
      if (t === q || d === q) bucket = exact;
      else if (t.startsWith(q) || d.startsWith(q)) bucket = prefix;
      else if (!prefixOnly && (t.includes(q) || d.includes(q))) bucket = inner;
      if (bucket === undefined) continue;
      total++;
      if (bucket.length < cap) bucket.push(r.entry);
    }
    return { ok: true, entries: [...exact, ...prefix, ...inner].slice(0, cap), total };
  }

  private *searchRegex(query: string, cap: number, rowsPerStep: number): Generator<number, VocabSearchResult, void> {
    const compiled = compileUserRegex(query);
    if (!compiled.ok) return compiled;
    const re = compiled.regex;
    const entries: VocabEntry[] = [];
    let total = 0;
    const rows = this.rows();
    for (let i = 0; i < rows.length; i++) {
      if (i > 0 && i % rowsPerStep === 0) yield i;
      const r = rows[i]!;
      if (!re.test(r.text)) continue;
      total++;
      if (entries.length < cap) entries.push(r.entry);
    }
    return { ok: true, entries, total };
  }

  private searchIds(query: string, cap: number): VocabSearchResult {
    const parts = query.split(/[\s,]+/).filter((p) => p.length > 0);
    const ids: number[] = [];
    const max = GPT2_VOCAB_SIZE - 1;
    for (const p of parts) {
      const m = /^(\d+)(?:-(\d+))?$/.exec(p);
      if (!m) return { ok: false, error: `"${p}" is not a token id or range (examples: 50256, 100-110)` };
      const lo = Number(m[1]);
      const hi = m[2] === undefined ? lo : Number(m[2]);
      if (lo > max || hi > max) return { ok: false, error: `id ${Math.max(lo, hi)} is not in GPT-2's vocabulary (0..${max})` };
      if (hi < lo) return { ok: false, error: `range ${p} runs backwards` };
      for (let id = lo; id <= hi; id++) ids.push(id);
    }
    const rows = this.rows();
    const unique = [...new Set(ids)];
    return { ok: true, entries: unique.slice(0, cap).map((id) => rows[id]!.entry), total: unique.length };
  }
}
