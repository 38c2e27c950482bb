// What Continue Text shows about each generated token, without a vscode import: where each token
// sits in the inserted text, its colour bin by probability and its hover text.
import type { SampledToken } from '../../engine/sampler';
import { decode, tokenDisplay } from '../../tokenizer';

/** Viridis in five bins (colour-blind safe, as the loss highlight): unlikely (dark) → likely (bright). */
export const PROB_BINS = ['#440154', '#3b528b', '#21918c', '#5ec962', '#fde725'] as const;
export const PROB_TEXT = ['#fff', '#fff', '#fff', '#000', '#000'] as const;
/** Lower bounds of the bins above the first: p < 0.05, < 0.2, < 0.5, < 0.8, ≥ 0.8. */
const EDGES = [0.05, 0.2, 0.5, 0.8];

export function probBin(prob: number): number {
  let b = 0;
  while (b < EDGES.length && prob >= EDGES[b]!) b++;
  return b;
}

export const PROB_LEGEND = 'probability: < 5 % · 5–20 % · 20–50 % · 50–80 % · ≥ 80 % (viridis, unlikely → likely)';

/** The text of generated tokens as inserted: a character whose UTF-8 bytes are not all there yet is left out. */
export function insertedText(ids: readonly number[]): string {
  return decode(ids).replace(/\uFFFD+$/, '');
}

/**
 * [start, end) of each token in decode(ids), in UTF-16 units. Tokens that split a character's
 * UTF-8 bytes share it: each token ends where the text of the tokens so far ends.
 */
export function tokenOffsets(ids: readonly number[]): { start: number; end: number }[] {
  const out: { start: number; end: number }[] = [];
  let prev = 0;
  for (let i = 0; i < ids.length; i++) {
    const end = Math.max(prev, insertedText(ids.slice(0, i + 1)).length);
    out.push({ start: prev, end });
    prev = end;
  }
  return out;
}

const pct = (p: number): string => `${(p * 100).toFixed(p >= 0.1 ? 1 : 2)} %`;
const code = (id: number): string => `\`${tokenDisplay(id).replace(/`/g, "'")}\``;

/** The hover of one generated token: the token, its probability and rank, and the top 5 at its step. */
export function tokenHoverMarkdown(t: SampledToken, demo: boolean): string {
  const rows = t.top.map((a, i) => `| ${i + 1} | ${code(a.id)}${a.id === t.id ? ' ← picked' : ''} | ${pct(a.prob)} |`);
  return [
    `**Model Lens generated** ${code(t.id)}: probability ${pct(t.prob)}, rank ${t.rank}${demo ? ' — demo model: random weights' : ''}`,
    '',
    '| rank | token | probability |',
    '| --: | --- | --: |',
    ...rows,
    '',
    PROB_LEGEND,
  ].join('\n');
}
