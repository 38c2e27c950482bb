// The tensor view: a tensor's shape, dtype, statistics and histogram; a 2-D slice as a heatmap
// with a diverging, theme-aware colour scale, hover values and a slider per other axis; and,
// along a vocabulary axis, the tokens with the largest and smallest values. The host holds the
// tensor in the engine worker; this page asks for the window it draws.
import '../../media/tensor.css';
import { assertNever } from '../../src/protocol/envelope';
import {
  MAX_DIRECTION_TOKENS,
  MAX_DIRECTIONS,
  MAX_RANKED,
  MAX_WINDOW_COLS,
  MAX_WINDOW_ROWS,
  tensorHostSchemas,
  type TensorProtocol,
  type TensorShowMessage,
  type TensorSliceReply,
  type WireToken,
} from '../../src/protocol/tensor';
import { WebviewChannel } from '../shared/messaging';
import { button, el } from '../shared/ui';
import { drawHistogram } from './histogram';
import { diverge, rgbCss, themePalette, type Palette } from './palette';

const app = document.getElementById('app')!;

interface View {
  readonly show: TensorShowMessage;
  rowAxis: number | null;
  colAxis: number | null;
  index: number[];
  rowFrom: number;
  colFrom: number;
  /** Colour scale: the whole tensor's largest |value| (default) or the window's. */
  scaleToWindow: boolean;
  slice: TensorSliceReply | null;
  /** The heatmap cell last hovered or moved to (window coordinates). */
  cursor: [number, number] | null;
}

let view: View | null = null;
let sliceSeq = 0;

const fmt = (x: number | null): string =>
  x === null ? '—' : Math.abs(x) >= 1e4 || (x !== 0 && Math.abs(x) < 1e-3) ? x.toExponential(3) : x.toPrecision(5);
const axisLabel = (v: View, a: number): string => `${v.show.axisNames[a] ?? `dim${a}`} (${v.show.dims[a]})`;

function statusLine(message: string, error: boolean): void {
  app.replaceChildren(el('p', error ? 'status error' : 'status', message));
}

function defaultAxes(show: TensorShowMessage): { rowAxis: number | null; colAxis: number | null } {
  const rank = show.dims.length;
  if (rank === 0) return { rowAxis: null, colAxis: null };
  if (rank === 1) return { rowAxis: null, colAxis: 0 };
  // The last two axes, as a notebook's `t[0, 0]` would show them.
  return { rowAxis: rank - 2, colAxis: rank - 1 };
}

function render(show: TensorShowMessage): void {
  const axes = defaultAxes(show);
  view = { show, ...axes, index: show.dims.map(() => 0), rowFrom: 0, colFrom: 0, scaleToWindow: false, slice: null, cursor: null };
  const v = view;
  app.replaceChildren();
  const header = el('div', 'tv-header');
  const shape = show.dims.length === 0 ? 'scalar' : `[${show.dims.join(', ')}]`;
  header.append(el('h1', 'tv-title', show.title));
  const sub = el('p', 'summary');
  sub.dataset.testid = 'tv-shape';
  sub.textContent = `${shape} · ${show.axisNames.join(' ') || 'scalar'} · ${show.dtype}`;
  header.append(sub, el('p', 'summary origin', show.origin));
  if (show.canExport)
    header.append(button('Export .safetensors', () => channel.notify({ type: 'tensor/export' }), { testId: 'tv-export' }));
  app.append(header);

  const top = el('div', 'tv-top');
  top.append(statsTable(show), histogramBox(show));
  app.append(top);

  const controls = el('div', 'tv-controls');
  controls.dataset.testid = 'tv-controls';
  app.append(el('h2', undefined, 'Slice'), controls);
  const heat = el('div', 'tv-heat');
  app.append(heat);
  if (show.vocabAxis !== null) app.append(rankSection(v));
  if (show.circuit !== null) app.append(directionsSection(show.circuit));
  buildControls(v, controls);
  void requestSlice();
}

