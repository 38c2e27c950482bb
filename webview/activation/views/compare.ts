// The Compare view: two runs side by side. A is the panel's prompt with its ablations and steering
// and B the same prompt without them, or A this prompt and B another typed prompt (both plain).
// Three differences: the logit lens at the last position per layer, read at both runs' top next
// tokens (A − B); one head's attention pattern over the positions both prompts have (A − B); and
// each run's top next tokens. Maps are ImageData from a precomputed colour table, scaled up.
import type { ActRun, CompareReply } from '../../../src/protocol/activation';
import { button, dropdown, el, textField } from '../../shared/ui';
import { channel } from '../channel';
import { colorTable } from '../colors';
import { cellImage, labelledHeatmap } from '../heatmapCanvas';
import { viewRoot } from '../layout';
import { fmt, panel, SLOW_MS } from '../state';
import { legend } from '../viewKit';

const LEFT = 80;
const TOP = 18;

const form = { mode: 'interventions' as 'interventions' | 'prompt', other: '', head: '' };
let last: { runId: number; reply: CompareReply } | undefined;

export function resetCompare(): void {
  last = undefined;
}

export function renderCompare(r: ActRun): void {
  const hasInterventions = r.ablations.length > 0 || r.steering !== null;
  const mode = dropdown(
    [
      { value: 'interventions', label: 'this prompt: with vs without the ablations and steering' },
      { value: 'prompt', label: 'this prompt vs another prompt' },
    ] as const,
    form.mode,
    (v) => {
      form.mode = v;
      other.element.hidden = v !== 'prompt';
    },
    'compare-mode',
  );
  const other = textField('the other prompt', form.other, (v) => (form.other = v), 'compare-other');
  other.element.hidden = form.mode !== 'prompt';
  const heads = Array.from({ length: r.nLayers * r.nHeads }, (_, k) => ({
    value: `${Math.floor(k / r.nHeads)}.${k % r.nHeads}`,
    label: `head L${Math.floor(k / r.nHeads)}H${k % r.nHeads}`,
  }));
  // The last layer's first head by default: every intervention upstream of it can show there.
  const head = dropdown(heads, form.head || heads[heads.length - r.nHeads]!.value, (v) => (form.head = v), 'compare-head');
  const out = el('div', 'compare-out');
  out.dataset.testid = 'compare-out';
  const go = button(
    'Compare',
    () => {
      const [layer, h] = head.value().split('.').map(Number) as [number, number];
      void run(out, r, form.mode === 'prompt' ? other.value() : null, layer, h);
    },
    { appearance: 'primary', testId: 'compare-run' },
  );
  const controls = el('div', 'view-controls');
  controls.append(mode.element, other.element, head.element, go);
  viewRoot.append(
    el('h2', 'detail-title', 'Compare two runs'),
    controls,
    el(
      'p',
      'hint',
      hasInterventions
        ? 'A − B: orange where A is higher, blue where B is.'
        : 'This run has no ablations or steering: compare with another prompt, or add some first. A − B: orange where A is higher.',
    ),
    out,
  );
  if (last && last.runId === r.runId) show(out, last.reply);
}

async function run(out: HTMLElement, r: ActRun, other: string | null, layer: number, head: number): Promise<void> {
  out.replaceChildren(el('p', 'hint', 'Running both…'));
  try {
    const reply = await channel.request({ type: 'act/compare', runId: r.runId, other, layer, head }, SLOW_MS);
    last = { runId: r.runId, reply };
    show(out, reply);
  } catch (e) {
    out.replaceChildren(el('p', 'hint error', `Could not compare: ${(e as Error).message}`));
  }
}

