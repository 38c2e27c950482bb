// Messages every panel understands. Panel protocols extend these.
import { is, type RequestSpec, type Schema } from './envelope';

/** The webview has loaded its script and can receive data. */
export interface ReadyNotification {
  readonly type: 'ready';
}

/** Asks the host to put text on the clipboard (webviews cannot reliably reach it themselves). */
export interface CopyTextRequest {
  readonly type: 'copyText';
  readonly text: string;
  /** Short description for the confirmation message, e.g. "15 token ids". */
  readonly what: string;
}
export interface CopiedReply {
  readonly type: 'copied';
  readonly chars: number;
}

export type CommonRequests = {
  readonly copyText: RequestSpec<CopyTextRequest, CopiedReply>;
};

/** 64 MiB of UTF-16: a 10 MB selection's ids as JSON fits with room to spare. */
export const MAX_COPY_CHARS = 32 * 1024 * 1024;

export const readySchema: Schema = {};
export const copyTextSchema: Schema = { text: is.stringWithin(MAX_COPY_CHARS), what: is.stringWithin(200) };
export const copiedSchema: Schema = { chars: is.uint };
