// Activation panel: tokens along the top and five views over one run (attention, neurons, logit
// lens, residual stream, loss). Switching views never re-runs the model: the summary came with
// the run and each view asks the host once for what it draws. Contract: src/protocol/activation.ts.
import '../../media/activation.css';
import {
  activationHostSchemas,
  ACTIVATION_VIEWS,
  type ActivationProtocol,
  type ActivationView,
  type ActRun,
  type NeuronsReply,
} from '../../src/protocol/activation';
import { assertNever } from '../../src/protocol/envelope';
import { vscodeApi, WebviewChannel } from '../shared/messaging';
import { button, el } from '../shared/ui';
import { canvasGrid } from './canvasGrid';
import { diverging, textOnViridis, themeColor, viridis } from './colors';

const VIEW_TITLES: Record<ActivationView, string> = {
  attention: 'Attention',
  neurons: 'Neurons',
  logitLens: 'Logit lens',
  residual: 'Residual stream',
  loss: 'Loss',
};
/** Long requests may take a while on the CPU, and a request may wait behind another in the engine. */
const SLOW_MS = 180_000;
/** Positions of the logit lens asked for at once: about what a panel shows, about a second on a CPU for GPT-2 small. */
const LENS_WINDOW = 32;
/** Narrowest cell of a one-row-per-position view: wide enough for a column label; longer inputs scroll. */
const MIN_CELL = 14;

const app = document.getElementById('app')!;
const header = el('header', 'act-header');
const title = el('h1', 'act-title', 'Activations');
const source = el('span', 'act-source');
const modelBadge = el('span', 'model-badge');
modelBadge.dataset.testid = 'model-label';
// Which from_pretrained processing produced the numbers, in TransformerLens's words.
const processingBadge = el('code', 'processing-badge');
processingBadge.dataset.testid = 'processing-label';
const meanLoss = el('span', 'mean-loss');
meanLoss.dataset.testid = 'mean-loss';
const actions = el('div', 'act-actions');
const ablationList = el('span', 'ablations');
ablationList.dataset.testid = 'ablations';
const status = el('div', 'status');
status.setAttribute('role', 'status');
status.dataset.testid = 'status';
const notice = el('div', 'note truncation');
notice.dataset.testid = 'truncation';
const strip = el('div', 'token-strip');
strip.dataset.testid = 'tokens';
const tabs = el('div', 'tabs');
tabs.setAttribute('role', 'tablist');
const viewRoot = el('main', 'view');
viewRoot.dataset.testid = 'view';
header.append(title, source, modelBadge, processingBadge, meanLoss);
actions.append(
  ablationList,
  button('Reset ablations', () => channel.notify({ type: 'act/reset' }), { testId: 'reset', title: 'Run again without ablations' }),
  button('Export cache…', () => channel.notify({ type: 'act/exportCache' }), {
    testId: 'export-cache',
    title: 'Save every hook point as .safetensors (TransformerLens names)',
  }),
  button('Export PNG…', () => sendPng(0), { testId: 'export-png', title: 'Save this view as PNG' }),
);
app.append(header, actions, notice, status, strip, tabs, viewRoot);

const saved = vscodeApi().getState() as { view?: ActivationView } | undefined;
let view: ActivationView = saved?.view && ACTIVATION_VIEWS.includes(saved.view) ? saved.view : 'attention';
let run: ActRun | undefined;
let strings = new Map<number, string>();
// Per-run memo of what each view asked for, so switching back is instant.
/** The logit lens windows received so far for the current run: [layers, pos] each. */
interface LensRows {
  readonly runId: number;
  labels: readonly string[];
  topIds: Int32Array;
  topProbs: Float32Array;
  nextProb: Float32Array;
  /** Per window of LENS_WINDOW positions: 0 not asked, 1 asked, 2 here. */
  readonly windows: Uint8Array;
  /** The grid showing these rows now (a view switch makes a new one). */
  redraw?: () => void;
}
let lensData: LensRows | undefined;
let neuronsData: NeuronsReply | undefined;
let openHead: { layer: number; head: number; data: Float32Array } | undefined;
let neuronLayer = 0;
let selectedPos = 0;
let mainCanvas: HTMLCanvasElement | undefined;