function statsTable(show: TensorShowMessage): HTMLElement {
  const s = show.stats;
  const table = el('table', 'tv-stats');
  table.dataset.testid = 'tv-stats';
  const rows: [string, string][] = [
    ['elements', s.count.toLocaleString('en-US')],
    ['min', fmt(s.min)],
    ['max', fmt(s.max)],
    ['mean', fmt(s.mean)],
    ['std', fmt(s.std)],
    ['NaN', s.nan.toLocaleString('en-US')],
    ['+Inf / −Inf', `${s.posInf.toLocaleString('en-US')} / ${s.negInf.toLocaleString('en-US')}`],
  ];
  for (const [k, val] of rows) {
    const tr = el('tr');
    const td = el('td', 'num', val);
    if ((k === 'NaN' && s.nan > 0) || (k.startsWith('+Inf') && s.posInf + s.negInf > 0)) td.classList.add('error');
    tr.append(el('th', undefined, k), td);
    table.append(tr);
  }
  table.title = 'Over the finite elements; std is unbiased (n − 1), as torch.Tensor.std() computes it.';
  return table;
}

function histogramBox(show: TensorShowMessage): HTMLElement {
  const box = el('div', 'tv-hist');
  const canvas = el('canvas');
  canvas.dataset.testid = 'tv-histogram';
  canvas.setAttribute('role', 'img');
  const total = show.histCounts.reduce((a, b) => a + b, 0);
  canvas.setAttribute('aria-label', `histogram of ${total} finite values from ${fmt(show.histLo)} to ${fmt(show.histHi)}`);
  const labels = el('div', 'tv-hist-labels');
  labels.append(
    el('span', undefined, fmt(show.histLo)),
    el('span', undefined, `${show.histCounts.length} bins`),
    el('span', undefined, fmt(show.histHi)),
  );
  box.append(canvas, labels);
  requestAnimationFrame(() => drawHistogram(canvas, show.histCounts, show.histLo, show.histHi));
  return box;
}

function select(
  options: readonly { value: string; label: string }[],
  initial: string,
  onChange: (v: string) => void,
  testId: string,
): HTMLSelectElement {
  // A native <select>: the toolkit's dropdown cannot be narrowed to fit beside the sliders.
  const s = el('select', 'tv-select');
  for (const o of options) {
    const opt = el('option', undefined, o.label);
    opt.value = o.value;
    if (o.value === initial) opt.selected = true;
    s.append(opt);
  }
  s.dataset.testid = testId;
  s.addEventListener('change', () => onChange(s.value));
  return s;
}

/** A slider and a number field for one index, kept in step. */
function indexControl(label: string, size: number, value: number, onChange: (v: number) => void, testId: string): HTMLElement {
  const row = el('label', 'tv-axis');
  const range = el('input');
  range.type = 'range';
  range.min = '0';
  range.max = String(Math.max(0, size - 1));
  range.value = String(value);
  range.dataset.testid = `${testId}-slider`;
  const num = el('input', 'tv-num');
  num.type = 'number';
  num.min = '0';
  num.max = String(Math.max(0, size - 1));
  num.value = String(value);
  num.dataset.testid = `${testId}-field`;
  const set = (raw: string): void => {
    const n = Math.max(0, Math.min(size - 1, Math.floor(Number(raw)) || 0));
    range.value = String(n);
    num.value = String(n);
    onChange(n);
  };
  range.addEventListener('input', () => set(range.value));
  num.addEventListener('change', () => set(num.value));
  row.append(el('span', 'tv-axis-name', label), range, num);
  return row;
}

