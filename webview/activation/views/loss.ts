// The loss view: cross-entropy of each actual next token (from the run's summary), and the top
// next tokens after the chosen position.
import type { ActRun } from '../../../src/protocol/activation';
import { el } from '../../shared/ui';
import { canvasGrid } from '../canvasGrid';
import { themeColor, viridis } from '../colors';
import { viewRoot } from '../layout';
import { fmt, panel, str } from '../state';
import { cellWidth, legend } from '../viewKit';

export function renderLoss(r: ActRun): void {
  const pos = r.tokens.length;
  let max = 0;
  for (const x of r.loss) if (Number.isFinite(x)) max = Math.max(max, x);
  const table = el('table', 'topk');
  table.dataset.testid = 'topk-table';
  const g = canvasGrid(
    {
      rows: 1,
      cols: pos,
      cellW: cellWidth(pos, 1000, 40),
      cellH: 28,
      left: 40,
      top: 60,
      // The last position has no next token to score: left in the theme's background.
      fill: (_r, p) =>
        Number.isFinite(r.loss[p]!) ? viridis(max > 0 ? r.loss[p]! / max : 0) : themeColor('--vscode-editor-background', '#000'),
      rowLabel: () => 'loss',
      colLabel: (p) => str(r.tokens[p]!),
      describe: (_r, p) =>
        p + 1 < pos
          ? `position ${p} ${JSON.stringify(str(r.tokens[p]!))} → ${JSON.stringify(str(r.tokens[p + 1]!))}: loss ${fmt(r.loss[p]!)} nats, p=${fmt(r.nextProb[p]!)}, rank ${r.nextRank[p]}`
          : `position ${p} ${JSON.stringify(str(r.tokens[p]!))}: last token, no next token to score`,
      onActivate: (_r, p) => showTopK(p),
      label: 'Per-token loss; Enter shows the top next tokens',
    },
    'loss-canvas',
  );
  const lossList = el('div', 'loss-values');
  lossList.dataset.testid = 'loss-values';
  lossList.textContent = Array.from(r.loss.subarray(0, Math.min(pos - 1, 64)), (x) => fmt(x)).join(' ');
  viewRoot.append(
    el('p', 'hint', 'Cross-entropy of each actual next token (viridis: low to high). Enter or click a position for its top next tokens.'),
    legend('loss', false),
    g.root,
    table,
    el('h2', 'detail-title', 'Loss per position (nats)'),
    lossList,
  );
  panel.mainCanvas = g.canvas;
  showTopK(panel.selectedPos);

  function showTopK(p: number): void {
    panel.selectedPos = p;
    const k = r.topK;
    table.replaceChildren();
    const cap = el('caption', '', `Top ${k} next tokens after position ${p} ${JSON.stringify(str(r.tokens[p]!))}`);
    const headRow = el('tr');
    headRow.append(el('th', '', 'rank'), el('th', '', 'token'), el('th', '', 'probability'));
    table.append(cap, headRow);
    for (let j = 0; j < k; j++) {
      const tr = el('tr');
      const id = r.topIds[p * k + j]!;
      if (p + 1 < pos && id === r.tokens[p + 1]) tr.classList.add('actual');
      tr.append(el('td', 'num', String(j + 1)), el('td', 'tok-cell', str(id)), el('td', 'num', fmt(r.topProbs[p * k + j]!, 4)));
      table.append(tr);
    }
  }
}