const tabButtons = new Map<ActivationView, HTMLButtonElement>();
for (const v of ACTIVATION_VIEWS) {
  const b = el('button', 'tab', VIEW_TITLES[v]);
  b.setAttribute('role', 'tab');
  b.dataset.testid = `tab-${v}`;
  b.addEventListener('click', () => setView(v));
  b.addEventListener('keydown', (ev) => {
    const i = ACTIVATION_VIEWS.indexOf(v);
    const d = ev.key === 'ArrowRight' ? 1 : ev.key === 'ArrowLeft' ? -1 : 0;
    if (d === 0) return;
    const next = ACTIVATION_VIEWS[(i + d + ACTIVATION_VIEWS.length) % ACTIVATION_VIEWS.length]!;
    setView(next);
    tabButtons.get(next)!.focus();
  });
  tabButtons.set(v, b);
  tabs.append(b);
}

const channel = new WebviewChannel<ActivationProtocol>(activationHostSchemas, (msg) => {
  switch (msg.type) {
    case 'act/run':
      showRun(msg);
      break;
    case 'act/status':
      status.textContent = msg.message;
      status.classList.toggle('error', msg.error);
      break;
    case 'act/wantPng':
      sendPng(msg.requestId);
      break;
    default:
      assertNever(msg, 'activation message');
  }
});

function sendPng(requestId: number): void {
  const c = mainCanvas;
  if (!c) {
    status.textContent = 'This view has nothing drawn to export yet.';
    return;
  }
  channel.notify({ type: 'act/png', requestId, view, dataUrl: c.toDataURL('image/png') });
}

function str(id: number): string {
  return strings.get(id) ?? `#${id}`;
}

function fmt(x: number, digits = 3): string {
  return Number.isFinite(x) ? x.toFixed(digits) : '–';
}

function showRun(msg: ActRun): void {
  run = msg;
  strings = new Map(Array.from(msg.stringIds, (id, k) => [id, msg.strings[k]!] as const));
  lensData = undefined;
  neuronsData = undefined;
  if (openHead) openHead = undefined;
  selectedPos = Math.min(selectedPos, msg.tokens.length - 1);
  source.textContent = msg.source;
  // The host's label already says "demo model: random weights" for random weights, and names
  // where they came from when that is a folder or a repository rather than the built-in demo.
  modelBadge.textContent = msg.modelLabel;
  modelBadge.classList.toggle('demo', msg.isDemo);
  processingBadge.textContent = msg.processing;
  meanLoss.textContent = `mean loss ${fmt(msg.meanLoss)} nats`;
  notice.textContent = msg.truncation;
  ablationList.textContent = msg.ablations.length
    ? `Ablated: ${msg.ablations.map((a) => (a.kind === 'head' ? `L${a.layer}H${a.index}` : `L${a.layer} N${a.index}`)).join(', ')}`
    : '';
  vscodeApi().setState({ text: msg.savedText, source: msg.source, view });
  renderStrip();
  render();
}

function renderStrip(): void {
  strip.replaceChildren();
  if (!run) return;
  run.tokens.forEach((id, i) => {
    const t = el('span', 'tok', str(id));
    t.dataset.index = String(i);
    t.title = `position ${i}, id ${id}`;
    if (i === selectedPos) t.classList.add('selected');
    strip.append(t);
  });
}

/** Recolours the token strip in place (viridis over `colors`, or the theme's when absent). */
function colorStrip(colors?: Float32Array): void {
  let max = 0;
  if (colors) for (const x of colors) max = Math.max(max, Math.abs(x));
  strip.querySelectorAll<HTMLElement>('.tok').forEach((t, i) => {
    if (!colors || max === 0) {
      t.style.removeProperty('background');
      t.style.removeProperty('color');
      return;
    }
    const v = colors[i]! / max;
    t.style.background = viridis(v);
    t.style.color = textOnViridis(v);
  });
}

strip.addEventListener('mouseover', (ev) => {
  const idx = Number((ev.target as HTMLElement).dataset.index);
  if (!Number.isInteger(idx) || !run || !openHead || view !== 'attention') return;
  const pos = run.tokens.length;
  const row = openHead.data.subarray(idx * pos, (idx + 1) * pos);
  const col = Float32Array.from({ length: pos }, (_, q) => openHead!.data[q * pos + idx]!);
  attnInfo.textContent = `${JSON.stringify(str(run.tokens[idx]!))} (pos ${idx}) attends most to ${best(row)}; attended most by ${best(col)}`;
  colorStrip(row);
});
strip.addEventListener('mouseleave', () => {
  colorStrip();
});