function buildControls(v: View, box: HTMLElement): void {
  box.replaceChildren();
  const rank = v.show.dims.length;
  if (rank >= 2) {
    const opts = v.show.dims.map((_, a) => ({ value: String(a), label: axisLabel(v, a) }));
    const axesRow = el('div', 'tv-axes');
    axesRow.append(
      el('span', 'tv-axis-name', 'rows'),
      select(opts, String(v.rowAxis), (s) => swapAxes(v, box, Number(s), 'row'), 'tv-row-axis'),
      el('span', 'tv-axis-name', 'columns'),
      select(opts, String(v.colAxis), (s) => swapAxes(v, box, Number(s), 'col'), 'tv-col-axis'),
    );
    box.append(axesRow);
  }
  for (let a = 0; a < rank; a++) {
    if (a === v.rowAxis || a === v.colAxis) continue;
    box.append(
      indexControl(
        axisLabel(v, a),
        v.show.dims[a]!,
        v.index[a]!,
        (n) => {
          v.index[a] = n;
          scheduleSlice();
        },
        `tv-index-${a}`,
      ),
    );
  }
  const totalRows = v.rowAxis === null ? 1 : v.show.dims[v.rowAxis]!;
  const totalCols = v.colAxis === null ? 1 : v.show.dims[v.colAxis]!;
  if (totalRows > MAX_WINDOW_ROWS && v.rowAxis !== null) {
    box.append(
      indexControl(
        `first row (${v.show.axisNames[v.rowAxis]})`,
        totalRows - MAX_WINDOW_ROWS + 1,
        v.rowFrom,
        (n) => ((v.rowFrom = n), scheduleSlice()),
        'tv-row-from',
      ),
    );
  }
  if (totalCols > MAX_WINDOW_COLS && v.colAxis !== null) {
    box.append(
      indexControl(
        `first column (${v.show.axisNames[v.colAxis]})`,
        totalCols - MAX_WINDOW_COLS + 1,
        v.colFrom,
        (n) => ((v.colFrom = n), scheduleSlice()),
        'tv-col-from',
      ),
    );
  }
  const scale = el('label', 'tv-check');
  const cb = el('input');
  cb.type = 'checkbox';
  cb.checked = v.scaleToWindow;
  cb.dataset.testid = 'tv-scale-window';
  cb.addEventListener('change', () => {
    v.scaleToWindow = cb.checked;
    drawHeat();
  });
  scale.append(cb, el('span', undefined, 'colour scale from this window (otherwise the whole tensor)'));
  box.append(scale);
}

function swapAxes(v: View, box: HTMLElement, axis: number, which: 'row' | 'col'): void {
  if (which === 'row') {
    if (axis === v.colAxis) v.colAxis = v.rowAxis;
    v.rowAxis = axis;
  } else {
    if (axis === v.rowAxis) v.rowAxis = v.colAxis;
    v.colAxis = axis;
  }
  v.rowFrom = 0;
  v.colFrom = 0;
  v.cursor = null;
  buildControls(v, box);
  void requestSlice();
}

let sliceTimer: ReturnType<typeof setTimeout> | undefined;
/** Slider drags ask at most every 60 ms; the newest answer wins. */
function scheduleSlice(): void {
  clearTimeout(sliceTimer);
  sliceTimer = setTimeout(() => void requestSlice(), 60);
}

async function requestSlice(): Promise<void> {
  const v = view;
  if (!v) return;
  const seq = ++sliceSeq;
  try {
    const reply = await channel.request({
      type: 'tensor/slice',
      rowAxis: v.rowAxis,
      colAxis: v.colAxis,
      index: v.index,
      rowFrom: v.rowFrom,
      rowCount: MAX_WINDOW_ROWS,
      colFrom: v.colFrom,
      colCount: MAX_WINDOW_COLS,
    });
    if (seq !== sliceSeq || view !== v) return;
    v.slice = reply;
    drawHeat();
    channel.notify({ type: 'tensor/rendered', rows: reply.rows, cols: reply.cols, index: v.index });
  } catch (e) {
    if (seq === sliceSeq) heatStatus(`Could not read the slice: ${(e as Error).message}`);
  }
}

function heatStatus(message: string): void {
  const heat = app.querySelector('.tv-heat');
  heat?.replaceChildren(el('p', 'status error', message));
}

