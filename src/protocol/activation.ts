// Contract of the activation panel (src/extension/activation/activationPanel.ts ↔
// webview/activation/main.ts). The run summary arrives once per run; each view asks for what
// it draws (one head's pattern, one layer's neurons, the logit lens, one attribution), so a
// long input's cache stays in the engine worker. Tensors travel as typed arrays.
import { hostSchemas, is, webviewSchemas, type FieldCheck, type PanelProtocol, type RequestSpec, type SchemaTable } from './envelope';
import { readySchema, type ReadyNotification } from './common';

export const ACTIVATION_VIEW_TYPE = 'modelLens.activation';
export const ACTIVATION_VIEWS = ['attention', 'neurons', 'logitLens', 'residual', 'loss', 'experiment', 'steering', 'compare'] as const;
export type ActivationView = (typeof ACTIVATION_VIEWS)[number];

export const ABLATION_METHODS = ['zero', 'mean', 'resample'] as const;
/**
 * zero; mean over the positions of the prompt (or of the file chosen as the mean's source);
 * resample: the resample prompt's value at the same position.
 */
export type AblationMethod = (typeof ABLATION_METHODS)[number];

/** Ablations the panel applies (the engine's declarative interventions). */
export interface PanelAblation {
  readonly kind: 'head' | 'neuron';
  readonly layer: number;
  readonly index: number;
  /** Absent: zero. */
  readonly method?: AblationMethod;
}

/** A steering vector: coefficient × (mean resid_pre of `plus` − of `minus`) at `layer`, added at every position. */
export interface PanelSteering {
  readonly plus: string;
  readonly minus: string;
  readonly layer: number;
  readonly coefficient: number;
}

/** The longest prompt the panel's own fields (resample, steering, compare) take. */
export const MAX_FIELD_PROMPT = 4000;

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
  /** Where mean ablations take their mean: '' for this prompt's positions, else the file's name and token count. */
  readonly meanSource: string;
  /** The prompt resample ablations take values from ('' when none is set). */
  readonly resamplePrompt: string;
  /** The steering vector applied to this run, or null. */
  readonly steering: PanelSteering | null;
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

/** Top next tokens at the last position with and without the steering vector (the other interventions in both). */
export interface SteerTopRequest {
  readonly type: 'act/steerTop';
  readonly runId: number;
}
export interface SteerTopReply {
  readonly type: 'act/steerTopData';
  readonly withIds: Int32Array;
  readonly withProbs: Float32Array;
  readonly withoutIds: Int32Array;
  readonly withoutProbs: Float32Array;
  readonly stringIds: Int32Array;
  readonly strings: readonly string[];
}

/**
 * Compare: A is the panel's prompt with its interventions; B is `other` (without interventions,
 * and A then without them too) or, when other is null, the same prompt without the interventions.
 */
export interface CompareRequest {
  readonly type: 'act/compare';
  readonly runId: number;
  readonly other: string | null;
  readonly layer: number;
  readonly head: number;
}
export interface CompareReply {
  readonly type: 'act/compareData';
  readonly labelA: string;
  readonly labelB: string;
  /** Lens rows, e.g. "0_pre" … "final_post". */
  readonly layers: readonly string[];
  readonly targets: Int32Array;
  readonly lensA: Float32Array; // [layers, targets]
  readonly lensB: Float32Array; // [layers, targets]
  readonly layer: number;
  readonly head: number;
  /** Positions both prompts have; the patterns are [m, m]. */
  readonly m: number;
  readonly patternA: Float32Array;
  readonly patternB: Float32Array;
  readonly topIdsA: Int32Array;
  readonly topProbsA: Float32Array;
  readonly topIdsB: Int32Array;
  readonly topProbsB: Float32Array;
  /** Display text of the first m tokens of A and B (the pattern's axes). */
  readonly tokensA: readonly string[];
  readonly tokensB: readonly string[];
  readonly stringIds: Int32Array;
  readonly strings: readonly string[];
}

