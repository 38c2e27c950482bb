// The Experiment and Compare views' heatmaps: values become one pixel per cell through a 256-entry
// colour table (colors.ts), and that image is drawn scaled up without smoothing onto a canvas at
// the device's pixel ratio, with the row names left of it and the column names under it (turned
// upright, read bottom to top, as plotting libraries label a dense axis) in the theme's foreground
// colour.
import { el } from '../shared/ui';
import { themeColor } from './colors';

/** One pixel per cell: `unit(v)` in [0, 1] picks the table entry; a non-finite one takes entry 0. */
export function cellImage(
  values: ArrayLike<number>,
  rows: number,
  cols: number,
  table: Uint8ClampedArray,
  unit: (v: number) => number,
): HTMLCanvasElement {
  const img = new ImageData(cols, rows);
  for (let k = 0; k < rows * cols; k++) {
    const t = unit(values[k]!);
    const i = Number.isFinite(t) ? Math.max(0, Math.min(255, Math.round(t * 255))) : 0;
    img.data.set(table.subarray(i * 4, i * 4 + 4), k * 4);
  }
  const small = document.createElement('canvas');
  small.width = cols;
  small.height = rows;
  small.getContext('2d')!.putImageData(img, 0, 0);
  return small;
}

export interface HeatmapLayout {
  readonly cell: number;
  /** Room left of the cells for the row names, and above them. */
  readonly left: number;
  readonly top: number;
  readonly rowNames: readonly string[];
  /** Names under the columns (position and token, head); every one that fits, cut to 12 characters. */
  readonly colNames?: readonly string[];
  readonly ariaLabel: string;
  readonly testId: string;
}

/** A canvas showing `image` (cellImage's) at `cell` px per cell, with every row name that fits. */
export function labelledHeatmap(image: HTMLCanvasElement, layout: HeatmapLayout): HTMLCanvasElement {
  const { cell, left, top, rowNames } = layout;
  const rows = image.height;
  const cols = image.width;
  const canvas = el('canvas', 'grid-canvas experiment-map');
  canvas.dataset.testid = layout.testId;
  const dpr = window.devicePixelRatio || 1;
  const font = '11px var(--vscode-font-family, sans-serif)';
  const colNames = (layout.colNames ?? []).map((n) => (n.length > 12 ? `${n.slice(0, 11)}…` : n));
  const colEvery = Math.max(1, Math.ceil(12 / cell));
  // Room under the cells for the longest name shown, measured in the font it is drawn with.
  let bottom = 0;
  if (colNames.length === cols) {
    const probe = document.createElement('canvas').getContext('2d')!;
    probe.font = font;
    for (let c = 0; c < cols; c += colEvery) bottom = Math.max(bottom, probe.measureText(colNames[c]!).width);
    bottom = Math.ceil(bottom) + 6;
  }
  const w = left + cols * cell;
  const h = top + rows * cell + bottom;
  canvas.width = Math.round(w * dpr);
  canvas.height = Math.round(h * dpr);
  canvas.style.width = `${w}px`;
  canvas.style.height = `${h}px`;
  canvas.setAttribute('role', 'img');
  canvas.setAttribute('aria-label', layout.ariaLabel);
  const ctx = canvas.getContext('2d')!;
  ctx.scale(dpr, dpr);
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(image, left, top, cols * cell, rows * cell);
  // Labels in the theme's colour (read once per map, not per cell).
  ctx.fillStyle = themeColor('--vscode-foreground', '#888');
  ctx.font = font;
  ctx.textBaseline = 'middle';
  ctx.textAlign = 'right';
  const every = Math.max(1, Math.ceil(12 / cell));
  for (let r = 0; r < rows; r += every) ctx.fillText(rowNames[r]!, left - 4, top + (r + 0.5) * cell);
  if (bottom > 0) {
    const y = top + rows * cell + 4;
    for (let c = 0; c < cols; c += colEvery) {
      ctx.save();
      ctx.translate(left + (c + 0.5) * cell, y);
      ctx.rotate(-Math.PI / 2);
      ctx.fillText(colNames[c]!, 0, 0);
      ctx.restore();
    }
  }
  return canvas;
}