function show(out: HTMLElement, d: CompareReply): void {
  const names = new Map(Array.from(d.stringIds, (id, k) => [id, d.strings[k]!] as const));
  const name = (id: number): string => JSON.stringify(names.get(id) ?? `#${id}`);
  const readout = el('div', 'readout', 'Hover a cell for both values.');
  readout.dataset.testid = 'compare-readout';
  readout.setAttribute('aria-live', 'polite');
  const T = d.targets.length;
  const lensDiff = d.lensA.map((a, k) => a - d.lensB[k]!);
  const lens = signedMap(
    lensDiff,
    d.layers,
    Array.from(d.targets, (id) => name(id)),
    (r, c) =>
      `${d.layers[r]} · ${name(d.targets[c]!)}: ${d.labelA} ${fmt(d.lensA[r * T + c]!, 4)}, ${d.labelB} ${fmt(d.lensB[r * T + c]!, 4)}, A − B ${fmt(lensDiff[r * T + c]!, 4)}`,
    readout,
    'compare-lens',
  );
  const patDiff = d.patternA.map((a, k) => a - d.patternB[k]!);
  const m = d.m;
  const pattern = signedMap(
    patDiff,
    d.tokensA.map((t, q) => (t === d.tokensB[q] ? t : `${t}/${d.tokensB[q]}`)),
    d.tokensA.map((_, k) => String(k)),
    (q, k) =>
      k > q
        ? `query ${q} cannot attend to key ${k} (causal)`
        : `L${d.layer}H${d.head} query ${q} → key ${k}: ${d.labelA} ${fmt(d.patternA[q * m + k]!)}, ${d.labelB} ${fmt(d.patternB[q * m + k]!)}, A − B ${fmt(patDiff[q * m + k]!)}`,
    readout,
    'compare-pattern',
  );
  const tops = el('div', 'steer-tables');
  tops.append(
    topTable(`Next tokens: A, ${d.labelA}`, d.topIdsA, d.topProbsA, name),
    topTable(`Next tokens: B, ${d.labelB}`, d.topIdsB, d.topProbsB, name),
  );
  out.replaceChildren(
    el('div', 'detail-title', `Logit lens at the last position (A − B), at both runs' top next tokens`),
    legend('probability A − B', true),
    lens.box,
    el('div', 'detail-title', `Attention pattern of L${d.layer}H${d.head} (A − B), first ${m} positions`),
    pattern.box,
    readout,
    tops,
  );
  panel.mainCanvas = lens.canvas;
}

function topTable(caption: string, ids: Int32Array, probs: Float32Array, name: (id: number) => string): HTMLElement {
  const t = el('table', 'topk');
  t.append(el('caption', '', caption));
  ids.forEach((id, j) => {
    const tr = el('tr');
    tr.append(el('td', 'num', String(j + 1)), el('td', 'tok-cell', name(id)), el('td', 'num', fmt(probs[j]!, 4)));
    t.append(tr);
  });
  return t;
}

/** A signed heatmap scaled to its largest |value|, one pixel per cell from the colour table, scaled up without smoothing. */
function signedMap(
  values: Float32Array,
  rowNames: readonly string[],
  colNames: readonly string[],
  describe: (r: number, c: number) => string,
  readout: HTMLElement,
  testId: string,
): { box: HTMLElement; canvas: HTMLCanvasElement } {
  const rows = rowNames.length;
  const cols = colNames.length;
  let scale = 1e-6;
  for (const v of values) if (Number.isFinite(v)) scale = Math.max(scale, Math.abs(v));
  const image = cellImage(values, rows, cols, colorTable('diverging'), (v) => (v / scale + 1) / 2);
  const cell = Math.max(6, Math.min(32, Math.floor(Math.max(240, (viewRoot.clientWidth || 800) - LEFT - 24) / cols)));
  const canvas = labelledHeatmap(image, {
    cell,
    left: LEFT,
    top: TOP,
    rowNames: rowNames.map((n) => n.slice(0, 12)),
    colNames,
    ariaLabel: `${rows} × ${cols} difference map, scale ±${fmt(scale, 4)}`,
    testId,
  });
  canvas.addEventListener('mousemove', (ev) => {
    const box = canvas.getBoundingClientRect();
    const c = Math.floor((ev.clientX - box.left - LEFT) / cell);
    const r = Math.floor((ev.clientY - box.top - TOP) / cell);
    readout.textContent = r >= 0 && r < rows && c >= 0 && c < cols ? describe(r, c) : '';
  });
  const box = el('section', 'experiment');
  box.append(el('span', 'hint', `scale ±${fmt(scale, 4)}`), canvas);
  return { box, canvas };
}
