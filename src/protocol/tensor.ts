// Contract of the tensor view (src/extension/tensorView ↔ webview/tensor/main.ts). The host sends
// a tensor's description once (shape, axis names, dtype, statistics, histogram); the webview asks
// for the 2-D windows it draws and for tokens ranked along a vocabulary axis. Values stay in the
// engine worker; only these answers cross.
import { hostSchemas, is, webviewSchemas, type FieldCheck, type PanelProtocol, type RequestSpec } from './envelope';
import { copiedSchema, copyTextSchema, readySchema, type CommonRequests, type ReadyNotification } from './common';
import { MAX_DIRECTIONS, MAX_DIRECTION_TOKENS } from '../engine/inspect/directionLimits';
import type { SliceRequest } from '../engine/inspect/tensorMath';

export const TENSOR_VIEW_TYPE = 'modelLens.tensor';

/** The most cells one window may hold (256 rows of 1,024 columns: 1 MB of float32). */
export const MAX_WINDOW_CELLS = 256 * 1024;
export const MAX_WINDOW_ROWS = 256;
export const MAX_WINDOW_COLS = 1024;
/** Tokens listed per direction in the top-tokens table. */
export const MAX_RANKED = 100;
// The engine clamps to the same limits: one definition for both.
export { MAX_DIRECTIONS, MAX_DIRECTION_TOKENS };

export interface WireStats {
  readonly count: number;
  readonly nan: number;
  readonly posInf: number;
  readonly negInf: number;
  /** null when no element is finite (the schema refuses NaN, so a missing value is said plainly). */
  readonly min: number | null;
  readonly max: number | null;
  readonly mean: number | null;
  readonly std: number | null;
}

export interface TensorShowMessage {
  readonly type: 'tensor/show';
  /** `blocks.0.attn.W_Q`, `blocks.3.attn.OV[5]`, a hook or a file's tensor name. */
  readonly title: string;
  /** Where it comes from: the model and its processing, the prompt, or the file. */
  readonly origin: string;
  readonly dtype: string;
  readonly dims: readonly number[];
  readonly axisNames: readonly string[];
  readonly vocabAxis: number | null;
  readonly stats: WireStats;
  readonly histLo: number;
  readonly histHi: number;
  readonly histCounts: Uint32Array;
  /** Whether "Export" can write this tensor to a .safetensors file. */
  readonly canExport: boolean;
  /** Set when the tensor is one head's OV or QK circuit: the view then offers its singular directions. */
  readonly circuit: 'OV' | 'QK' | null;
}

export interface TensorStatusMessage {
  readonly type: 'tensor/status';
  readonly message: string;
  readonly error: boolean;
}

/** The engine's slice request (which axes are drawn, the other axes' indices, the window), as a message. */
export interface TensorSliceRequest extends SliceRequest {
  readonly type: 'tensor/slice';
}

export interface TensorSliceReply {
  readonly type: 'tensor/sliceData';
  readonly rowFrom: number;
  readonly rows: number;
  readonly colFrom: number;
  readonly cols: number;
  readonly totalRows: number;
  readonly totalCols: number;
  readonly data: Float32Array; // [rows, cols]
  /** Display strings of the tokens along the rows or columns when that axis is the vocabulary. */
  readonly rowTokens: readonly string[];
  readonly colTokens: readonly string[];
}

export interface TensorRankRequest {
  readonly type: 'tensor/rank';
  readonly index: readonly number[];
  readonly k: number;
}

export interface TensorRankReply {
  readonly type: 'tensor/ranked';
  readonly topIds: Int32Array;
  readonly topValues: Float32Array;
  readonly topTokens: readonly string[];
  readonly bottomIds: Int32Array;
  readonly bottomValues: Float32Array;
  readonly bottomTokens: readonly string[];
}

/** The top singular directions of the open OV/QK circuit (only for a circuit). */
export interface TensorDirectionsRequest {
  readonly type: 'tensor/directions';
  readonly k: number;
  readonly tokens: number;
}

/** A token at one end of one side of a direction: its id, display text and dot product with the direction. */
export interface WireToken {
  readonly id: number;
  readonly text: string;
  readonly value: number;
}

export interface WireDirection {
  readonly sigma: number;
  /** OV: tokens whose embedding (W_E row) lies most along / against u_i; QK: the query side, the same way. */
  readonly inputTop: readonly WireToken[];
  readonly inputBottom: readonly WireToken[];
  /** OV: the tokens whose logit (W_U column) v_i raises / lowers most; QK: key-side tokens via W_E. */
  readonly outputTop: readonly WireToken[];
  readonly outputBottom: readonly WireToken[];
}