/** The colour scale's half-width: the largest finite |value|, of the tensor or of the window. */
function scaleOf(v: View, s: TensorSliceReply): number {
  if (!v.scaleToWindow) return Math.max(Math.abs(v.show.stats.min ?? 0), Math.abs(v.show.stats.max ?? 0)) || 1;
  let m = 0;
  for (const x of s.data) if (Number.isFinite(x)) m = Math.max(m, Math.abs(x));
  return m || 1;
}

function drawHeat(): void {
  const v = view;
  const s = v?.slice;
  const heat = app.querySelector<HTMLElement>('.tv-heat');
  if (!v || !s || !heat) return;
  const palette = themePalette();
  const scale = scaleOf(v, s);
  heat.replaceChildren();
  const rowName = v.rowAxis === null ? '' : v.show.axisNames[v.rowAxis]!;
  const colName = v.colAxis === null ? '' : v.show.axisNames[v.colAxis]!;
  const caption = el('p', 'summary');
  caption.dataset.testid = 'tv-window';
  caption.textContent =
    v.rowAxis === null
      ? `${colName || 'value'} ${s.colFrom}–${s.colFrom + s.cols - 1} of ${s.totalCols}`
      : `rows: ${rowName} ${s.rowFrom}–${s.rowFrom + s.rows - 1} of ${s.totalRows} · columns: ${colName} ${s.colFrom}–${s.colFrom + s.cols - 1} of ${s.totalCols}`;
  heat.append(caption);

  // One pixel per cell in an offscreen image, drawn scaled up without smoothing.
  const image = new ImageData(Math.max(1, s.cols), Math.max(1, s.rows));
  for (let i = 0; i < s.data.length; i++) diverge(palette, s.data[i]! / scale, image.data, i * 4);
  const off = document.createElement('canvas');
  off.width = image.width;
  off.height = image.height;
  off.getContext('2d')!.putImageData(image, 0, 0);

  const wrap = el('div', 'tv-canvas-wrap');
  const canvas = el('canvas', 'tv-canvas');
  canvas.dataset.testid = 'tv-heatmap';
  canvas.dataset.rows = String(s.rows);
  canvas.dataset.cols = String(s.cols);
  canvas.tabIndex = 0;
  canvas.setAttribute('role', 'img');
  canvas.setAttribute('aria-label', `heatmap of ${s.rows} by ${s.cols} values; hover or use arrow keys for values`);
  const room = Math.max(120, (heat.clientWidth || window.innerWidth - 40) - 4);
  // Square cells up to 24 px where they fit; when the rows must be thinner to fit 640 px, cells
  // may be up to four times as wide as tall, so a 256 × 64 window is not a narrow strip.
  const fitW = Math.min(24, room / Math.max(1, s.cols));
  const cellH = Math.max(1, Math.min(24, 640 / Math.max(1, s.rows), fitW));
  const cellW = Math.min(fitW, 4 * cellH);
  const cssW = Math.max(1, Math.round(cellW * s.cols));
  const cssH = Math.max(1, Math.round(cellH * s.rows));
  const dpr = window.devicePixelRatio || 1;
  canvas.width = Math.round(cssW * dpr);
  canvas.height = Math.round(cssH * dpr);
  canvas.style.width = `${cssW}px`;
  canvas.style.height = `${cssH}px`;
  const ctx = canvas.getContext('2d')!;
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(off, 0, 0, canvas.width, canvas.height);
  const readout = el('div', 'readout');
  readout.dataset.testid = 'tv-readout';
  readout.setAttribute('aria-live', 'polite');
  readout.textContent = 'Hover a cell for its value.';
  const describe = (r: number, c: number): string => {
    const idx = [...v.index];
    if (v.rowAxis !== null) idx[v.rowAxis] = s.rowFrom + r;
    if (v.colAxis !== null) idx[v.colAxis] = s.colFrom + c;
    const x = s.data[r * s.cols + c]!;
    const tok = s.rowTokens[r] ?? s.colTokens[c];
    return `${v.show.title}[${idx.join(', ')}] = ${Number.isFinite(x) ? x.toPrecision(6) : String(x)}${tok !== undefined ? `  token ${JSON.stringify(tok)}` : ''}`;
  };
  /** Shows a cell's value and outlines it; the cell stays chosen across redraws (a slider moved under the pointer). */
  const focusCell = (r: number, c: number): void => {
    v.cursor = [r, c];
    readout.textContent = describe(r, c);
    ctx.drawImage(off, 0, 0, canvas.width, canvas.height);
    const sx = canvas.width / s.cols;
    const sy = canvas.height / s.rows;
    if (sx >= 3 * dpr && sy >= 3 * dpr) {
      ctx.strokeStyle = getComputedStyle(document.body).getPropertyValue('--vscode-focusBorder').trim() || '#888';
      ctx.lineWidth = Math.max(1, dpr);
      ctx.strokeRect(c * sx + 0.5, r * sy + 0.5, sx - 1, sy - 1);
    }
  };
  const at = (e: MouseEvent): [number, number] => {
    const rect = canvas.getBoundingClientRect();
    const c = Math.min(s.cols - 1, Math.max(0, Math.floor(((e.clientX - rect.left) / rect.width) * s.cols)));
    const r = Math.min(s.rows - 1, Math.max(0, Math.floor(((e.clientY - rect.top) / rect.height) * s.rows)));
    return [r, c];
  };
  canvas.addEventListener('mousemove', (e) => focusCell(...at(e)));
  canvas.addEventListener('click', (e) => {
    focusCell(...at(e));
    pickForRank(v, ...at(e));
  });
  canvas.addEventListener('keydown', (e) => {
    const [r, c] = v.cursor ?? [0, 0];
    const moves: Record<string, [number, number]> = { ArrowUp: [-1, 0], ArrowDown: [1, 0], ArrowLeft: [0, -1], ArrowRight: [0, 1] };
    const m = moves[e.key];
    if (m) {
      e.preventDefault();
      focusCell(Math.max(0, Math.min(s.rows - 1, r + m[0])), Math.max(0, Math.min(s.cols - 1, c + m[1])));
    } else if (e.key === 'Enter') pickForRank(v, r, c);
  });
  if (v.cursor && v.cursor[0] < s.rows && v.cursor[1] < s.cols) focusCell(...v.cursor);
  wrap.append(canvas);
  heat.append(wrap, legend(palette, scale, v.scaleToWindow), readout);
}

