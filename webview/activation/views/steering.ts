// The Steering view: a steering vector from two prompts (the activation-addition recipe: the
// difference of their mean resid_pre at a layer, times a coefficient, added at every position),
// and the next-token distribution at the last position with and without it. The host computes the
// vector and re-runs the panel with it; the inline logits show it too while it is active.
import type { ActRun, SteerTopReply } from '../../../src/protocol/activation';
import { button, dropdown, el, textField } from '../../shared/ui';
import { channel } from '../channel';
import { viewRoot } from '../layout';
import { fmt, SLOW_MS } from '../state';

/** What the form held last, so switching views keeps it. */
const form = { plus: ' Love', minus: ' Hate', layer: '', coefficient: '5' };

export function renderSteering(r: ActRun): void {
  const active = r.steering;
  const plus = textField('steer towards', active?.plus ?? form.plus, (v) => (form.plus = v), 'steer-plus');
  const minus = textField('steer away from', active?.minus ?? form.minus, (v) => (form.minus = v), 'steer-minus');
  const defaultLayer = String(active?.layer ?? (form.layer === '' ? Math.floor(r.nLayers / 2) : form.layer));
  const layer = dropdown(
    Array.from({ length: r.nLayers }, (_, l) => ({ value: String(l), label: `layer ${l} (resid_pre)` })),
    defaultLayer,
    (v) => (form.layer = v),
    'steer-layer',
  );
  const coef = textField(
    'coefficient',
    String(active?.coefficient ?? form.coefficient),
    (v) => (form.coefficient = v),
    'steer-coefficient',
  );
  const error = el('p', 'hint error');
  const apply = button(
    active ? 'Update steering' : 'Add steering',
    () => {
      const c = Number(coef.value());
      if (coef.value().trim() === '' || !Number.isFinite(c)) {
        error.textContent = 'The coefficient must be a number.';
        return;
      }
      channel.notify({
        type: 'act/steer',
        steering: { plus: plus.value(), minus: minus.value(), layer: Number(layer.value()), coefficient: c },
      });
    },
    { appearance: 'primary', testId: 'steer-apply', title: 'Compute the vector and run again with it added' },
  );
  const controls = el('div', 'view-controls steering-form');
  controls.append(plus.element, minus.element, layer.element, coef.element, apply);
  if (active) {
    controls.append(button('Remove steering', () => channel.notify({ type: 'act/steer', steering: null }), { testId: 'steer-remove' }));
  }
  const state = el('p', 'hint');
  state.dataset.testid = 'steering-state';
  state.textContent = active
    ? `Active: ${fmt(active.coefficient, 2)} × (mean resid_pre of ${JSON.stringify(active.plus)} − of ${JSON.stringify(active.minus)}) at layer ${active.layer}, added at every position. Every view of this run and the inline logits include it.`
    : 'No steering vector. The vector is the difference of the two prompts\u2019 mean residual stream (resid_pre) at the layer, after BOS, times the coefficient; it is added at that layer at every position.';
  const tables = el('div', 'steer-tables');
  tables.dataset.testid = 'steer-tables';
  viewRoot.append(el('h2', 'detail-title', 'Steering vector'), controls, error, state, tables);
  if (active) void fill(tables, r);
}

async function fill(box: HTMLElement, r: ActRun): Promise<void> {
  box.replaceChildren(el('p', 'hint', 'Computing the next tokens with and without the vector…'));
  try {
    const d = await channel.request({ type: 'act/steerTop', runId: r.runId }, SLOW_MS);
    box.replaceChildren(table(d, 'without'), table(d, 'with'));
  } catch (e) {
    box.replaceChildren(el('p', 'hint error', `Could not compute them: ${(e as Error).message}`));
  }
}

function table(d: SteerTopReply, which: 'with' | 'without'): HTMLElement {
  const names = new Map(Array.from(d.stringIds, (id, k) => [id, d.strings[k]!] as const));
  const ids = which === 'with' ? d.withIds : d.withoutIds;
  const probs = which === 'with' ? d.withProbs : d.withoutProbs;
  const t = el('table', 'topk');
  t.dataset.testid = `steer-${which}`;
  t.append(el('caption', '', `Next token ${which} steering (last position)`));
  const head = el('tr');
  head.append(el('th', '', '#'), el('th', '', 'token'), el('th', '', 'probability'));
  t.append(head);
  ids.forEach((id, j) => {
    const tr = el('tr');
    tr.append(
      el('td', 'num', String(j + 1)),
      el('td', 'tok-cell', JSON.stringify(names.get(id) ?? `#${id}`)),
      el('td', 'num', fmt(probs[j]!, 4)),
    );
    t.append(tr);
  });
  return t;
}
