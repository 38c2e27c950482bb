// A heatmap on one canvas with a keyboard-focusable cell cursor: arrow keys move it, Enter
// activates it, the pointer hovers and clicks; a readout line says what the cursor is on.
// Only the columns in view are drawn, so 1024 positions scroll with readable cells.
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
  /** Called with the visible columns [from, to) after every draw (for data fetched on demand). */
  onVisible?(from: number, to: number): void;
  label: string;
}

export interface CanvasGrid {
  readonly root: HTMLElement;
  readonly canvas: HTMLCanvasElement;
  readonly readout: HTMLElement;
  focus(r: number, c: number): void;
  /** Draws again (e.g. when data for more columns arrived). */
  redraw(): void;
}

/**
 * The canvas is only as wide as the panel and draws the columns in view: a sizer as wide as
 * every column gives the scroll bar, and the canvas sticks to the left edge while the scroller
 * moves, so 1024 positions keep readable cells (and a canvas far below the browser's size limit).
 * Row labels stay in the left gutter while scrolling.
 */
export function canvasGrid(spec: GridSpec, testId: string): CanvasGrid {
  const root = el('div', 'grid-wrap');
  const scroller = el('div', 'grid-scroller');
  const sizer = el('div', 'grid-sizer');
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
  sizer.append(canvas);
  scroller.append(sizer);
  root.append(scroller, readout);

  const w = spec.left + spec.cols * spec.cellW;
  const h = spec.top + spec.rows * spec.cellH;
  sizer.style.width = `${w}px`;
  sizer.style.height = `${h}px`;
  canvas.style.position = 'sticky';
  canvas.style.left = '0';
  canvas.style.display = 'block';
  canvas.style.height = `${h}px`;
  const dpr = window.devicePixelRatio || 1;
  let viewW = 0;
  let cur: [number, number] = [0, 0];
  let frame = 0;

  /** Sizes the canvas to the visible width; the panel's width is unknown until it is attached. */
  const fitCanvas = (): void => {
    const room = scroller.clientWidth || Math.max(200, window.innerWidth - 40);
    const next = Math.min(w, room);
    if (next === viewW) return;
    viewW = next;
    canvas.width = Math.ceil(viewW * dpr);
    canvas.height = Math.ceil(h * dpr);
    canvas.style.width = `${viewW}px`;
  };

  const draw = (): void => {
    fitCanvas();
    const sx = scroller.scrollLeft;
    const ctx = canvas.getContext('2d')!;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, viewW, h);
    const fg = themeColor('--vscode-foreground', '#888');
    const focus = themeColor('--vscode-focusBorder', '#09f');
    ctx.font = `11px ${themeColor('--vscode-editor-font-family', 'monospace')}`;
    ctx.textBaseline = 'middle';
    const c0 = Math.max(0, Math.floor(sx / spec.cellW));
    const c1 = Math.min(spec.cols, Math.ceil((sx + viewW - spec.left) / spec.cellW) + 1);
    const xOf = (c: number): number => spec.left + c * spec.cellW - sx;
    // Cells and column labels are clipped to the right of the row-label gutter.
    ctx.save();
    ctx.beginPath();
    ctx.rect(spec.left, 0, viewW - spec.left, h);
    ctx.clip();
    for (let r = 0; r < spec.rows; r++) {
      for (let c = c0; c < c1; c++) {
        const x = xOf(c);
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
      for (let c = c0; c < c1; c++) {
        ctx.save();
        ctx.translate(xOf(c) + spec.cellW / 2, spec.top - 4);
        ctx.rotate(-Math.PI / 3);
        ctx.textAlign = 'left';
        ctx.fillText(fit(ctx, spec.colLabel(c), spec.top * 1.1), 0, 0);
        ctx.restore();
      }
    }
    if (document.activeElement === canvas && cur[1] >= c0 && cur[1] < c1) {
      ctx.strokeStyle = focus;
      ctx.lineWidth = 2;
      ctx.strokeRect(xOf(cur[1]), spec.top + cur[0] * spec.cellH, spec.cellW, spec.cellH);
    }
    ctx.restore();
    ctx.fillStyle = fg;
    ctx.textAlign = 'right';
    for (let r = 0; r < spec.rows; r++) ctx.fillText(spec.rowLabel(r), spec.left - 4, spec.top + r * spec.cellH + spec.cellH / 2);
    spec.onVisible?.(c0, c1);
  };
  const schedule = (): void => {
    if (frame === 0) frame = requestAnimationFrame(() => ((frame = 0), draw()));
  };

  const show = (): void => {
    readout.textContent = spec.describe(cur[0], cur[1]);
  };
  const focusCell = (r: number, c: number): void => {
    cur = [Math.max(0, Math.min(spec.rows - 1, r)), Math.max(0, Math.min(spec.cols - 1, c))];
    show();
    const x = cur[1] * spec.cellW; // from the gutter's right edge, unscrolled
    const span = viewW - spec.left;
    if (x < scroller.scrollLeft || x + spec.cellW > scroller.scrollLeft + span) scroller.scrollLeft = Math.max(0, x - span / 2);
    draw();
  };
  const cellAt = (ev: MouseEvent): [number, number] | null => {
    const rect = canvas.getBoundingClientRect();
    const px = ev.clientX - rect.left - spec.left;
    if (px < 0) return null;
    const c = Math.floor((px + scroller.scrollLeft) / spec.cellW);
    const r = Math.floor((ev.clientY - rect.top - spec.top) / spec.cellH);
    return r >= 0 && r < spec.rows && c >= 0 && c < spec.cols ? [r, c] : null;
  };
  canvas.addEventListener('keydown', (ev) => {
    const moves: Record<string, [number, number]> = {
      ArrowUp: [-1, 0],
      ArrowDown: [1, 0],
      ArrowLeft: [0, -1],
      ArrowRight: [0, 1],
      Home: [0, -1e9],
      End: [0, 1e9],
    };
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
  scroller.addEventListener('scroll', schedule, { passive: true });
  // The first draw happens before the grid is in the document; draw again once it has a width.
  new ResizeObserver(schedule).observe(scroller);
  draw();
  show();
  return { root, canvas, readout, focus: focusCell, redraw: schedule };
}

function fit(ctx: CanvasRenderingContext2D, text: string, width: number): string {
  if (ctx.measureText(text).width <= width) return text;
  let t = text;
  while (t.length > 1 && ctx.measureText(`${t}…`).width > width) t = t.slice(0, -1);
  return `${t}…`;
}