function best(v: Float32Array): string {
  let j = 0;
  for (let i = 1; i < v.length; i++) if (v[i]! > v[j]!) j = i;
  return `${JSON.stringify(str(run!.tokens[j]!))} (pos ${j}, ${fmt(v[j]!)})`;
}
const attnInfo = el('div', 'readout attn-info');
attnInfo.dataset.testid = 'attn-info';

function setView(v: ActivationView): void {
  view = v;
  channel.notify({ type: 'act/view', view: v });
  if (run) vscodeApi().setState({ text: run.savedText, source: run.source, view });
  render();
}

function render(): void {
  for (const [v, b] of tabButtons) {
    b.setAttribute('aria-selected', String(v === view));
    b.tabIndex = v === view ? 0 : -1;
  }
  viewRoot.replaceChildren();
  mainCanvas = undefined;
  if (!run) return;
  viewRoot.dataset.view = view;
  switch (view) {
    case 'attention':
      return renderAttention(run);
    case 'neurons':
      return void renderNeurons(run);
    case 'logitLens':
      return void renderLogitLens(run);
    case 'residual':
      return renderResidual(run);
    case 'loss':
      return renderLoss(run);
    default:
      assertNever(view, 'view');
  }
}

/**
 * Cell width so a row of `n` positions fits about `budget` pixels, and the panel's width when it
 * can; never under `min`: past that the grid scrolls (it draws only the columns in view).
 */
function cellWidth(n: number, budget: number, max: number, min = MIN_CELL): number {
  const room = Math.max(200, (viewRoot.clientWidth || budget) - 110);
  return Math.max(min, Math.min(max, Math.floor(Math.min(budget, room) / n)));
}

function renderAttention(r: ActRun): void {
  const grid = el('div', 'head-grid');
  grid.dataset.testid = 'head-grid';
  grid.setAttribute('role', 'grid');
  grid.style.gridTemplateColumns = `auto repeat(${r.nHeads}, 52px)`;
  const t = r.thumb;
  const cells: HTMLCanvasElement[] = [];
  grid.append(el('span', 'axis', ''));
  for (let h = 0; h < r.nHeads; h++) grid.append(el('span', 'axis', `H${h}`));
  for (let l = 0; l < r.nLayers; l++) {
    grid.append(el('span', 'axis', `L${l}`));
    for (let h = 0; h < r.nHeads; h++) {
      const c = el('canvas', 'thumb');
      c.width = t;
      c.height = t;
      c.tabIndex = l === 0 && h === 0 ? 0 : -1;
      c.dataset.layer = String(l);
      c.dataset.head = String(h);
      c.dataset.testid = 'head-cell';
      c.setAttribute('role', 'gridcell');
      c.setAttribute('aria-label', `Layer ${l} head ${h}: press Enter to open`);
      const ctx = c.getContext('2d')!;
      const base = (l * r.nHeads + h) * t * t;
      let max = 0;
      for (let k = 0; k < t * t; k++) max = Math.max(max, r.thumbs[base + k]!);
      for (let q = 0; q < t; q++)
        for (let k = 0; k < t; k++) {
          ctx.fillStyle = viridis(max > 0 ? r.thumbs[base + q * t + k]! / max : 0);
          ctx.fillRect(k, q, 1, 1);
        }
      c.addEventListener('click', () => void openPattern(l, h));
      c.addEventListener('keydown', (ev) => {
        const d: Record<string, [number, number]> = { ArrowUp: [-1, 0], ArrowDown: [1, 0], ArrowLeft: [0, -1], ArrowRight: [0, 1] };
        const m = d[ev.key];
        if (m) {
          ev.preventDefault();
          const nl = Math.max(0, Math.min(r.nLayers - 1, l + m[0]));
          const nh = Math.max(0, Math.min(r.nHeads - 1, h + m[1]));
          const next = cells[nl * r.nHeads + nh]!;
          for (const x of cells) x.tabIndex = -1;
          next.tabIndex = 0;
          next.focus();
        } else if (ev.key === 'Enter' || ev.key === ' ') {
          ev.preventDefault();
          void openPattern(l, h);
        }
      });
      cells.push(c);
      grid.append(c);
    }
  }
  const detail = el('section', 'pattern-detail');
  detail.dataset.testid = 'pattern-detail';
  viewRoot.append(
    el(
      'p',
      'hint',
      `Mean attention pattern of each of ${r.nLayers} layers × ${r.nHeads} heads (query ↓, key →). Click or press Enter to open one.`,
    ),
    grid,
    detail,
  );
  mainCanvas = cells[0];
  if (openHead) drawPattern(detail, r);

  async function openPattern(layer: number, head: number): Promise<void> {
    status.textContent = `Loading L${layer}H${head}…`;
    try {
      const reply = await channel.request({ type: 'act/pattern', runId: r.runId, layer, head });
      if (run !== r) return;
      openHead = { layer, head, data: reply.data };
      status.textContent = '';
      drawPattern(detail, r);
    } catch (e) {
      status.textContent = (e as Error).message;
    }
  }
}

