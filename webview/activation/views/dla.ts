// Direct logit attribution of one position's next token (or top prediction at the last
// position) to each component, asked of the engine and drawn as a bar chart with the largest
// contributions listed. Shown under the residual-stream view.
import type { ActRun } from '../../../src/protocol/activation';
import { el } from '../../shared/ui';
import { channel } from '../channel';
import { diverging, themeColor } from '../colors';
import { fmt, panel, SLOW_MS, str } from '../state';

export async function showDla(box: HTMLElement, r: ActRun, p: number): Promise<void> {
  panel.selectedPos = p;
  const pos = r.tokens.length;
  const token = p + 1 < pos ? r.tokens[p + 1]! : r.topIds[p * r.topK]!;
  try {
    const d = await channel.request({ type: 'act/dla', runId: r.runId, pos: p, token }, SLOW_MS);
    if (panel.run !== r || panel.view !== 'residual') return;
    drawDla(
      box,
      d.labels,
      d.values,
      `Direct logit attribution to ${JSON.stringify(d.tokenText)} at position ${p} ${JSON.stringify(str(r.tokens[p]!))}`,
    );
  } catch (e) {
    box.textContent = (e as Error).message;
  }
}

function drawDla(box: HTMLElement, labels: readonly string[], values: Float32Array, heading: string): void {
  const n = labels.length;
  const barW = Math.max(4, Math.min(24, Math.floor(1000 / n)));
  const h = 160;
  const canvas = el('canvas', 'dla-canvas');
  canvas.dataset.testid = 'dla-canvas';
  const w = 40 + n * barW;
  const dpr = window.devicePixelRatio || 1;
  canvas.width = w * dpr;
  canvas.height = (h + 50) * dpr;
  canvas.style.width = `${w}px`;
  canvas.style.height = `${h + 50}px`;
  const ctx = canvas.getContext('2d')!;
  ctx.scale(dpr, dpr);
  let max = 0;
  for (const v of values) max = Math.max(max, Math.abs(v));
  const mid = h / 2 + 4;
  ctx.strokeStyle = themeColor('--vscode-foreground', '#888');
  ctx.beginPath();
  ctx.moveTo(36, mid);
  ctx.lineTo(w, mid);
  ctx.stroke();
  values.forEach((v, i) => {
    const bh = max > 0 ? (v / max) * (h / 2 - 4) : 0;
    ctx.fillStyle = diverging(max > 0 ? v / max : 0);
    ctx.fillRect(40 + i * barW, Math.min(mid, mid - bh), barW - 1, Math.abs(bh));
  });
  ctx.fillStyle = themeColor('--vscode-foreground', '#888');
  ctx.font = '10px sans-serif';
  ctx.fillText(fmt(max, 2), 0, 12);
  ctx.fillText(fmt(-max, 2), 0, h);
  if (barW >= 10) {
    labels.forEach((l, i) => {
      ctx.save();
      ctx.translate(40 + i * barW + barW / 2, h + 8);
      ctx.rotate(Math.PI / 3);
      ctx.fillText(l, 0, 0);
      ctx.restore();
    });
  }
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => Math.abs(values[b]!) - Math.abs(values[a]!));
  const list = el('ol', 'dla-list');
  list.dataset.testid = 'dla-list';
  for (const i of order.slice(0, 8)) {
    const li = el('li', '', `${labels[i]}: `);
    const num = el('span', 'num', values[i]!.toFixed(4));
    num.dataset.label = labels[i]!;
    li.append(num);
    list.append(li);
  }
  box.replaceChildren(el('h2', 'detail-title', heading), canvas, el('p', 'hint', 'Largest contributions (logit units):'), list);
}
