// Activation panel: tokens along the top and one view at a time over one run (views/registry.ts
// lists them). Switching views never re-runs the model: the summary came with the run and each
// view asks the host once for what it draws. Contract: src/protocol/activation.ts.
//
// Where things are: state.ts (the run on screen, the view), channel.ts (messages to the host),
// layout.ts (the page's fixed elements), tokenStrip.ts, viewKit.ts (helpers views share), and
// views/ with one file per view.
import '../../media/activation.css';
import { ACTIVATION_VIEWS, type ActivationView, type ActRun } from '../../src/protocol/activation';
import { assertNever } from '../../src/protocol/envelope';
import { button, el } from '../shared/ui';
import { channel, onHostMessage } from './channel';
import { ablationList, actions, meanLoss, modelBadge, notice, processingBadge, source, status, tabs, viewRoot } from './layout';
import { fmt, onRender, panel, saveState } from './state';
import { hostBusy, onHostBusyChange, showHostBusy } from './progress';
import { renderStrip } from './tokenStrip';
import { VIEWS } from './views/registry';
import { renderExperiment, setExperiment } from './views/experiment';
import { ablationControls, ablationText, showAblationSources } from './ablationControls';

/** Actions that need a run on screen (and no run being made): disabled until there is one. */
const runActions = [
  button('Reset ablations', () => channel.notify({ type: 'act/reset' }), { testId: 'reset', title: 'Run again without ablations' }),
  button('Export cache…', () => channel.notify({ type: 'act/exportCache' }), {
    testId: 'export-cache',
    title: 'Save every hook point as .safetensors (TransformerLens names)',
  }),
  button('Export PNG…', () => sendPng(0), { testId: 'export-png', title: 'Save this view as PNG' }),
];
actions.append(ablationControls, ablationList, ...runActions);

function updateActions(): void {
  const usable = panel.run !== undefined && !hostBusy();
  for (const b of runActions) b.toggleAttribute('disabled', !usable);
}
onHostBusyChange(updateActions);
updateActions();

const tabButtons = new Map<ActivationView, HTMLButtonElement>();
for (const v of ACTIVATION_VIEWS) {
  const b = el('button', 'tab', VIEWS[v].title);
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

onHostMessage((msg) => {
  switch (msg.type) {
    case 'act/run':
      showRun(msg);
      break;
    case 'act/busy':
      showHostBusy(msg);
      break;
    case 'act/status':
      status.textContent = msg.message;
      status.classList.toggle('error', msg.error);
      break;
    case 'act/wantPng':
      sendPng(msg.requestId);
      break;
    case 'act/experiment':
      setExperiment(msg);
      setView('experiment');
      break;
    default:
      assertNever(msg, 'activation message');
  }
});

function sendPng(requestId: number): void {
  const c = panel.mainCanvas;
  if (!c) {
    status.textContent = 'This view has nothing drawn to export yet.';
    return;
  }
  channel.notify({ type: 'act/png', requestId, view: panel.view, dataUrl: c.toDataURL('image/png') });
}

function showRun(msg: ActRun): void {
  panel.run = msg;
  panel.strings = new Map(Array.from(msg.stringIds, (id, k) => [id, msg.strings[k]!] as const));
  for (const v of ACTIVATION_VIEWS) VIEWS[v].reset?.();
  panel.selectedPos = Math.min(panel.selectedPos, msg.tokens.length - 1);
  source.textContent = msg.source;
  // The host's label already says "demo model: random weights" for random weights, and names
  // where they came from when that is a folder or a repository rather than the built-in demo.
  modelBadge.textContent = msg.modelLabel;
  modelBadge.classList.toggle('demo', msg.isDemo);
  processingBadge.textContent = msg.processing;
  meanLoss.textContent = `mean loss ${fmt(msg.meanLoss)} nats`;
  notice.textContent = msg.truncation;
  const ablated = msg.ablations.length ? `Ablated: ${msg.ablations.map(ablationText).join(', ')}` : '';
  const steered = msg.steering ? `Steering: ${msg.steering.coefficient} × at L${msg.steering.layer}` : '';
  ablationList.textContent = [ablated, steered].filter((s) => s !== '').join(' · ');
  showAblationSources(msg);
  saveState();
  renderStrip();
  updateActions();
  render();
}

function setView(v: ActivationView): void {
  panel.view = v;
  channel.notify({ type: 'act/view', view: v });
  saveState();
  render();
}

function render(): void {
  for (const [v, b] of tabButtons) {
    b.setAttribute('aria-selected', String(v === panel.view));
    b.tabIndex = v === panel.view ? 0 : -1;
  }
  viewRoot.replaceChildren();
  panel.mainCanvas = undefined;
  const run = panel.run;
  if (panel.view === 'experiment') {
    viewRoot.dataset.view = panel.view;
    renderExperiment(); // its own data, not the run's (there may be no run yet)
    return;
  }
  if (!run) return;
  viewRoot.dataset.view = panel.view;
  void VIEWS[panel.view].render(run);
}

onRender(render);
render();
channel.notify({ type: 'ready' });