function drawPattern(detail: HTMLElement, r: ActRun): void {
  const o = openHead!;
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
    () => channel.notify({ type: 'act/ablate', ablation: { kind: 'head', layer: o.layer, index: o.head } }),
    {
      testId: 'ablate-head',
      title: 'Zero this head (hook_z) and run again',
    },
  );
  detail.replaceChildren(
    head,
    ablate,
    el('p', 'hint', 'Hover a token above to see where it attends and what attends to it.'),
    attnInfo,
    g.root,
  );
  mainCanvas = g.canvas;
}

async function renderNeurons(r: ActRun): Promise<void> {
  const bar = el('div', 'view-controls');
  const select = el('select', 'layer-select');
  select.dataset.testid = 'neuron-layer';
  for (let l = 0; l < r.nLayers; l++) {
    const o = el('option', '', `Layer ${l}`);
    o.value = String(l);
    select.append(o);
  }
  select.value = String(neuronLayer);
  select.setAttribute('aria-label', 'Layer');
  select.addEventListener('change', () => {
    neuronLayer = Number(select.value);
    neuronsData = undefined;
    render();
  });
  bar.append(el('span', '', 'MLP hook_post of'), select);
  const body = el('section', 'neurons');
  viewRoot.append(bar, body);
  if (!neuronsData || neuronsData.layer !== neuronLayer) {
    body.textContent = 'Loading neurons…';
    try {
      neuronsData = await channel.request({ type: 'act/neurons', runId: r.runId, layer: neuronLayer, neuron: null }, SLOW_MS);
    } catch (e) {
      body.textContent = (e as Error).message;
      return;
    }
    if (run !== r || view !== 'neurons') return;
  }
  drawNeurons(body, r, neuronsData);
}

function drawNeurons(body: HTMLElement, r: ActRun, d: NeuronsReply): void {
  const pos = r.tokens.length;
  const n = d.ids.length;
  let max = 0;
  for (const x of d.values) max = Math.max(max, Math.abs(x));
  const g = canvasGrid(
    {
      rows: n,
      cols: pos,
      cellW: cellWidth(pos, 900, 24),
      cellH: 12,
      left: 56,
      top: 60,
      fill: (i, p) => diverging(max > 0 ? d.values[p * n + i]! / max : 0),
      rowLabel: (i) => `N${d.ids[i]}`,
      colLabel: (p) => str(r.tokens[p]!),
      describe: (i, p) => `L${d.layer} N${d.ids[i]} at ${p} ${JSON.stringify(str(r.tokens[p]!))}: ${fmt(d.values[p * n + i]!)}`,
      onActivate: (i) => void pick(d.ids[i]!),
      label: `Top ${n} neurons of layer ${d.layer} over tokens`,
    },
    'neuron-canvas',
  );
  const list = el('ol', 'neuron-list');
  list.dataset.testid = 'top-neurons';
  d.ids.slice(0, 10).forEach((id, i) => {
    let peak = -Infinity;
    for (let p = 0; p < pos; p++) peak = Math.max(peak, d.values[p * n + i]!);
    const li = el('li');
    const b = el('button', 'link', `N${id}`);
    b.addEventListener('click', () => void pick(id));
    li.append(b, el('span', 'num', ` max ${fmt(peak)}`));
    list.append(li);
  });
  const colored = el('div', 'colored-text');
  colored.dataset.testid = 'neuron-text';
  const vmax = d.neuronValues.reduce((a, x) => Math.max(a, Math.abs(x)), 0);
  r.tokens.forEach((id, p) => {
    const s = el('span', 'tok', str(id));
    s.style.background = diverging(vmax > 0 ? d.neuronValues[p]! / vmax : 0);
    s.style.color = '#000';
    s.title = `${fmt(d.neuronValues[p]!)}`;
    colored.append(s);
  });
  const ablate = button(
    `Ablate L${d.layer} N${d.neuron}`,
    () => channel.notify({ type: 'act/ablate', ablation: { kind: 'neuron', layer: d.layer, index: d.neuron } }),
    {
      testId: 'ablate-neuron',
    },
  );
  body.replaceChildren(
    el('p', 'hint', `Top ${n} neurons by peak activation over the selection (rows), per token (columns); blue negative, orange positive.`),
    g.root,
    el('h2', 'detail-title', 'Top neurons'),
    list,
    el('h2', 'detail-title', `Text coloured by L${d.layer} N${d.neuron}`),
    ablate,
    colored,
  );
  mainCanvas = g.canvas;

  async function pick(neuron: number): Promise<void> {
    try {
      neuronsData = await channel.request({ type: 'act/neurons', runId: r.runId, layer: d.layer, neuron }, SLOW_MS);
      if (run === r && view === 'neurons') drawNeurons(body, r, neuronsData);
    } catch (e) {
      status.textContent = (e as Error).message;
    }
  }
}

