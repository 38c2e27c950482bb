// Small helpers the views share: how wide a cell may be, and a colour legend.
import { el } from '../shared/ui';
import { diverging, viridis } from './colors';
import { viewRoot } from './layout';

/** Narrowest cell of a one-row-per-position view: wide enough for a column label; longer inputs scroll. */
export const MIN_CELL = 14;

/**
 * Cell width so a row of `n` positions fits about `budget` pixels, and the panel's width when it
 * can; never under `min`: past that the grid scrolls (it draws only the columns in view).
 */
export function cellWidth(n: number, budget: number, max: number, min = MIN_CELL): number {
  const room = Math.max(200, (viewRoot.clientWidth || budget) - 110);
  return Math.max(min, Math.min(max, Math.floor(Math.min(budget, room) / n)));
}

export function legend(label: string, signed: boolean): HTMLElement {
  const box = el('div', 'legend');
  const c = el('canvas', 'legend-bar');
  c.width = 160;
  c.height = 10;
  const ctx = c.getContext('2d')!;
  for (let x = 0; x < 160; x++) {
    ctx.fillStyle = signed ? diverging((x / 159) * 2 - 1) : viridis(x / 159);
    ctx.fillRect(x, 0, 1, 10);
  }
  box.append(el('span', '', signed ? '−' : 'low'), c, el('span', '', signed ? '+' : 'high'), el('span', 'hint', ` ${label}`));
  return box;
}