function legend(palette: Palette, scale: number, fromWindow: boolean): HTMLElement {
  const box = el('div', 'tv-legend');
  box.dataset.testid = 'tv-legend';
  const bar = el('canvas', 'tv-legend-bar');
  bar.width = 160;
  bar.height = 10;
  const img = new ImageData(160, 10);
  for (let x = 0; x < 160; x++) for (let y = 0; y < 10; y++) diverge(palette, (x / 159) * 2 - 1, img.data, (y * 160 + x) * 4);
  bar.getContext('2d')!.putImageData(img, 0, 0);
  const bad = el('span', 'tv-swatch');
  bad.style.background = rgbCss(palette.bad);
  box.append(
    el('span', 'num', fmt(-scale)),
    bar,
    el('span', 'num', `+${fmt(scale)}`),
    el('span', 'summary', fromWindow ? '(this window)' : '(whole tensor)'),
    bad,
    el('span', 'summary', 'NaN / Inf'),
  );
  return box;
}

// ---------------------------------------------------------------------------------------------
// Tokens ranked along the vocabulary axis

let rankInputs: HTMLInputElement[] = [];

function rankSection(v: View): HTMLElement {
  const vocab = v.show.vocabAxis!;
  const section = el('section', 'tv-rank');
  section.dataset.testid = 'tv-rank';
  section.append(el('h2', undefined, `Top tokens along ${v.show.axisNames[vocab]}`));
  section.append(
    el(
      'p',
      'summary',
      `The tokens with the largest and smallest values when every other axis is fixed below (click a heatmap cell to take its position). ` +
        `For W_E: the tokens whose embedding has the most of residual dimension i; for W_U: the tokens that direction i pushes up and down.`,
    ),
  );
  const fields = el('div', 'tv-rank-fields');
  rankInputs = [];
  v.show.dims.forEach((size, a) => {
    if (a === vocab) return;
    const label = el('label', 'tv-axis');
    const input = el('input', 'tv-num');
    input.type = 'number';
    input.min = '0';
    input.max = String(size - 1);
    input.value = '0';
    input.dataset.axis = String(a);
    input.dataset.testid = `tv-rank-index-${a}`;
    rankInputs.push(input);
    label.append(el('span', 'tv-axis-name', axisLabel(v, a)), input);
    fields.append(label);
  });
  const results = el('div', 'tv-rank-results');
  results.dataset.testid = 'tv-rank-results';
  fields.append(button('Rank tokens', () => void runRank(v, results), { testId: 'tv-rank-run', appearance: 'primary' }));
  section.append(fields, results);
  return section;
}