async function renderLogitLens(r: ActRun): Promise<void> {
  const body = el('section', 'lens');
  viewRoot.append(body);
  const pos = r.tokens.length;
  const nWindows = Math.ceil(pos / LENS_WINDOW);
  if (!lensData || lensData.runId !== r.runId) {
    // The first window says how many rows there are; later ones come as the user scrolls.
    body.textContent = 'Unembedding every layer’s residual stream…';
    lensData = undefined;
    let first;
    try {
      first = await channel.request({ type: 'act/logitLens', runId: r.runId, from: 0, to: Math.min(pos, LENS_WINDOW) }, SLOW_MS);
    } catch (e) {
      body.textContent = (e as Error).message;
      return;
    }
    if (run !== r) return;
    const layers = first.labels.length;
    lensData = {
      runId: r.runId,
      labels: first.labels,
      topIds: new Int32Array(layers * pos),
      topProbs: new Float32Array(layers * pos),
      nextProb: new Float32Array(layers * pos).fill(NaN),
      windows: new Uint8Array(nWindows),
    };
    store(lensData, first);
    if (view !== 'logitLens') return;
  }
  const d = lensData;
  const rows = d.labels.length;
  const here = (p: number): boolean => d.windows[Math.floor(p / LENS_WINDOW)] === 2;
  const isNext = (l: number, p: number): boolean => here(p) && p + 1 < pos && d.topIds[l * pos + p] === r.tokens[p + 1];
  const pending = themeColor('--vscode-editorWidget-background', '#444');
  const g = canvasGrid(
    {
      rows,
      cols: pos,
      cellW: cellWidth(pos, 1100, 64, 44),
      cellH: 22,
      left: 80,
      top: 60,
      fill: (l, p) => (here(p) ? viridis(d.topProbs[l * pos + p]!) : pending),
      text: (l, p) => (here(p) ? { text: str(d.topIds[l * pos + p]!), color: textOnViridis(d.topProbs[l * pos + p]!) } : null),
      mark: isNext,
      rowLabel: (l) => d.labels[l]!,
      colLabel: (p) => str(r.tokens[p]!),
      describe: (l, p) =>
        !here(p)
          ? `${d.labels[l]} at ${p} ${JSON.stringify(str(r.tokens[p]!))}: loading…`
          : `${d.labels[l]} at ${p} ${JSON.stringify(str(r.tokens[p]!))}: top ${JSON.stringify(str(d.topIds[l * pos + p]!))} p=${fmt(d.topProbs[l * pos + p]!)}` +
            (p + 1 < pos
              ? `; actual next ${JSON.stringify(str(r.tokens[p + 1]!))} p=${fmt(d.nextProb[l * pos + p]!)}${isNext(l, p) ? ' (top = actual next)' : ''}`
              : ''),
      onVisible: (from, to) => void fetchWindows(from, to),
      label: 'Logit lens: top token per layer and position',
    },
    'lens-canvas',
  );
  d.redraw = () => {
    g.canvas.dataset.loaded = String(d.windows.filter((x) => x === 2).length);
    g.redraw();
  };
  g.canvas.dataset.loaded = String(d.windows.filter((x) => x === 2).length);
  body.replaceChildren(
    el(
      'p',
      'hint',
      'Top token of each layer’s accumulated residual through ln_final and the unembedding, coloured by its probability (viridis); outlined where it is the actual next token. Long inputs load as you scroll.',
    ),
    legend('probability', false),
    g.root,
  );
  mainCanvas = g.canvas;

  /** Asks for the windows in view (and the next one) not asked for yet, one request at a time. */
  async function fetchWindows(from: number, to: number): Promise<void> {
    const last = Math.min(nWindows - 1, Math.floor(Math.max(from, to - 1) / LENS_WINDOW) + 1);
    for (let k = Math.floor(from / LENS_WINDOW); k <= last; k++) {
      if (d.windows[k] !== 0) continue;
      d.windows[k] = 1;
      try {
        const reply = await channel.request(
          { type: 'act/logitLens', runId: r.runId, from: k * LENS_WINDOW, to: Math.min(pos, (k + 1) * LENS_WINDOW) },
          SLOW_MS,
        );
        if (lensData !== d) return;
        store(d, reply);
        if (view === 'logitLens') d.redraw?.();
      } catch (e) {
        d.windows[k] = 0;
        status.textContent = (e as Error).message;
        return;
      }
    }
  }
}

