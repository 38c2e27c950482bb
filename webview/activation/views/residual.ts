// The residual-stream view: the norm of each accumulated residual per layer and position (from
// the run's summary); a click or Enter shows the direct logit attribution below (dla.ts).
import type { ActRun } from '../../../src/protocol/activation';
import { el } from '../../shared/ui';
import { canvasGrid } from '../canvasGrid';
import { viridis } from '../colors';
import { viewRoot } from '../layout';
import { fmt, panel, str } from '../state';
import { cellWidth } from '../viewKit';
import { showDla } from './dla';

export function renderResidual(r: ActRun): void {
  const pos = r.tokens.length;
  const rows = r.residLabels.length;
  let max = 0;
  for (const x of r.residNorms) max = Math.max(max, x);
  const dlaBox = el('section', 'dla');
  dlaBox.dataset.testid = 'dla';
  const g = canvasGrid(
    {
      rows,
      cols: pos,
      cellW: cellWidth(pos, 1000, 40),
      cellH: 18,
      left: 80,
      top: 60,
      fill: (l, p) => viridis(max > 0 ? r.residNorms[l * pos + p]! / max : 0),
      rowLabel: (l) => r.residLabels[l]!,
      colLabel: (p) => str(r.tokens[p]!),
      describe: (l, p) => `‖${r.residLabels[l]}‖ at ${p} ${JSON.stringify(str(r.tokens[p]!))}: ${fmt(r.residNorms[l * pos + p]!, 2)}`,
      onActivate: (_l, p) => void showDla(dlaBox, r, p),
      label: 'Residual stream norms per layer and position; Enter shows direct logit attribution',
    },
    'resid-canvas',
  );
  viewRoot.append(
    el(
      'p',
      'hint',
      'Norm of the residual stream per layer and position. Click a position (or press Enter) for the direct logit attribution of its next token.',
    ),
    g.root,
    dlaBox,
  );
  panel.mainCanvas = g.canvas;
  void showDla(dlaBox, r, panel.selectedPos);
}
