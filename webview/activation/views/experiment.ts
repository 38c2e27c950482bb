// The Experiment view: the heatmaps of the last experiment the host sent (activation patching,
// head detection), independent of the panel's run. Each map is drawn as ImageData at one pixel
// per cell from a precomputed colour table, then scaled up without smoothing; hovering says a
// cell's value, and for patching a click asks the host for that patch's top next tokens.
import type { ActExperiment, ExperimentMap } from '../../../src/protocol/activation';
import { button, el } from '../../shared/ui';
import { channel } from '../channel';
import { colorTable } from '../colors';
import { cellImage, labelledHeatmap } from '../heatmapCanvas';
import { viewRoot } from '../layout';
import { fmt, panel, SLOW_MS } from '../state';
import { legend } from '../viewKit';

const LEFT = 64;
const TOP = 16;

let shown: ActExperiment | undefined;

/** main.ts hands over each act/experiment message here. */
export function setExperiment(msg: ActExperiment): void {
  shown = msg;
}

export function renderExperiment(): void {
  const e = shown;
  if (!e) {
    viewRoot.append(
      el('p', 'hint', 'No experiment yet: run "Model Lens: Activation Patching…" or "Model Lens: Detect Heads" from the palette.'),
    );
    return;
  }
  const exportBar = el('div', 'view-controls');
  exportBar.append(
    button('Export JSON…', () => channel.notify({ type: 'act/exportExperiment', format: 'json' }), { testId: 'export-json' }),
    button('Export CSV…', () => channel.notify({ type: 'act/exportExperiment', format: 'csv' }), { testId: 'export-csv' }),
  );
  const title = el('h2', 'detail-title', e.title);
  const sub = el('p', 'hint', e.subtitle);
  sub.dataset.testid = 'experiment-subtitle';
  const readout = el('div', 'readout', 'Hover a cell for its value.');
  readout.dataset.testid = 'experiment-readout';
  readout.setAttribute('aria-live', 'polite');
  const top = el('section', 'experiment-top');
  top.dataset.testid = 'experiment-top';
  viewRoot.append(title, sub, exportBar);
  let first = true;
  for (const map of e.maps) {
    const canvas = drawMap(e, map, readout, top);
    if (first) panel.mainCanvas = canvas;
    first = false;
  }
  viewRoot.append(readout, top);
}

function cellSize(e: ActExperiment): number {
  const room = Math.max(240, (viewRoot.clientWidth || 800) - LEFT - 24);
  return Math.max(6, Math.min(36, Math.floor(room / e.colNames.length)));
}

function drawMap(e: ActExperiment, map: ExperimentMap, readout: HTMLElement, top: HTMLElement): HTMLCanvasElement {
  const rows = e.rowNames.length;
  const cols = e.colNames.length;
  const cell = cellSize(e);
  const table = colorTable(map.signed ? 'diverging' : 'viridis');
  const image = cellImage(map.values, rows, cols, table, (v) => (map.signed ? (v / map.scale + 1) / 2 : v / map.scale));
  const canvas = labelledHeatmap(image, {
    cell,
    left: LEFT,
    top: TOP,
    rowNames: e.rowNames,
    colNames: e.colNames,
    ariaLabel: `${map.title}: ${rows} ${e.rowLabel}s × ${cols} ${e.colLabel}s`,
    testId: 'experiment-map',
  });
  canvas.tabIndex = 0;

  const cellAt = (ev: MouseEvent): { r: number; c: number } | null => {
    const box = canvas.getBoundingClientRect();
    const c = Math.floor((ev.clientX - box.left - LEFT) / cell);
    const r = Math.floor((ev.clientY - box.top - TOP) / cell);
    return r >= 0 && r < rows && c >= 0 && c < cols ? { r, c } : null;
  };
  const describe = (r: number, c: number): string => {
    const k = r * cols + c;
    const extra = e.detail.length ? ` · ${e.detailLabel} ${fmt(e.detail[k]!)}` : '';
    return `${e.rowNames[r]} · ${e.colNames[c]} — ${map.title}: ${fmt(map.values[k]!)}${extra}`;
  };
  canvas.addEventListener('mousemove', (ev) => {
    const at = cellAt(ev);
    readout.textContent = at ? describe(at.r, at.c) : '';
  });
  if (e.cellTop) {
    canvas.style.cursor = 'pointer';
    canvas.addEventListener('click', (ev) => {
      const at = cellAt(ev);
      if (at) void showTop(top, at.r * cols + at.c, describe(at.r, at.c));
    });
  }
  const box = el('section', 'experiment');
  box.append(
    el('div', 'detail-title', map.title),
    legend(map.signed ? `scale ±${fmt(map.scale, 2)}` : `0 … ${fmt(map.scale, 2)}`, map.signed),
    canvas,
  );
  viewRoot.append(box);
  return canvas;
}

async function showTop(box: HTMLElement, cell: number, what: string): Promise<void> {
  box.replaceChildren(el('p', 'hint', `Running the patch ${what}…`));
  try {
    const r = await channel.request({ type: 'act/patchTop', cell }, SLOW_MS);
    const table = el('table', 'topk');
    table.append(el('caption', '', `Top next tokens with this patch (${what.split(' — ')[0]})`));
    r.ids.forEach((_, i) => {
      const tr = el('tr');
      tr.append(el('td', 'tok-cell', JSON.stringify(r.strings[i])), el('td', 'num', `${(r.probs[i]! * 100).toFixed(1)}%`));
      table.append(tr);
    });
    box.replaceChildren(table);
  } catch (err) {
    box.replaceChildren(el('p', 'hint error', `Could not run the patch: ${(err as Error).message}`));
  }
}