/** Copies one window's rows [layers, to - from] into the run's [layers, pos] arrays. */
function store(
  d: LensRows,
  w: {
    labels: readonly string[];
    from: number;
    to: number;
    topIds: Int32Array;
    topProbs: Float32Array;
    nextProb: Float32Array;
    stringIds: Int32Array;
    strings: readonly string[];
  },
): void {
  for (let k = 0; k < w.stringIds.length; k++) strings.set(w.stringIds[k]!, w.strings[k]!);
  const pos = d.topIds.length / d.labels.length;
  const width = w.to - w.from;
  for (let l = 0; l < d.labels.length; l++) {
    d.topIds.set(w.topIds.subarray(l * width, (l + 1) * width), l * pos + w.from);
    d.topProbs.set(w.topProbs.subarray(l * width, (l + 1) * width), l * pos + w.from);
    d.nextProb.set(w.nextProb.subarray(l * width, (l + 1) * width), l * pos + w.from);
  }
  for (let p = w.from; p < w.to; p += LENS_WINDOW) d.windows[Math.floor(p / LENS_WINDOW)] = 2;
}

function renderResidual(r: ActRun): void {
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
      onActivate: (_l, p) => void dla(p),
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
  mainCanvas = g.canvas;
  void dla(selectedPos);

  async function dla(p: number): Promise<void> {
    selectedPos = p;
    const token = p + 1 < pos ? r.tokens[p + 1]! : r.topIds[p * r.topK]!;
    try {
      const d = await channel.request({ type: 'act/dla', runId: r.runId, pos: p, token }, SLOW_MS);
      if (run !== r || view !== 'residual') return;
      drawDla(
        dlaBox,
        d.labels,
        d.values,
        `Direct logit attribution to ${JSON.stringify(d.tokenText)} at position ${p} ${JSON.stringify(str(r.tokens[p]!))}`,
      );
    } catch (e) {
      dlaBox.textContent = (e as Error).message;
    }
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

function renderLoss(r: ActRun): void {
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
  mainCanvas = g.canvas;
  showTopK(selectedPos);

  function showTopK(p: number): void {
    selectedPos = p;
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

function legend(label: string, signed: boolean): HTMLElement {
  const box = el('div', 'legend');
  const c = el('canvas', 'legend-bar');
  c.width = 160;
  c.height = 10;
  const ctx = c.getContext('2d')!;
  for (let x = 0; x < 160; x++) {
    ctx.fillStyle = signed ? diverging((x / 159) * 2 - 1) : viridis(x / 159);
    ctx.fillRect(x, 0, 1, 10);
  }
  box.append(el('span', '', signed ? '−' : 'low'), c, el('span', '', signed ? '+' : 'high'), el('span', 'hint', ` ${label}`));
  return box;
}

render();
channel.notify({ type: 'ready' });
