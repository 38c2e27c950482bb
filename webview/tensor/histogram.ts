// The histogram of a tensor's finite values as bars on a canvas, in the theme's chart colour, with
// a line where zero falls inside the range.
export function drawHistogram(canvas: HTMLCanvasElement, counts: Uint32Array, lo: number, hi: number): void {
  const style = getComputedStyle(document.body);
  const bar = style.getPropertyValue('--vscode-charts-blue').trim() || style.color;
  const axis = style.getPropertyValue('--vscode-descriptionForeground').trim() || style.color;
  const cssW = Math.max(160, canvas.parentElement?.clientWidth ?? 320);
  const cssH = 90;
  const dpr = window.devicePixelRatio || 1;
  canvas.width = Math.round(cssW * dpr);
  canvas.height = Math.round(cssH * dpr);
  canvas.style.width = `${cssW}px`;
  canvas.style.height = `${cssH}px`;
  const ctx = canvas.getContext('2d')!;
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, cssW, cssH);
  let peak = 0;
  for (const c of counts) peak = Math.max(peak, c);
  const n = counts.length;
  const w = cssW / n;
  ctx.fillStyle = bar;
  for (let i = 0; i < n; i++) {
    if (counts[i] === 0) continue;
    // A square-root height keeps the thin tails of a weight distribution visible beside its peak.
    const h = peak > 0 ? Math.max(1, Math.sqrt(counts[i]! / peak) * (cssH - 2)) : 0;
    ctx.fillRect(i * w, cssH - h, Math.max(1, w - 0.5), h);
  }
  ctx.fillStyle = axis;
  ctx.fillRect(0, cssH - 1, cssW, 1);
  if (hi > lo && lo < 0 && hi > 0) {
    const x = ((0 - lo) / (hi - lo)) * cssW;
    ctx.fillRect(Math.round(x), 0, 1, cssH);
  }
}
