// The logit lens view: the top token of each layer's accumulated residual through ln_final and
// the unembedding, per position. Positions arrive in windows as the user scrolls, so a long
// input never waits for every position at once.
import type { ActRun, LogitLensReply } from '../../../src/protocol/activation';
import { el } from '../../shared/ui';
import { canvasGrid } from '../canvasGrid';
import { channel } from '../channel';
import { textOnViridis, themeColor, viridis } from '../colors';
import { status, viewRoot } from '../layout';
import { fmt, panel, SLOW_MS, str } from '../state';
import { cellWidth, legend } from '../viewKit';

/** Positions of the logit lens asked for at once: about what a panel shows, about a second on a CPU for GPT-2 small. */
const LENS_WINDOW = 32;

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

export function resetLogitLens(): void {
  lensData = undefined;
}

export async function renderLogitLens(r: ActRun): Promise<void> {
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
    if (panel.run !== r) return;
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
    if (panel.view !== 'logitLens') return;
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
  panel.mainCanvas = g.canvas;

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
        if (panel.view === 'logitLens') d.redraw?.();
      } catch (e) {
        d.windows[k] = 0;
        status.textContent = (e as Error).message;
        return;
      }
    }
  }
}

/** Copies one window's rows [layers, to - from] into the run's [layers, pos] arrays. */
function store(d: LensRows, w: LogitLensReply): void {
  for (let k = 0; k < w.stringIds.length; k++) panel.strings.set(w.stringIds[k]!, w.strings[k]!);
  const pos = d.topIds.length / d.labels.length;
  const width = w.to - w.from;
  for (let l = 0; l < d.labels.length; l++) {
    d.topIds.set(w.topIds.subarray(l * width, (l + 1) * width), l * pos + w.from);
    d.topProbs.set(w.topProbs.subarray(l * width, (l + 1) * width), l * pos + w.from);
    d.nextProb.set(w.nextProb.subarray(l * width, (l + 1) * width), l * pos + w.from);
  }
  for (let p = w.from; p < w.to; p += LENS_WINDOW) d.windows[Math.floor(p / LENS_WINDOW)] = 2;
}
