// What the panel is waiting for, moving: a bar that runs while work is in flight (filling up
// instead when the host says how far it is, as a model load does), what the work is, the seconds
// since it began, and Cancel. Host work (finding and loading the model, running
// it) comes as act/busy; the views' own requests (a head's pattern, the logit lens, …) are
// tracked here with `track`. Cancel stops all of it in the engine (act/cancel).
import type { ActBusy } from '../../src/protocol/activation';
import { button, el } from '../shared/ui';
import { channel } from './channel';
import { busyBox } from './layout';

/** View requests shorter than this show nothing, so quick answers do not flicker. */
const SHOW_AFTER_MS = 300;

interface Task {
  readonly label: string;
  /** 0..1 when known (the host's load): the bar fills instead of sliding. */
  readonly fraction?: number;
  readonly started: number;
  readonly cancel: () => void;
}

let host: (Task & { readonly phase: ActBusy['phase'] }) | undefined;
const views = new Set<Task>();
const listeners: ((hostBusy: boolean) => void)[] = [];

const bar = el('div', 'busy-bar');
bar.setAttribute('role', 'progressbar');
bar.setAttribute('aria-label', 'Working');
const label = el('span', 'busy-label');
label.dataset.testid = 'busy-label';
const elapsed = el('span', 'busy-elapsed num');
elapsed.dataset.testid = 'busy-elapsed';
const cancelButton = button('Cancel', () => cancelAll(), { testId: 'busy-cancel', title: 'Stop this work in the engine' });
const line = el('div', 'busy-line');
line.append(label, elapsed, cancelButton);
busyBox.append(bar, line);
busyBox.dataset.testid = 'busy';
busyBox.hidden = true;

/** After a Cancel of host work: says so and offers to run again. */
const cancelled = el('div', 'cancelled');
cancelled.dataset.testid = 'cancelled';
cancelled.hidden = true;
const cancelledText = el('span');
cancelled.append(
  cancelledText,
  button(
    'Run again',
    () => {
      cancelled.hidden = true;
      channel.notify({ type: 'act/rerun' });
    },
    { testId: 'rerun' },
  ),
);
busyBox.after(cancelled);

let ticker: ReturnType<typeof setInterval> | undefined;

/** The newest task is the one named; the bar runs while any is in flight. */
function current(): Task | undefined {
  const now = Date.now();
  let pick: Task | undefined = host;
  for (const t of views) if (now - t.started >= SHOW_AFTER_MS && (!pick || t.started > pick.started)) pick = t;
  return pick;
}

function update(): void {
  const t = current();
  busyBox.hidden = t === undefined;
  if (t) {
    label.textContent = t.label;
    elapsed.textContent = seconds(Date.now() - t.started);
  }
  const fraction = t?.fraction;
  bar.classList.toggle('determinate', fraction !== undefined);
  if (fraction !== undefined) {
    bar.style.setProperty('--fraction', String(fraction));
    bar.setAttribute('aria-valuemin', '0');
    bar.setAttribute('aria-valuemax', '100');
    bar.setAttribute('aria-valuenow', String(Math.round(fraction * 100)));
  } else {
    bar.style.removeProperty('--fraction');
    bar.removeAttribute('aria-valuenow');
  }
  const any = host !== undefined || views.size > 0;
  if (any && ticker === undefined) ticker = setInterval(update, 200);
  if (!any && ticker !== undefined) {
    clearInterval(ticker);
    ticker = undefined;
  }
}

function seconds(ms: number): string {
  return `${(ms / 1000).toLocaleString(navigator.language, { minimumFractionDigits: 1, maximumFractionDigits: 1 })} s`;
}

/** The host's act/busy: shows or ends the host's work. */
export function showHostBusy(msg: ActBusy): void {
  const was = host !== undefined;
  if (msg.phase === 'idle' || msg.label === '') {
    host = undefined;
  } else {
    cancelled.hidden = true;
    host = {
      // The engine's step, when it says one: "Loading the model: reading weights 120 / 548 MB…".
      label: msg.detail ? `${msg.label.replace(/…$/, '')}: ${msg.detail}…` : msg.label,
      ...(msg.fraction !== undefined ? { fraction: msg.fraction } : {}),
      phase: msg.phase,
      // A new label within the same wait (loading, then running) keeps the clock going.
      started: host?.started ?? Date.now(),
      cancel: () => undefined,
    };
  }
  update();
  if (was !== (host !== undefined)) for (const l of listeners) l(host !== undefined);
}

/** True while the host loads or runs the model for this panel. */
export function hostBusy(): boolean {
  return host !== undefined;
}

export function onHostBusyChange(fn: (busy: boolean) => void): void {
  listeners.push(fn);
}

/**
 * Shows `request` (a view's engine request) as `what` while it is in flight. It rejects with
 * "Cancelled." when the user presses Cancel; the engine's own answer is then ignored.
 */
export function track<T>(what: string, request: Promise<T>): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const task: Task = { label: what, started: Date.now(), cancel: () => reject(new Error('Cancelled.')) };
    views.add(task);
    update();
    request.then(resolve, reject).finally(() => {
      views.delete(task);
      update();
    });
  });
}

function cancelAll(): void {
  const h = host;
  channel.notify({ type: 'act/cancel' });
  for (const t of views) t.cancel();
  views.clear();
  if (h) {
    cancelledText.textContent = `Cancelled after ${seconds(Date.now() - h.started)}: ${h.label.replace(/…$/, '')}. `;
    cancelled.hidden = false;
    host = undefined;
    for (const l of listeners) l(false);
  }
  update();
}
