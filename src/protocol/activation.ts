// Contract of the activation panel (src/extension/activation/activationPanel.ts ↔
// webview/activation/main.ts). The run summary arrives once per run; each view asks for what
// it draws (one head's pattern, one layer's neurons, the logit lens, one attribution), so a
// long input's cache stays in the engine worker. Tensors travel as typed arrays.
import { hostSchemas, is, webviewSchemas, type FieldCheck, type PanelProtocol, type RequestSpec, type SchemaTable } from './envelope';
import { readySchema, type ReadyNotification } from './common';

export const ACTIVATION_VIEW_TYPE = 'modelLens.activation';
export const ACTIVATION_VIEWS = ['attention', 'neurons', 'logitLens', 'residual', 'loss', 'experiment'] as const;
export type ActivationView = (typeof ACTIVATION_VIEWS)[number];

/** Ablations the panel applies (the engine's declarative interventions). */
export interface PanelAblation {
  readonly kind: 'head' | 'neuron';
  readonly layer: number;
  readonly index: number;
}

export interface ActRun {
  readonly type: 'act/run';
  readonly runId: number;
  /** Where the text came from, e.g. "notes.md, lines 3–7". */
  readonly source: string;
  /** e.g. "gpt2 (Hugging Face cache)"; "demo model: random weights" for the demo. */
  readonly modelLabel: string;
  /** The weight processing in TransformerLens's words, e.g. "from_pretrained_no_processing". */
  readonly processing: string;
  readonly isDemo: boolean;
  /** Non-empty when the input was cut to n_ctx tokens. */
  readonly truncation: string;
  readonly nLayers: number;
  readonly nHeads: number;
  readonly dMlp: number;
  readonly tokens: Int32Array; // [pos]
  /** Display text of every id in tokens and topIds (`strings[k]` for `stringIds[k]`). */
  readonly stringIds: Int32Array;
  readonly strings: readonly string[];
  readonly topK: number;
  readonly loss: Float32Array; // [pos]; NaN at the last position
  readonly meanLoss: number;
  readonly topIds: Int32Array; // [pos, topK]
  readonly topProbs: Float32Array; // [pos, topK]
  readonly nextProb: Float32Array; // [pos]
  readonly nextRank: Int32Array; // [pos]
  readonly thumb: number;
  readonly thumbs: Float32Array; // [n_layers, n_heads, thumb, thumb]
  readonly residLabels: readonly string[];
  readonly residNorms: Float32Array; // [components, pos]
  readonly ablations: readonly PanelAblation[];
  /** The input text (capped at MAX_SAVED_TEXT), persisted by the webview for revival. */
  readonly savedText: string;
}

export interface ActStatus {
  readonly type: 'act/status';
  /** Progress or an error; empty clears it. */
  readonly message: string;
  readonly error: boolean;
}

/**
 * Work the host is doing for the panel (finding and loading the model, running it). The webview
 * shows it moving (a bar and the elapsed time) with Cancel; an empty label ends it.
 */
export interface ActBusy {
  readonly type: 'act/busy';
  readonly label: string;
  readonly phase: 'idle' | 'loading' | 'running';
  /** What the work is at now, when the engine says (a load: "reading weights 120 / 548 MB"). */
  readonly detail?: string;
  /** How far the work is, 0..1, when known: the bar is then determinate. */
  readonly fraction?: number;
}

/** The host asks for a PNG of the current view (the webview answers with act/png). */
export interface ActWantPng {
  readonly type: 'act/wantPng';
  readonly requestId: number;
}

export interface ActPng {
  readonly type: 'act/png';
  readonly requestId: number;
  readonly view: ActivationView;
  /** data:image/png;base64,… from canvas.toDataURL */
  readonly dataUrl: string;
}

/** One heatmap of an experiment: rows × cols values, row-major. */
export interface ExperimentMap {
  readonly title: string;
  readonly values: Float32Array;
  /** Signed values get the diverging scale centred on 0; unsigned ones viridis over [0, max]. */
  readonly signed: boolean;
  /** Where the colour scale saturates (|value| for signed maps). */
  readonly scale: number;
}

