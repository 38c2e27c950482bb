// The attention view: a layer × head grid of mean-pattern thumbnails (from the run's summary);
// a click or Enter opens that head's full pattern below (headPattern.ts).
import type { ActRun } from '../../../src/protocol/activation';
import { el } from '../../shared/ui';
import { viridis } from '../colors';
import { viewRoot } from '../layout';
import { panel } from '../state';
import { drawPattern, hasOpenHead, openPattern } from './headPattern';

export function renderAttention(r: ActRun): void {
  const grid = el('div', 'head-grid');
  grid.dataset.testid = 'head-grid';
  grid.setAttribute('role', 'grid');
  grid.style.gridTemplateColumns = `auto repeat(${r.nHeads}, 52px)`;
  const t = r.thumb;
  const cells: HTMLCanvasElement[] = [];
  const detail = el('section', 'pattern-detail');
  detail.dataset.testid = 'pattern-detail';
  grid.append(el('span', 'axis', ''));
  for (let h = 0; h < r.nHeads; h++) grid.append(el('span', 'axis', `H${h}`));
  for (let l = 0; l < r.nLayers; l++) {
    grid.append(el('span', 'axis', `L${l}`));
    for (let h = 0; h < r.nHeads; h++) {
      const c = el('canvas', 'thumb');
      c.width = t;
      c.height = t;
      c.tabIndex = l === 0 && h === 0 ? 0 : -1;
      c.dataset.layer = String(l);
      c.dataset.head = String(h);
      c.dataset.testid = 'head-cell';
      c.setAttribute('role', 'gridcell');
      c.setAttribute('aria-label', `Layer ${l} head ${h}: press Enter to open`);
      const ctx = c.getContext('2d')!;
      const base = (l * r.nHeads + h) * t * t;
      let max = 0;
      for (let k = 0; k < t * t; k++) max = Math.max(max, r.thumbs[base + k]!);
      for (let q = 0; q < t; q++)
        for (let k = 0; k < t; k++) {
          ctx.fillStyle = viridis(max > 0 ? r.thumbs[base + q * t + k]! / max : 0);
          ctx.fillRect(k, q, 1, 1);
        }
      c.addEventListener('click', () => void openPattern(detail, r, l, h));
      c.addEventListener('keydown', (ev) => {
        const d: Record<string, [number, number]> = { ArrowUp: [-1, 0], ArrowDown: [1, 0], ArrowLeft: [0, -1], ArrowRight: [0, 1] };
        const m = d[ev.key];
        if (m) {
          ev.preventDefault();
          const nl = Math.max(0, Math.min(r.nLayers - 1, l + m[0]));
          const nh = Math.max(0, Math.min(r.nHeads - 1, h + m[1]));
          const next = cells[nl * r.nHeads + nh]!;
          for (const x of cells) x.tabIndex = -1;
          next.tabIndex = 0;
          next.focus();
        } else if (ev.key === 'Enter' || ev.key === ' ') {
          ev.preventDefault();
          void openPattern(detail, r, l, h);
        }
      });
      cells.push(c);
      grid.append(c);
    }
  }
  viewRoot.append(
    el(
      'p',
      'hint',
      `Mean attention pattern of each of ${r.nLayers} layers × ${r.nHeads} heads (query ↓, key →). Click or press Enter to open one.`,
    ),
    grid,
    detail,
  );
  panel.mainCanvas = cells[0];
  if (hasOpenHead()) drawPattern(detail, r);
}
