// The tokens along the top of the panel: one chip per position, recoloured by views that show a
// value per position (the attention view colours it by the hovered token's attention).
import { el } from '../shared/ui';
import { textOnViridis, viridis } from './colors';
import { strip } from './layout';
import { panel, str } from './state';

export function renderStrip(): void {
  strip.replaceChildren();
  const run = panel.run;
  if (!run) return;
  run.tokens.forEach((id, i) => {
    const t = el('span', 'tok', str(id));
    t.dataset.index = String(i);
    t.title = `position ${i}, id ${id}`;
    if (i === panel.selectedPos) t.classList.add('selected');
    strip.append(t);
  });
}

/** Recolours the token strip in place (viridis over `colors`, or the theme's when absent). */
export function colorStrip(colors?: Float32Array): void {
  let max = 0;
  if (colors) for (const x of colors) max = Math.max(max, Math.abs(x));
  strip.querySelectorAll<HTMLElement>('.tok').forEach((t, i) => {
    if (!colors || max === 0) {
      t.style.removeProperty('background');
      t.style.removeProperty('color');
      return;
    }
    const v = colors[i]! / max;
    t.style.background = viridis(v);
    t.style.color = textOnViridis(v);
  });
}

/** Calls `fn` with the position of the token chip under the pointer. */
export function onStripHover(fn: (pos: number) => void): void {
  strip.addEventListener('mouseover', (ev) => {
    const idx = Number((ev.target as HTMLElement).dataset.index);
    if (Number.isInteger(idx)) fn(idx);
  });
}

strip.addEventListener('mouseleave', () => colorStrip());
