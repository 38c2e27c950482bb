// The host/webview contract's generic half: the envelope, request maps, error replies and
// validation. Imported by both the extension host (src/extension) and the webviews
// (webview/), so it imports neither `vscode` nor the DOM.
import { TimeoutError } from '../common/errors';

/** Every message body carries a string-literal tag. */
export interface Msg {
  readonly type: string;
}

/** What travels through postMessage in both directions. */
export interface Envelope<B extends Msg> {
  /** Unique per sender; replies name it in inReplyTo. */
  readonly id: number;
  /** Set on replies only: the id of the request being answered. */
  readonly inReplyTo?: number;
  readonly body: B;
}

/** A failed request: the requester's promise rejects with this message. */
export interface ErrorReply {
  readonly type: 'error';
  readonly code: 'invalid' | 'failed' | 'timeout' | 'unknown-request';
  readonly message: string;
}

/** One request kind: the body the webview sends and the body the host answers with. */
export interface RequestSpec<Req extends Msg = Msg, Rep extends Msg = Msg> {
  readonly request: Req;
  readonly reply: Rep;
}

/**
 * A panel's whole contract. Requests go webview → host (the host owns the tokenizer,
 * the engine and the clipboard); notifications go both ways.
 * `requests` is keyed by the request body's own `type` tag.
 */
export interface PanelProtocol {
  readonly toWebview: Msg;
  readonly toHost: Msg;
  readonly requests: { readonly [type: string]: RequestSpec };
}

export type RequestBody<P extends PanelProtocol> = P['requests'][keyof P['requests']]['request'];
export type ReplyBody<P extends PanelProtocol> = P['requests'][keyof P['requests']]['reply'];
/** The reply type of the request tagged T. */
export type ReplyFor<P extends PanelProtocol, T extends string> = P['requests'][T]['reply'];

/** Everything the host may send to a panel's webview. */
export type HostBody<P extends PanelProtocol> = P['toWebview'] | ReplyBody<P> | ErrorReply;
/** Everything a panel's webview may send to the host. */
export type WebviewBody<P extends PanelProtocol> = P['toHost'] | RequestBody<P>;

// ---------------------------------------------------------------------------
// Validation: every incoming message is checked against a per-tag field schema before
// anything reads it. The schema tables are mapped over the union's tags, so adding a
// message type without a schema is a compile error.

export type FieldCheck = (value: unknown) => boolean;
export type Schema = { readonly [field: string]: FieldCheck };
export type SchemaTable<M extends Msg> = { readonly [K in M['type']]: Schema };

export const is = {
  string: (v: unknown): boolean => typeof v === 'string',
  boolean: (v: unknown): boolean => typeof v === 'boolean',
  finite: (v: unknown): boolean => typeof v === 'number' && Number.isFinite(v),
  uint: (v: unknown): boolean => Number.isSafeInteger(v) && (v as number) >= 0,
  int32Array: (v: unknown): boolean => v instanceof Int32Array,
  uint32Array: (v: unknown): boolean => v instanceof Uint32Array,
  stringArray: (v: unknown): boolean => Array.isArray(v) && v.every((s) => typeof s === 'string'),
  oneOf:
    (...values: readonly string[]): FieldCheck =>
    (v) =>
      typeof v === 'string' && values.includes(v),
  optional:
    (check: FieldCheck): FieldCheck =>
    (v) =>
      v === undefined || check(v),
  nullable:
    (check: FieldCheck): FieldCheck =>
    (v) =>
      v === null || check(v),
  stringWithin:
    (maxLength: number): FieldCheck =>
    (v) =>
      typeof v === 'string' && v.length <= maxLength,
};

export class ProtocolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ProtocolError';
  }
}

export const errorReplySchema: Schema = {
  code: is.oneOf('invalid', 'failed', 'timeout', 'unknown-request'),
  message: is.string,
};

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Checks that `value` is an envelope whose body matches one of `table`'s schemas.
 * Throws ProtocolError naming the offending field; never returns a half-checked value.
 */
export function validateEnvelope<M extends Msg>(value: unknown, table: SchemaTable<M>): Envelope<M> {
  if (!isRecord(value)) throw new ProtocolError('message is not an object');
  if (!is.uint(value.id)) throw new ProtocolError('message id is not a non-negative integer');
  if (value.inReplyTo !== undefined && !is.uint(value.inReplyTo)) {
    throw new ProtocolError('inReplyTo is not a non-negative integer');
  }
  const body = value.body;
  if (!isRecord(body) || typeof body.type !== 'string') throw new ProtocolError('message body has no string type');
  if (!Object.prototype.hasOwnProperty.call(table, body.type)) {
    throw new ProtocolError(`unknown message type ${JSON.stringify(body.type.slice(0, 80))}`);
  }
  const schema = (table as Record<string, Schema>)[body.type];
  for (const [field, check] of Object.entries(schema)) {
    if (!check(body[field])) throw new ProtocolError(`${body.type}: field ${field} is missing or malformed`);
  }
  return value as unknown as Envelope<M>;
}

/** Schema table for what the host may send: notifications, replies and error replies. */
export function hostSchemas<P extends PanelProtocol>(
  notifications: SchemaTable<P['toWebview']>,
  replies: SchemaTable<ReplyBody<P>>,
): SchemaTable<HostBody<P>> {
  return { ...notifications, ...replies, error: errorReplySchema } as SchemaTable<HostBody<P>>;
}

/** Schema table for what a webview may send: notifications and requests. */
export function webviewSchemas<P extends PanelProtocol>(
  notifications: SchemaTable<P['toHost']>,
  requests: SchemaTable<RequestBody<P>>,
): SchemaTable<WebviewBody<P>> {
  return { ...notifications, ...requests } as SchemaTable<WebviewBody<P>>;
}

/** How long a requester waits before giving up on a reply. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 15_000;

/**
 * Pairs outgoing requests with their replies, with a time-out. Shared by the host and the
 * webview sides so both time out and reject the same way.
 */
export class PendingRequests {
  private readonly pending = new Map<
    number,
    { resolve: (body: Msg) => void; reject: (e: Error) => void; timer: ReturnType<typeof setTimeout> }
  >();

  /** Registers request `id`; the promise settles on `settle(id, ...)`, a time-out or `rejectAll`. */
  wait(id: number, what: string, timeoutMs: number): Promise<Msg> {
    return new Promise<Msg>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new TimeoutError(`${what} timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
    });
  }

  /** Settles the request a reply answers; returns false when nothing waits for it (late or stray reply). */
  settle(inReplyTo: number, body: Msg): boolean {
    const entry = this.pending.get(inReplyTo);
    if (!entry) return false;
    this.pending.delete(inReplyTo);
    clearTimeout(entry.timer);
    if (body.type === 'error') {
      const err = body as ErrorReply;
      entry.reject(new ProtocolError(`${err.code}: ${err.message}`));
    } else {
      entry.resolve(body);
    }
    return true;
  }

  rejectAll(reason: string): void {
    for (const [, entry] of this.pending) {
      clearTimeout(entry.timer);
      entry.reject(new ProtocolError(reason));
    }
    this.pending.clear();
  }
}

/** For `default` branches of switches over a union: a compile error when a case is missing. */
export function assertNever(value: never, what: string): never {
  throw new ProtocolError(`unhandled ${what}: ${JSON.stringify(value)}`);
}
