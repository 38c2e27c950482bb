// One head's full attention pattern (query × key), opened from the attention grid, with its
// ablate button; hovering the token strip says where a token attends and what attends to it.
import type { ActRun } from '../../../src/protocol/activation';
import { button, el } from '../../shared/ui';
import { canvasGrid } from '../canvasGrid';
import { ablationOf } from '../ablationControls';
import { channel } from '../channel';
import { themeColor, viridis } from '../colors';
import { status } from '../layout';
import { track } from '../progress';
import { fmt, panel, str } from '../state';
import { colorStrip, onStripHover } from '../tokenStrip';
import { cellWidth } from '../viewKit';

/** The head open in the detail pane, for the current run only. */
let openHead: { layer: number; head: number; data: Float32Array } | undefined;

const attnInfo = el('div', 'readout attn-info');
attnInfo.dataset.testid = 'attn-info';

export function resetHeadPattern(): void {
  openHead = undefined;
}

export function hasOpenHead(): boolean {
  return openHead !== undefined;
}

onStripHover((idx) => {
  const run = panel.run;
  if (!run || !openHead || panel.view !== 'attention') return;
  const pos = run.tokens.length;
  const o = openHead;
  const row = o.data.subarray(idx * pos, (idx + 1) * pos);
  const col = Float32Array.from({ length: pos }, (_, q) => o.data[q * pos + idx]!);
  attnInfo.textContent = `${JSON.stringify(str(run.tokens[idx]!))} (pos ${idx}) attends most to ${best(run, row)}; attended most by ${best(run, col)}`;
  colorStrip(row);
});

function best(r: ActRun, v: Float32Array): string {
  let j = 0;
  for (let i = 1; i < v.length; i++) if (v[i]! > v[j]!) j = i;
  return `${JSON.stringify(str(r.tokens[j]!))} (pos ${j}, ${fmt(v[j]!)})`;
}

/** Fetches one head's pattern and draws it in `detail`. */
export async function openPattern(detail: HTMLElement, r: ActRun, layer: number, head: number): Promise<void> {
  try {
    const reply = await track(
      `Loading the pattern of L${layer}H${head}…`,
      channel.request({ type: 'act/pattern', runId: r.runId, layer, head }),
    );
    if (panel.run !== r) return;
    openHead = { layer, head, data: reply.data };
    drawPattern(detail, r);
  } catch (e) {
    status.textContent = (e as Error).message;
  }
}

export function drawPattern(detail: HTMLElement, r: ActRun): void {
  const o = openHead;
  if (!o) return;
  const pos = r.tokens.length;
  // A square map: both axes are positions, so it shrinks to 3 px cells rather than scroll both ways.
  const cell = cellWidth(pos, 640, 28, 3);
  const labels = cell >= 12;
  const g = canvasGrid(
    {
      rows: pos,
      cols: pos,
      cellW: cell,
      cellH: cell,
      left: labels ? 90 : 8,
      top: labels ? 70 : 8,
      fill: (q, k) => (k > q ? themeColor('--vscode-editor-background', '#000') : viridis(o.data[q * pos + k]!)),
      rowLabel: (q) => (labels ? str(r.tokens[q]!) : ''),
      colLabel: (k) => str(r.tokens[k]!),
      describe: (q, k) =>
        `L${o.layer}H${o.head}: query ${q} ${JSON.stringify(str(r.tokens[q]!))} → key ${k} ${JSON.stringify(str(r.tokens[k]!))}: ${fmt(o.data[q * pos + k]!)}`,
      label: `Attention pattern of layer ${o.layer} head ${o.head}`,
    },
    'pattern-canvas',
  );
  const head = el('h2', 'detail-title', `Layer ${o.layer}, head ${o.head}`);
  const ablate = button(
    `Ablate L${o.layer}H${o.head}`,
    () => channel.notify({ type: 'act/ablate', ablation: ablationOf('head', o.layer, o.head) }),
    {
      testId: 'ablate-head',
      title: 'Ablate this head (hook_z) the way chosen above (zero, mean, resample) and run again',
    },
  );
  detail.replaceChildren(
    head,
    ablate,
    el('p', 'hint', 'Hover a token above to see where it attends and what attends to it.'),
    attnInfo,
    g.root,
  );
  panel.mainCanvas = g.canvas;
}