function pickForRank(v: View, r: number, c: number): void {
  if (v.show.vocabAxis === null || !v.slice) return;
  const idx = [...v.index];
  if (v.rowAxis !== null) idx[v.rowAxis] = v.slice.rowFrom + r;
  if (v.colAxis !== null) idx[v.colAxis] = v.slice.colFrom + c;
  for (const input of rankInputs) input.value = String(idx[Number(input.dataset.axis)] ?? 0);
}

async function runRank(v: View, results: HTMLElement): Promise<void> {
  const index = v.show.dims.map((size, a) => {
    const input = rankInputs.find((i) => Number(i.dataset.axis) === a);
    return input ? Math.max(0, Math.min(size - 1, Math.floor(Number(input.value)) || 0)) : 0;
  });
  results.replaceChildren(el('p', 'status', 'Ranking…'));
  try {
    const r = await channel.request({ type: 'tensor/rank', index, k: Math.min(20, MAX_RANKED) });
    const table = (title: string, ids: Int32Array, values: Float32Array, tokens: readonly string[]): HTMLElement => {
      const t = el('table', 'tv-tokens');
      const cap = el('caption', undefined, title);
      t.append(cap);
      ids.forEach((id, i) => {
        const tr = el('tr');
        tr.append(el('td', 'tok', JSON.stringify(tokens[i] ?? '')), el('td', 'num', String(id)), el('td', 'num', fmt(values[i]!)));
        t.append(tr);
      });
      return t;
    };
    const at = index.map((x, a) => (a === v.show.vocabAxis ? ':' : String(x))).join(', ');
    results.replaceChildren(
      el('p', 'summary', `${v.show.title}[${at}]`),
      table('largest', r.topIds, r.topValues, r.topTokens),
      table('smallest', r.bottomIds, r.bottomValues, r.bottomTokens),
    );
  } catch (e) {
    results.replaceChildren(el('p', 'status error', (e as Error).message));
  }
}

// ---------------------------------------------------------------------------------------------
// A head's OV/QK circuit: its top singular directions and the tokens at each end of each side

/** What each side of a circuit's direction means, in the words of the OV/QK reading. */
const SIDES = {
  OV: { input: 'input tokens (W_E · u)', output: 'output logits (v · W_U)' },
  QK: { input: 'query tokens (W_E · u)', output: 'key tokens (W_E · v)' },
} as const;