export interface TensorDirectionsReply {
  readonly type: 'tensor/directionsData';
  readonly which: 'OV' | 'QK';
  readonly directions: readonly WireDirection[];
}

/** Asks the host to write the tensor to a .safetensors file (it shows the save dialog). */
export interface TensorExportNotification {
  readonly type: 'tensor/export';
}

/** Sent after each heatmap draw: what was drawn (for tests and screenshots). */
export interface TensorRenderedNotification {
  readonly type: 'tensor/rendered';
  readonly rows: number;
  readonly cols: number;
  readonly index: readonly number[];
}

export interface TensorProtocol extends PanelProtocol {
  readonly toWebview: TensorShowMessage | TensorStatusMessage;
  readonly toHost: ReadyNotification | TensorExportNotification | TensorRenderedNotification;
  readonly requests: CommonRequests & {
    readonly 'tensor/slice': RequestSpec<TensorSliceRequest, TensorSliceReply>;
    readonly 'tensor/rank': RequestSpec<TensorRankRequest, TensorRankReply>;
    readonly 'tensor/directions': RequestSpec<TensorDirectionsRequest, TensorDirectionsReply>;
  };
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const f32: FieldCheck = (v) => v instanceof Float32Array;
const uintArray: FieldCheck = (v) => Array.isArray(v) && v.length <= 64 && v.every(is.uint);
const axis: FieldCheck = is.nullable(is.uint);
const maybeFinite: FieldCheck = is.nullable(is.finite);
const stats: FieldCheck = (v) =>
  isRecord(v) &&
  is.uint(v.count) &&
  is.uint(v.nan) &&
  is.uint(v.posInf) &&
  is.uint(v.negInf) &&
  maybeFinite(v.min) &&
  maybeFinite(v.max) &&
  maybeFinite(v.mean) &&
  maybeFinite(v.std);
const tokenList: FieldCheck = (v) =>
  Array.isArray(v) &&
  v.length <= MAX_DIRECTION_TOKENS &&
  v.every((t) => isRecord(t) && is.uint(t.id) && typeof t.text === 'string' && is.finite(t.value));
const direction: FieldCheck = (v) =>
  isRecord(v) &&
  is.finite(v.sigma) &&
  (v.sigma as number) >= 0 &&
  tokenList(v.inputTop) &&
  tokenList(v.inputBottom) &&
  tokenList(v.outputTop) &&
  tokenList(v.outputBottom);
const windowSize =
  (max: number): FieldCheck =>
  (v) =>
    is.uint(v) && (v as number) <= max;

export const tensorHostSchemas = hostSchemas<TensorProtocol>(
  {
    'tensor/show': {
      title: is.string,
      origin: is.string,
      dtype: is.string,
      dims: uintArray,
      axisNames: is.stringArray,
      vocabAxis: axis,
      stats,
      histLo: is.finite,
      histHi: is.finite,
      histCounts: is.uint32Array,
      canExport: is.boolean,
      circuit: is.nullable(is.oneOf('OV', 'QK')),
    },
    'tensor/status': { message: is.string, error: is.boolean },
  },
  {
    copied: copiedSchema,
    'tensor/sliceData': {
      rowFrom: is.uint,
      rows: is.uint,
      colFrom: is.uint,
      cols: is.uint,
      totalRows: is.uint,
      totalCols: is.uint,
      data: f32,
      rowTokens: is.stringArray,
      colTokens: is.stringArray,
    },
    'tensor/ranked': {
      topIds: is.int32Array,
      topValues: f32,
      topTokens: is.stringArray,
      bottomIds: is.int32Array,
      bottomValues: f32,
      bottomTokens: is.stringArray,
    },
    'tensor/directionsData': {
      which: is.oneOf('OV', 'QK'),
      directions: (v) => Array.isArray(v) && v.length <= MAX_DIRECTIONS && v.every(direction),
    },
  },
);

export const tensorWebviewSchemas = webviewSchemas<TensorProtocol>(
  {
    ready: readySchema,
    'tensor/export': {},
    'tensor/rendered': { rows: is.uint, cols: is.uint, index: uintArray },
  },
  {
    copyText: copyTextSchema,
    'tensor/slice': {
      rowAxis: axis,
      colAxis: axis,
      index: uintArray,
      rowFrom: is.uint,
      rowCount: windowSize(MAX_WINDOW_ROWS),
      colFrom: is.uint,
      colCount: windowSize(MAX_WINDOW_COLS),
    },
    'tensor/rank': { index: uintArray, k: windowSize(MAX_RANKED) },
    'tensor/directions': { k: windowSize(MAX_DIRECTIONS), tokens: windowSize(MAX_DIRECTION_TOKENS) },
  },
);