/** An experiment's result to show (activation patching, head detection): one or more heatmaps on one grid. */
export interface ActExperiment {
  readonly type: 'act/experiment';
  readonly title: string;
  /** Prompts, metric, baselines: one line under the title. */
  readonly subtitle: string;
  readonly rowLabel: string;
  readonly colLabel: string;
  readonly rowNames: readonly string[];
  readonly colNames: readonly string[];
  readonly maps: readonly ExperimentMap[];
  /** The hover text's second value per cell, e.g. the raw metric under the normalised one (empty: none). */
  readonly detail: Float32Array;
  readonly detailLabel: string;
  /** True when clicking a cell can ask for that patch's top next tokens (act/patchTop). */
  readonly cellTop: boolean;
}

export interface ActExportExperiment {
  readonly type: 'act/exportExperiment';
  readonly format: 'json' | 'csv';
}

export interface PatchTopRequest {
  readonly type: 'act/patchTop';
  readonly cell: number;
}
export interface PatchTopReply {
  readonly type: 'act/patchTopData';
  readonly cell: number;
  readonly ids: Int32Array;
  readonly probs: Float32Array;
  readonly strings: readonly string[];
}

export interface ActSetView {
  readonly type: 'act/view';
  readonly view: ActivationView;
}
export interface ActAblate {
  readonly type: 'act/ablate';
  readonly ablation: PanelAblation;
}
export interface ActReset {
  readonly type: 'act/reset';
}
export interface ActExportCache {
  readonly type: 'act/exportCache';
}
/** Cancel: stops the run or model load in flight and every view computation in the engine. */
export interface ActCancel {
  readonly type: 'act/cancel';
}
/** Runs the panel's input again (offered after a Cancel). */
export interface ActRerun {
  readonly type: 'act/rerun';
}

export interface PatternRequest {
  readonly type: 'act/pattern';
  readonly runId: number;
  readonly layer: number;
  readonly head: number;
}
export interface PatternReply {
  readonly type: 'act/patternData';
  readonly layer: number;
  readonly head: number;
  readonly data: Float32Array; // [query_pos, key_pos]
}
export interface NeuronsRequest {
  readonly type: 'act/neurons';
  readonly runId: number;
  readonly layer: number;
  readonly neuron: number | null;
}
export interface NeuronsReply {
  readonly type: 'act/neuronsData';
  readonly layer: number;
  readonly ids: Int32Array; // [n]
  readonly values: Float32Array; // [pos, n]
  readonly neuron: number;
  readonly neuronValues: Float32Array; // [pos]
}
/** One window of positions [from, to) of the logit lens: the panel asks for what is visible. */
export interface LogitLensRequest {
  readonly type: 'act/logitLens';
  readonly runId: number;
  readonly from: number;
  readonly to: number;
}
export interface LogitLensReply {
  readonly type: 'act/logitLensData';
  readonly labels: readonly string[];
  readonly from: number;
  readonly to: number;
  readonly topIds: Int32Array; // [layers, to - from]
  readonly topProbs: Float32Array; // [layers, to - from]
  readonly nextProb: Float32Array; // [layers, to - from]
  readonly stringIds: Int32Array;
  readonly strings: readonly string[];
}
export interface DlaRequest {
  readonly type: 'act/dla';
  readonly runId: number;
  readonly pos: number;
  readonly token: number;
}
export interface DlaReply {
  readonly type: 'act/dlaData';
  readonly pos: number;
  readonly token: number;
  readonly tokenText: string;
  readonly labels: readonly string[];
  readonly values: Float32Array; // [components]
}

export interface ActivationProtocol extends PanelProtocol {
  readonly toWebview: ActRun | ActStatus | ActBusy | ActWantPng | ActExperiment;
  readonly toHost:
    ReadyNotification | ActPng | ActSetView | ActAblate | ActReset | ActExportCache | ActCancel | ActRerun | ActExportExperiment;
  readonly requests: {
    readonly 'act/pattern': RequestSpec<PatternRequest, PatternReply>;
    readonly 'act/neurons': RequestSpec<NeuronsRequest, NeuronsReply>;
    readonly 'act/logitLens': RequestSpec<LogitLensRequest, LogitLensReply>;
    readonly 'act/dla': RequestSpec<DlaRequest, DlaReply>;
    readonly 'act/patchTop': RequestSpec<PatchTopRequest, PatchTopReply>;
  };
}

const f32: FieldCheck = (v) => v instanceof Float32Array;
const i32: FieldCheck = is.int32Array;
const view: FieldCheck = is.oneOf(...ACTIVATION_VIEWS);
const ablation: FieldCheck = (v) => {
  if (typeof v !== 'object' || v === null) return false;
  const a = v as Record<string, unknown>;
  return (a.kind === 'head' || a.kind === 'neuron') && is.uint(a.layer) && is.uint(a.index);
};
const number: FieldCheck = (v) => typeof v === 'number';

