// A regular expression typed by a user, compiled for a linear-time engine (RE2 semantics via
// re2js). JavaScript's RegExp backtracks, so a pattern like `^(.*)*x$` can run for minutes on
// the extension host; RE2 matches in time linear in pattern size × text, and it refuses the
// features that need backtracking (backreferences and lookaround). Those get a clear error here
// rather than the engine's parser message.
import { RE2JS, RE2JSException } from 're2js';

/** The longest pattern accepted, in UTF-16 units: RE2's cost grows with the pattern's size too. */
export const MAX_USER_REGEX_LENGTH = 500;
/**
 * The largest compiled program accepted (re2js's `programSize`, roughly one instruction per
 * character class or literal after counted repeats are expanded). `[a-z]{1000}` is about 1,000;
 * the cap keeps a scan of the 50,257-token vocabulary to a fraction of a second.
 */
export const MAX_USER_REGEX_PROGRAM = 2_500;

/** What `describeRefusedFeatures` names; said in the README and the vocabulary panel's hint. */
export const REFUSED_REGEX_FEATURES = 'backreferences (\\1, \\k<name>) and lookaround ((?=…), (?!…), (?<=…), (?<!…))';

export interface UserRegex {
  /** True when the pattern matches anywhere in `text` (like RegExp.prototype.test). */
  test(text: string): boolean;
}

export type CompiledUserRegex = { ok: true; regex: UserRegex } | { ok: false; error: string };

/**
 * Compiles `pattern` with smart case: case-insensitive unless it has an upper-case letter.
 * JavaScript spellings (`\u00e9`, `\u{1F600}`, `(?<name>…)`) are translated. Never throws.
 */
export function compileUserRegex(pattern: string): CompiledUserRegex {
  if (pattern.length > MAX_USER_REGEX_LENGTH) {
    return { ok: false, error: `regular expression is ${pattern.length} characters long; the limit is ${MAX_USER_REGEX_LENGTH}` };
  }
  const refused = findRefusedFeature(pattern);
  if (refused !== undefined) {
    return {
      ok: false,
      error: `${refused} is not supported in /${pattern}/: searches use a linear-time engine (RE2 syntax), which has no ${REFUSED_REGEX_FEATURES}`,
    };
  }
  let compiled: RE2JS;
  try {
    const flags = pattern === pattern.toLowerCase() ? RE2JS.CASE_INSENSITIVE : 0;
    compiled = RE2JS.compile(RE2JS.translateRegExp(pattern), flags);
  } catch (err) {
    const reason = err instanceof RE2JSException || err instanceof Error ? err.message : String(err);
    return { ok: false, error: `invalid regular expression /${pattern}/: ${reason.replace(/^error parsing regexp: /, '')}` };
  }
  const size = compiled.programSize();
  if (size > MAX_USER_REGEX_PROGRAM) {
    return {
      ok: false,
      error: `regular expression /${pattern}/ is too large once its repeats are expanded (${size} steps; the limit is ${MAX_USER_REGEX_PROGRAM}): use smaller {n,m} counts`,
    };
  }
  return { ok: true, regex: { test: (text) => compiled.test(text) } };
}

/**
 * The first backtracking-only construct outside a character class, named for the user, or
 * undefined. Escapes are skipped as pairs, so `\(?=` is a literal paren, not a lookahead.
 */
export function findRefusedFeature(pattern: string): string | undefined {
  let inClass = false;
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '\\') {
      const next = pattern[i + 1];
      if (!inClass && next !== undefined && next >= '1' && next <= '9') return `the backreference \\${next}`;
      if (!inClass && next === 'k' && pattern[i + 2] === '<') return 'the named backreference \\k<…>';
      i++;
      continue;
    }
    if (inClass) {
      if (c === ']') inClass = false;
      continue;
    }
    if (c === '[') {
      inClass = true;
      // A ']' right after '[' or '[^' is a literal member, not the end of the class.
      if (pattern[i + 1] === '^') i++;
      if (pattern[i + 1] === ']') i++;
      continue;
    }
    if (c === '(' && pattern[i + 1] === '?') {
      const rest = pattern.slice(i + 2, i + 4);
      if (rest.startsWith('=')) return 'the lookahead (?=…)';
      if (rest.startsWith('!')) return 'the negative lookahead (?!…)';
      if (rest === '<=') return 'the lookbehind (?<=…)';
      if (rest === '<!') return 'the negative lookbehind (?<!…)';
    }
  }
  return undefined;
}
