// The activation panel's shared state: the run on screen, the view chosen, and what every view
// needs to read (token strings, the selected position, the canvas Export PNG saves). Views keep
// their own per-run memos in their own modules and clear them in their `reset`.
import { ACTIVATION_VIEWS, type AblationMethod, type ActivationView, type ActRun } from '../../src/protocol/activation';
import { vscodeApi } from '../shared/messaging';

/** Long requests may take a while on the CPU, and a request may wait behind another in the engine. */
export const SLOW_MS = 180_000;

const saved = vscodeApi().getState() as { view?: ActivationView } | undefined;

export const panel: {
  /** The run on screen; undefined until the first act/run. */
  run: ActRun | undefined;
  view: ActivationView;
  /** Display text per token id, from the run and the replies that brought more ids. */
  strings: Map<number, string>;
  /** The position the residual (DLA) and loss views show details for. */
  selectedPos: number;
  /** What Export PNG saves: the view's main canvas, once drawn. */
  mainCanvas: HTMLCanvasElement | undefined;
  /** How the Ablate buttons of the attention and neuron views ablate (ablationControls.ts). */
  ablationMethod: AblationMethod;
} = {
  run: undefined,
  view: saved?.view && ACTIVATION_VIEWS.includes(saved.view) ? saved.view : 'attention',
  strings: new Map(),
  selectedPos: 0,
  mainCanvas: undefined,
  ablationMethod: 'zero',
};

/** A token id's display text. */
export function str(id: number): string {
  return panel.strings.get(id) ?? `#${id}`;
}

export function fmt(x: number, digits = 3): string {
  return Number.isFinite(x) ? x.toFixed(digits) : '–';
}

/** Persists what a revived panel needs (its text and view). */
export function saveState(): void {
  const r = panel.run;
  if (r) vscodeApi().setState({ text: r.savedText, source: r.source, view: panel.view });
}

let renderHook: () => void = () => undefined;
/** main.ts registers the function that redraws the current view. */
export function onRender(fn: () => void): void {
  renderHook = fn;
}
/** Redraws the current view from scratch (e.g. after a view's own control changed). */
export function rerender(): void {
  renderHook();
}
