// A heatmap on one canvas with a keyboard-focusable cell cursor: arrow keys move it, Enter
// activates it, the pointer hovers and clicks; a readout line says what the cursor is on.
// Cells are sized so a 1024-position row still fits in a few thousand pixels.
import { el } from '../shared/ui';
import { themeColor } from './colors';

export interface GridSpec {
  readonly rows: number;
  readonly cols: number;
  readonly cellW: number;
  readonly cellH: number;
  /** Left gutter for row labels and top gutter for column labels, in CSS pixels. */
  readonly left: number;
  readonly top: number;
  fill(r: number, c: number): string;
  /** Text inside a cell (drawn when it fits). */
  text?(r: number, c: number): { text: string; color: string } | null;
  /** Outline a cell (e.g. the top token equals the actual next one). */
  mark?(r: number, c: number): boolean;
  rowLabel(r: number): string;
  colLabel?(c: number): string;
  describe(r: number, c: number): string;
  onActivate?(r: number, c: number): void;
  label: string;
}

export interface CanvasGrid {
  readonly root: HTMLElement;
  readonly canvas: HTMLCanvasElement;
  readonly readout: HTMLElement;
  focus(r: number, c: number): void;
}

export function canvasGrid(spec: GridSpec, testId: string): CanvasGrid {
  const root = el('div', 'grid-wrap');
  const scroller = el('div', 'grid-scroller');
  const canvas = el('canvas', 'grid-canvas');
  canvas.tabIndex = 0;
  canvas.dataset.testid = testId;
  canvas.dataset.rows = String(spec.rows);
  canvas.dataset.cols = String(spec.cols);
  canvas.setAttribute('role', 'grid');
  canvas.setAttribute('aria-label', `${spec.label}: arrow keys move, Enter opens`);
  const readout = el('div', 'readout');
  readout.dataset.testid = `${testId}-readout`;
  readout.setAttribute('aria-live', 'polite');
  scroller.append(canvas);
  root.append(scroller, readout);

  const w = spec.left + spec.cols * spec.cellW;
  const h = spec.top + spec.rows * spec.cellH;
  const dpr = window.devicePixelRatio || 1;
  canvas.width = Math.ceil(w * dpr);
  canvas.height = Math.ceil(h * dpr);
  canvas.style.width = `${w}px`;
  canvas.style.height = `${h}px`;
  let cur: [number, number] = [0, 0];

  const draw = (): void => {
    const ctx = canvas.getContext('2d')!;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, w, h);
    const fg = themeColor('--vscode-foreground', '#888');
    const focus = themeColor('--vscode-focusBorder', '#09f');
    ctx.font = `11px ${themeColor('--vscode-editor-font-family', 'monospace')}`;
    ctx.textBaseline = 'middle';
    for (let r = 0; r < spec.rows; r++) {
      ctx.fillStyle = fg;
      ctx.textAlign = 'right';
      ctx.fillText(spec.rowLabel(r), spec.left - 4, spec.top + r * spec.cellH + spec.cellH / 2);
      for (let c = 0; c < spec.cols; c++) {
        const x = spec.left + c * spec.cellW;
        const y = spec.top + r * spec.cellH;
        ctx.fillStyle = spec.fill(r, c);
        ctx.fillRect(x, y, spec.cellW, spec.cellH);
        if (spec.mark?.(r, c)) {
          ctx.strokeStyle = fg;
          ctx.lineWidth = 1.5;
          ctx.strokeRect(x + 1, y + 1, spec.cellW - 2, spec.cellH - 2);
        }
        const t = spec.cellW >= 30 ? spec.text?.(r, c) : null;
        if (t) {
          ctx.fillStyle = t.color;
          ctx.textAlign = 'center';
          ctx.fillText(fit(ctx, t.text, spec.cellW - 4), x + spec.cellW / 2, y + spec.cellH / 2);
        }
      }
    }
    if (spec.colLabel && spec.cellW >= 12) {
      ctx.fillStyle = fg;
      ctx.save();
      for (let c = 0; c < spec.cols; c++) {
        ctx.save();
        ctx.translate(spec.left + c * spec.cellW + spec.cellW / 2, spec.top - 4);
        ctx.rotate(-Math.PI / 3);
        ctx.textAlign = 'left';
        ctx.fillText(fit(ctx, spec.colLabel(c), spec.top * 1.1), 0, 0);
        ctx.restore();
      }
      ctx.restore();
    }
    if (document.activeElement === canvas) {
      ctx.strokeStyle = focus;
      ctx.lineWidth = 2;
      ctx.strokeRect(spec.left + cur[1] * spec.cellW, spec.top + cur[0] * spec.cellH, spec.cellW, spec.cellH);
    }
  };

  const show = (): void => {
    readout.textContent = spec.describe(cur[0], cur[1]);
  };
  const focusCell = (r: number, c: number): void => {
    cur = [Math.max(0, Math.min(spec.rows - 1, r)), Math.max(0, Math.min(spec.cols - 1, c))];
    show();
    draw();
    const x = spec.left + cur[1] * spec.cellW;
    if (x < scroller.scrollLeft || x > scroller.scrollLeft + scroller.clientWidth - spec.cellW) scroller.scrollLeft = x - scroller.clientWidth / 2;
  };
  const cellAt = (ev: MouseEvent): [number, number] | null => {
    const rect = canvas.getBoundingClientRect();
    const c = Math.floor((ev.clientX - rect.left - spec.left) / spec.cellW);
    const r = Math.floor((ev.clientY - rect.top - spec.top) / spec.cellH);
    return r >= 0 && r < spec.rows && c >= 0 && c < spec.cols ? [r, c] : null;
  };
  canvas.addEventListener('keydown', (ev) => {
    const moves: Record<string, [number, number]> = { ArrowUp: [-1, 0], ArrowDown: [1, 0], ArrowLeft: [0, -1], ArrowRight: [0, 1], Home: [0, -1e9], End: [0, 1e9] };
    const m = moves[ev.key];
    if (m) {
      ev.preventDefault();
      focusCell(cur[0] + m[0], cur[1] + m[1]);
    } else if (ev.key === 'Enter' || ev.key === ' ') {
      ev.preventDefault();
      spec.onActivate?.(cur[0], cur[1]);
    }
  });
  canvas.addEventListener('mousemove', (ev) => {
    const cell = cellAt(ev);
    if (cell) readout.textContent = spec.describe(cell[0], cell[1]);
  });
  canvas.addEventListener('click', (ev) => {
    const cell = cellAt(ev);
    if (!cell) return;
    cur = cell;
    show();
    draw();
    spec.onActivate?.(cell[0], cell[1]);
  });
  canvas.addEventListener('focus', draw);
  canvas.addEventListener('blur', draw);
  draw();
  show();
  return { root, canvas, readout, focus: focusCell };
}

function fit(ctx: CanvasRenderingContext2D, text: string, width: number): string {
  if (ctx.measureText(text).width <= width) return text;
  let t = text;
  while (t.length > 1 && ctx.measureText(`${t}…`).width > width) t = t.slice(0, -1);
  return `${t}…`;
}
