// The ablation controls in the panel's action bar: how the Ablate buttons of the attention and
// neuron views ablate (zero, mean, resample), where the mean is taken (this prompt's positions, or
// a file the host asks for), and the prompt resample ablations take their values from (it must
// tokenize to as many tokens as the panel's input). The host keeps the sources; each run says them back.
import { ABLATION_METHODS, type AblationMethod, type ActRun, type PanelAblation } from '../../src/protocol/activation';
import { button, dropdown, el, textField } from '../shared/ui';
import { channel } from './channel';
import { panel } from './state';

const METHOD_TEXT: Record<AblationMethod, string> = {
  zero: 'Ablate: zero',
  mean: 'Ablate: mean',
  resample: 'Ablate: resample',
};

export const ablationControls = el('span', 'ablation-controls');
const meanBox = el('span', 'ablation-source');
const meanLabel = el('span', 'hint');
meanLabel.dataset.testid = 'mean-source';
const resampleBox = el('span', 'ablation-source');
const resampleField = textField('resample from prompt', '', () => undefined, 'resample-prompt');

const method = dropdown(
  ABLATION_METHODS.map((m) => ({ value: m, label: METHOD_TEXT[m] })),
  'zero',
  (m) => {
    panel.ablationMethod = m;
    showSources();
  },
  'ablation-method',
);
method.element.setAttribute('title', 'How the Ablate buttons of the Attention and Neurons views ablate');

meanBox.append(
  el('span', '', 'mean over'),
  meanLabel,
  button('This prompt', () => channel.notify({ type: 'act/meanSource', from: 'prompt' }), {
    testId: 'mean-from-prompt',
    title: "Take the mean over this prompt's positions",
  }),
  button('A file…', () => channel.notify({ type: 'act/meanSource', from: 'file' }), {
    testId: 'mean-from-file',
    title: "Take the mean over a file's text (its first n_ctx tokens)",
  }),
);
resampleBox.append(
  resampleField.element,
  button('Set', () => channel.notify({ type: 'act/resamplePrompt', text: resampleField.value() }), {
    testId: 'set-resample',
    title: "Resample ablations take this prompt's values at the same positions (same token count)",
  }),
);
ablationControls.append(method.element, meanBox, resampleBox);

function showSources(): void {
  meanBox.hidden = panel.ablationMethod !== 'mean';
  resampleBox.hidden = panel.ablationMethod !== 'resample';
}
showSources();

/** The run's sources, as the host has them. */
export function showAblationSources(r: ActRun): void {
  meanLabel.textContent = r.meanSource === '' ? "this prompt's positions" : r.meanSource;
  if (resampleField.value() === '') resampleField.setValue(r.resamplePrompt);
}

/** "L1H2 (mean)" */
export function ablationText(a: PanelAblation): string {
  const what = a.kind === 'head' ? `L${a.layer}H${a.index}` : `L${a.layer} N${a.index}`;
  return a.method && a.method !== 'zero' ? `${what} (${a.method})` : what;
}

/** The ablation an Ablate button sends: the chosen method. */
export function ablationOf(kind: 'head' | 'neuron', layer: number, index: number): PanelAblation {
  return { kind, layer, index, method: panel.ablationMethod };
}
