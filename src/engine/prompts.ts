// Token ids laid out for one session call: one prompt, or a batch right-padded to its longest
// prompt (TransformerLens's default padding_side), with the attention mask that marks each
// prompt's real positions. Padded batches' graphs take that mask as an input (kernels/attention.ts
// masks padded keys in every layer); same-length batches' graphs have no such input.
import type { HostTensor } from './ort/session';

/** The token that fills positions beyond a prompt's end (GPT-2's pad token is its end-of-text). */
export const PAD_TOKEN = 50256;

export interface Prompts {
  /** Row-major [batch, pos] token ids, right-padded. */
  readonly ids: readonly number[];
  readonly batch: number;
  readonly pos: number;
  /** Each prompt's own length (its real positions are 0..length-1). */
  readonly lengths: readonly number[];
  /** Whether some prompt is shorter than pos (then the graph takes the attention mask). */
  readonly padded: boolean;
}

/** Rows of token ids (checked by the caller) right-padded with `pad` to the longest. */
export function rightPadded(rows: readonly (readonly number[])[], pad: number): Prompts {
  const lengths = rows.map((r) => r.length);
  const pos = Math.max(...lengths);
  const padded = lengths.some((n) => n !== pos);
  const ids = padded ? rows.flatMap((r) => [...r, ...new Array<number>(pos - r.length).fill(pad)]) : rows.flat();
  return { ids, batch: rows.length, pos, lengths, padded };
}

/** Positions [from, to) of every prompt, lengths clipped to the window (a prompt may have none there). */
export function windowOf(p: Prompts, from: number, to: number): Prompts {
  const w = to - from;
  const ids: number[] = [];
  for (let i = 0; i < p.batch; i++) ids.push(...p.ids.slice(i * p.pos + from, i * p.pos + to));
  const lengths = p.lengths.map((n) => Math.max(0, Math.min(n, to) - from));
  return { ids, batch: p.batch, pos: w, lengths, padded: lengths.some((n) => n !== w) };
}

export function tokensFeed(p: Prompts): HostTensor {
  return { type: 'int64', dims: [p.batch, p.pos], data: BigInt64Array.from(p.ids, (t) => BigInt(t)) };
}

/** The attention mask: int64 [batch, pos], 1 at each prompt's real positions, 0 at its padding. */
export function maskFeed(p: Prompts): HostTensor {
  const data = new BigInt64Array(p.batch * p.pos);
  p.lengths.forEach((n, i) => data.fill(1n, i * p.pos, i * p.pos + n));
  return { type: 'int64', dims: [p.batch, p.pos], data };
}
