// Contract of the .safetensors custom editor (src/extension/safetensorsEditor ↔ webview/safetensors/main.ts).
// Read-only: the host sends the header once the webview is ready; the webview says what it drew.
import { hostSchemas, is, webviewSchemas, type FieldCheck, type PanelProtocol } from './envelope';
import { readySchema, type ReadyNotification } from './common';
import type { SafetensorsSummary } from '../engine/safetensors/summaryTypes';

export const SAFETENSORS_VIEW_TYPE = 'modelLens.safetensors';

export interface SafetensorsHeaderMessage {
  readonly type: 'st/header';
  readonly fileName: string;
  readonly summary: SafetensorsSummary;
}

/** The header could not be read or is invalid; `message` names the file and the problem. */
export interface SafetensorsErrorMessage {
  readonly type: 'st/error';
  readonly message: string;
}

/** Sent after drawing: how many tensor rows and groups the page shows (for tests). */
export interface SafetensorsRenderedNotification {
  readonly type: 'st/rendered';
  readonly rows: number;
  readonly groups: number;
}

/** The user clicked a tensor: open it in the tensor view (only names the header listed are opened). */
export interface SafetensorsOpenTensorNotification {
  readonly type: 'st/openTensor';
  readonly name: string;
}

export interface SafetensorsProtocol extends PanelProtocol {
  readonly toWebview: SafetensorsHeaderMessage | SafetensorsErrorMessage;
  readonly toHost: ReadyNotification | SafetensorsRenderedNotification | SafetensorsOpenTensorNotification;
  readonly requests: Record<never, never>;
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const uintArray: FieldCheck = (v) => Array.isArray(v) && v.every(is.uint);
const row: FieldCheck = (v) => isRecord(v) && is.string(v.name) && is.string(v.dtype) && uintArray(v.shape) && is.uint(v.bytes);
const group: FieldCheck = (v) => isRecord(v) && is.string(v.module) && Array.isArray(v.tensors) && v.tensors.every(row);
const pair: FieldCheck = (v) => Array.isArray(v) && v.length === 2 && is.string(v[0]) && is.string(v[1]);
const summary: FieldCheck = (v) =>
  isRecord(v) &&
  is.uint(v.fileBytes) &&
  is.uint(v.tensorCount) &&
  is.uint(v.dataBytes) &&
  Array.isArray(v.metadata) &&
  v.metadata.every(pair) &&
  Array.isArray(v.groups) &&
  v.groups.every(group);

export const safetensorsHostSchemas = hostSchemas<SafetensorsProtocol>(
  { 'st/header': { fileName: is.string, summary }, 'st/error': { message: is.string } },
  {},
);

export const safetensorsWebviewSchemas = webviewSchemas<SafetensorsProtocol>(
  { ready: readySchema, 'st/rendered': { rows: is.uint, groups: is.uint }, 'st/openTensor': { name: is.stringWithin(4096) } },
  {},
);
