// The `.prompts` file format: one prompt per line, for activation patching's clean and corrupted
// prompts (and anything else that wants a list of prompts).
//   - Every line is one prompt, exactly as written: leading and trailing spaces are part of it
//     (GPT-2 tokens carry their leading space), only the line ending (LF or CRLF) is not.
//   - Blank lines and lines starting with `#` are skipped (comments).
//   - A prompt line may end with ` => answer | wrong` to give the logit difference's two answer
//     tokens (each one token, as typed after the `=>`, their leading spaces included); without it the
//     metric is asked for (or the loss is used).
// No escapes, no quoting: a prompt cannot contain a newline or the text " => ".

export interface PromptLine {
  /** 0-based line number in the file. */
  readonly line: number;
  readonly text: string;
  /** The two answers when the line gives them (` => answer | wrong`). */
  readonly answers?: readonly [string, string];
}

const ANSWERS = ' => ';

export function parsePrompts(content: string): PromptLine[] {
  const out: PromptLine[] = [];
  content.split('\n').forEach((raw, line) => {
    const text = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (text.trim() === '' || text.trimStart().startsWith('#')) return;
    const at = text.lastIndexOf(ANSWERS);
    if (at < 0) {
      out.push({ line, text });
      return;
    }
    const parts = text.slice(at + ANSWERS.length).split('|');
    if (parts.length !== 2) {
      throw new Error(`line ${line + 1}: after " => " give two answers separated by |, e.g. "… =>  Mary| John"`);
    }
    out.push({ line, text: text.slice(0, at), answers: [parts[0]!, parts[1]!] });
  });
  return out;
}

/**
 * The clean and corrupted prompts for patching from a `.prompts` file: the prompt on `line` (or
 * the first prompt after it, when `line` is a comment or blank) and the next prompt.
 */
export function promptPairAt(prompts: readonly PromptLine[], line: number): [PromptLine, PromptLine] {
  const i = prompts.findIndex((p) => p.line >= line);
  if (i < 0 || i + 1 >= prompts.length) {
    throw new Error(
      `a .prompts file gives patching two prompts: the cursor's line and the next; there is no prompt after line ${line + 1}`,
    );
  }
  return [prompts[i]!, prompts[i + 1]!];
}