/** Where mean ablations take their mean: this prompt, or a file the host asks for. */
export interface ActMeanSource {
  readonly type: 'act/meanSource';
  readonly from: 'prompt' | 'file';
}
/** The prompt resample ablations take values from. */
export interface ActResamplePrompt {
  readonly type: 'act/resamplePrompt';
  readonly text: string;
}
/** Sets (or, with null, removes) the steering vector; the panel runs again with it. */
export interface ActSteer {
  readonly type: 'act/steer';
  readonly steering: PanelSteering | null;
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
    | ReadyNotification
    | ActPng
    | ActSetView
    | ActAblate
    | ActReset
    | ActExportCache
    | ActCancel
    | ActRerun
    | ActExportExperiment
    | ActMeanSource
    | ActResamplePrompt
    | ActSteer;
  readonly requests: {
    readonly 'act/pattern': RequestSpec<PatternRequest, PatternReply>;
    readonly 'act/neurons': RequestSpec<NeuronsRequest, NeuronsReply>;
    readonly 'act/logitLens': RequestSpec<LogitLensRequest, LogitLensReply>;
    readonly 'act/dla': RequestSpec<DlaRequest, DlaReply>;
    readonly 'act/patchTop': RequestSpec<PatchTopRequest, PatchTopReply>;
    readonly 'act/steerTop': RequestSpec<SteerTopRequest, SteerTopReply>;
    readonly 'act/compare': RequestSpec<CompareRequest, CompareReply>;
  };
}

const f32: FieldCheck = (v) => v instanceof Float32Array;
const i32: FieldCheck = is.int32Array;
const view: FieldCheck = is.oneOf(...ACTIVATION_VIEWS);
const ablation: FieldCheck = (v) => {
  if (typeof v !== 'object' || v === null) return false;
  const a = v as Record<string, unknown>;
  return (
    (a.kind === 'head' || a.kind === 'neuron') &&
    is.uint(a.layer) &&
    is.uint(a.index) &&
    is.optional(is.oneOf(...ABLATION_METHODS))(a.method)
  );
};
const prompt: FieldCheck = is.stringWithin(MAX_FIELD_PROMPT);
const steering: FieldCheck = (v) => {
  if (typeof v !== 'object' || v === null) return false;
  const s = v as Record<string, unknown>;
  return prompt(s.plus) && prompt(s.minus) && is.uint(s.layer) && is.finite(s.coefficient) && Math.abs(s.coefficient as number) <= 1000;
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
    meanSource: is.string,
    resamplePrompt: is.string,
    steering: is.nullable(steering),
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
  'act/steerTopData': {
    withIds: i32,
    withProbs: f32,
    withoutIds: i32,
    withoutProbs: f32,
    stringIds: i32,
    strings: is.stringArray,
  },
  'act/compareData': {
    labelA: is.string,
    labelB: is.string,
    layers: is.stringArray,
    targets: i32,
    lensA: f32,
    lensB: f32,
    layer: is.uint,
    head: is.uint,
    m: is.uint,
    patternA: f32,
    patternB: f32,
    topIdsA: i32,
    topProbsA: f32,
    topIdsB: i32,
    topProbsB: f32,
    tokensA: is.stringArray,
    tokensB: is.stringArray,
    stringIds: i32,
    strings: is.stringArray,
  },
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
    'act/meanSource': { from: is.oneOf('prompt', 'file') },
    'act/resamplePrompt': { text: prompt },
    'act/steer': { steering: is.nullable(steering) },
  },
  {
    'act/pattern': { runId: is.uint, layer: is.uint, head: is.uint },
    'act/neurons': { runId: is.uint, layer: is.uint, neuron: is.nullable(is.uint) },
    'act/logitLens': { runId: is.uint, from: is.uint, to: is.uint },
    'act/dla': { runId: is.uint, pos: is.uint, token: is.uint },
    'act/patchTop': { cell: is.uint },
    'act/steerTop': { runId: is.uint },
    'act/compare': { runId: is.uint, other: is.nullable(prompt), layer: is.uint, head: is.uint },
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
