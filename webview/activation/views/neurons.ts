// The neurons view: one layer's top MLP neurons (hook_post) over the tokens, a list of the top
// ten, and the text coloured by the chosen neuron, with its ablate button.
import type { ActRun, NeuronsReply } from '../../../src/protocol/activation';
import { button, el } from '../../shared/ui';
import { canvasGrid } from '../canvasGrid';
import { ablationOf } from '../ablationControls';
import { channel } from '../channel';
import { diverging, textOnDiverging } from '../colors';
import { status, viewRoot } from '../layout';
import { track } from '../progress';
import { fmt, panel, rerender, SLOW_MS, str } from '../state';
import { cellWidth } from '../viewKit';

let neuronsData: NeuronsReply | undefined;
/** The layer chosen in the view's select; kept across runs. */
let neuronLayer = 0;

export function resetNeurons(): void {
  neuronsData = undefined;
}

export async function renderNeurons(r: ActRun): Promise<void> {
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
    rerender();
  });
  bar.append(el('span', '', 'MLP hook_post of'), select);
  const body = el('section', 'neurons');
  viewRoot.append(bar, body);
  if (!neuronsData || neuronsData.layer !== neuronLayer) {
    body.textContent = 'Loading neurons…';
    try {
      neuronsData = await track(
        `Finding layer ${neuronLayer}'s top neurons…`,
        channel.request({ type: 'act/neurons', runId: r.runId, layer: neuronLayer, neuron: null }, SLOW_MS),
      );
    } catch (e) {
      body.textContent = (e as Error).message;
      return;
    }
    if (panel.run !== r || panel.view !== 'neurons') return;
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
    const t = vmax > 0 ? d.neuronValues[p]! / vmax : 0;
    s.style.background = diverging(t);
    s.style.color = textOnDiverging(t);
    s.title = `${fmt(d.neuronValues[p]!)}`;
    colored.append(s);
  });
  const ablate = button(
    `Ablate L${d.layer} N${d.neuron}`,
    () => channel.notify({ type: 'act/ablate', ablation: ablationOf('neuron', d.layer, d.neuron) }),
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
  panel.mainCanvas = g.canvas;

  async function pick(neuron: number): Promise<void> {
    try {
      neuronsData = await track(
        `Reading L${d.layer} N${neuron}…`,
        channel.request({ type: 'act/neurons', runId: r.runId, layer: d.layer, neuron }, SLOW_MS),
      );
      if (panel.run === r && panel.view === 'neurons') drawNeurons(body, r, neuronsData);
    } catch (e) {
      status.textContent = (e as Error).message;
    }
  }
}