function directionsSection(circuit: 'OV' | 'QK'): HTMLElement {
  const section = el('section', 'tv-dirs');
  section.dataset.testid = 'tv-directions';
  section.append(el('h2', undefined, 'Singular directions'));
  section.append(
    el(
      'p',
      'summary',
      circuit === 'OV'
        ? 'M = W_V·W_O = Σ σᵢ uᵢ vᵢᵀ. A token whose embedding lies along uᵢ makes the head write along vᵢ, raising the logits at the same end. ' +
            'A pair’s sign is arbitrary; the + ends go together, as do the − ends.'
        : 'M = W_Q·W_Kᵀ = Σ σᵢ uᵢ vᵢᵀ. A query token along uᵢ attends to key tokens along vᵢ at the same end (+ with +, − with −); a pair’s sign is arbitrary.',
    ),
  );
  const fields = el('div', 'tv-rank-fields');
  const count = el('input', 'tv-num');
  count.type = 'number';
  count.min = '1';
  count.max = String(MAX_DIRECTIONS);
  count.value = '8';
  count.dataset.testid = 'tv-dirs-k';
  const label = el('label', 'tv-axis');
  label.append(el('span', 'tv-axis-name', 'directions'), count);
  const results = el('div', 'tv-dirs-results');
  results.dataset.testid = 'tv-dirs-results';
  const run = (): void => void runDirections(circuit, Math.max(1, Math.min(MAX_DIRECTIONS, Math.floor(Number(count.value)) || 1)), results);
  fields.append(label, button('Compute', run, { testId: 'tv-dirs-run' }));
  section.append(fields, results);
  run();
  return section;
}

function tokenList(title: string, tokens: readonly WireToken[]): HTMLElement {
  const t = el('table', 'tv-tokens');
  t.append(el('caption', undefined, title));
  for (const tok of tokens) {
    const tr = el('tr');
    tr.title = `token ${tok.id}`;
    tr.append(el('td', 'tok', JSON.stringify(tok.text)), el('td', 'num', fmt(tok.value)));
    t.append(tr);
  }
  return t;
}

async function runDirections(circuit: 'OV' | 'QK', k: number, results: HTMLElement): Promise<void> {
  results.replaceChildren(el('p', 'status', 'Computing the singular directions…'));
  try {
    const r = await channel.request({ type: 'tensor/directions', k, tokens: Math.min(8, MAX_DIRECTION_TOKENS) });
    const sides = SIDES[circuit];
    // ‖M‖²_F = Σσ² over all directions, recovered from the dense circuit's statistics: Σx² = (n−1)·std² + n·mean².
    const st = view?.show.stats;
    const frob = st && st.std !== null && st.mean !== null ? (st.count - 1) * st.std ** 2 + st.count * st.mean ** 2 : null;
    results.replaceChildren(
      ...r.directions.map((d, i) => {
        const box = el('div', 'tv-dir');
        box.dataset.testid = `tv-dir-${i}`;
        const head = el('p', 'tv-dir-head');
        head.append(el('strong', undefined, `σ${i + 1} = ${fmt(d.sigma)}`));
        if (frob) head.append(el('span', 'summary', ` · ${((100 * d.sigma * d.sigma) / frob).toFixed(1)}% of ‖M‖²_F`));
        const lists = el('div', 'tv-rank-results');
        lists.append(
          tokenList(`+ ${sides.input}`, d.inputTop),
          tokenList(`+ ${sides.output}`, d.outputTop),
          tokenList(`− ${sides.input}`, d.inputBottom),
          tokenList(`− ${sides.output}`, d.outputBottom),
        );
        box.append(head, lists);
        return box;
      }),
    );
  } catch (e) {
    results.replaceChildren(el('p', 'status error', (e as Error).message));
  }
}

// The theme changed (VS Code swaps the body's class and its variables): draw the colours again.
new MutationObserver(() => {
  drawHeat();
  const c = app.querySelector<HTMLCanvasElement>('[data-testid="tv-histogram"]');
  if (c && view) drawHistogram(c, view.show.histCounts, view.show.histLo, view.show.histHi);
}).observe(document.body, { attributes: true, attributeFilter: ['class'] });

const channel = new WebviewChannel<TensorProtocol>(tensorHostSchemas, (msg) => {
  switch (msg.type) {
    case 'tensor/show':
      render(msg);
      break;
    case 'tensor/status':
      if (view === null || msg.error) statusLine(msg.message, msg.error);
      break;
    default:
      assertNever(msg, 'tensor view host message');
  }
});

channel.notify({ type: 'ready' });