const toWebview: SchemaTable<ActivationProtocol['toWebview']> = {
  'act/run': {
    runId: is.uint,
    source: is.string,
    modelLabel: is.string,
    processing: is.string,
    isDemo: is.boolean,
    truncation: is.string,
    nLayers: is.uint,
    nHeads: is.uint,
    dMlp: is.uint,
    tokens: i32,
    stringIds: i32,
    strings: is.stringArray,
    topK: is.uint,
    loss: f32,
    meanLoss: number,
    topIds: i32,
    topProbs: f32,
    nextProb: f32,
    nextRank: i32,
    thumb: is.uint,
    thumbs: f32,
    residLabels: is.stringArray,
    residNorms: f32,
    ablations: (v) => Array.isArray(v) && v.every(ablation),
    savedText: is.string,
  },
  'act/status': { message: is.string, error: is.boolean },
  'act/busy': {
    label: is.string,
    phase: is.oneOf('idle', 'loading', 'running'),
    detail: is.optional(is.stringWithin(200)),
    fraction: is.optional((v) => is.finite(v) && (v as number) >= 0 && (v as number) <= 1),
  },
  'act/wantPng': { requestId: is.uint },
  'act/experiment': {
    title: is.string,
    subtitle: is.string,
    rowLabel: is.string,
    colLabel: is.string,
    rowNames: is.stringArray,
    colNames: is.stringArray,
    maps: (v) =>
      Array.isArray(v) &&
      v.length > 0 &&
      v.every((m: unknown) => {
        if (typeof m !== 'object' || m === null) return false;
        const x = m as Record<string, unknown>;
        return is.string(x.title) && f32(x.values) && is.boolean(x.signed) && number(x.scale);
      }),
    detail: f32,
    detailLabel: is.string,
    cellTop: is.boolean,
  },
};

export const activationHostSchemas = hostSchemas<ActivationProtocol>(toWebview, {
  'act/patternData': { layer: is.uint, head: is.uint, data: f32 },
  'act/neuronsData': { layer: is.uint, ids: i32, values: f32, neuron: is.uint, neuronValues: f32 },
  'act/logitLensData': {
    labels: is.stringArray,
    from: is.uint,
    to: is.uint,
    topIds: i32,
    topProbs: f32,
    nextProb: f32,
    stringIds: i32,
    strings: is.stringArray,
  },
  'act/dlaData': { pos: is.uint, token: is.uint, tokenText: is.string, labels: is.stringArray, values: f32 },
  'act/patchTopData': { cell: is.uint, ids: i32, probs: f32, strings: is.stringArray },
});

/** 32 MB of base64: a 4096×4096 PNG fits. */
const MAX_PNG_CHARS = 32 * 1024 * 1024;

export const activationWebviewSchemas = webviewSchemas<ActivationProtocol>(
  {
    ready: readySchema,
    'act/png': {
      requestId: is.uint,
      view,
      dataUrl: (v) => is.stringWithin(MAX_PNG_CHARS)(v) && (v as string).startsWith('data:image/png;base64,'),
    },
    'act/view': { view },
    'act/ablate': { ablation },
    'act/reset': {},
    'act/exportCache': {},
    'act/cancel': {},
    'act/rerun': {},
    'act/exportExperiment': { format: is.oneOf('json', 'csv') },
  },
  {
    'act/pattern': { runId: is.uint, layer: is.uint, head: is.uint },
    'act/neurons': { runId: is.uint, layer: is.uint, neuron: is.nullable(is.uint) },
    'act/logitLens': { runId: is.uint, from: is.uint, to: is.uint },
    'act/dla': { runId: is.uint, pos: is.uint, token: is.uint },
    'act/patchTop': { cell: is.uint },
  },
);

/** What the webview persists so a reloaded window can run the panel again. */
export interface ActivationPanelState {
  readonly text: string;
  readonly source: string;
  readonly view: ActivationView;
}

/** Saved text is capped: past n_ctx tokens it would be truncated anyway. */
export const MAX_SAVED_TEXT = 64 * 1024;

export function isActivationPanelState(v: unknown): v is ActivationPanelState {
  if (typeof v !== 'object' || v === null) return false;
  const s = v as Record<string, unknown>;
  return is.stringWithin(MAX_SAVED_TEXT)(s.text) && is.string(s.source) && view(s.view);
}
