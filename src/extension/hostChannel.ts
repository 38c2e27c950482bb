// The host end of a panel's message channel: validates every incoming message, dispatches
// requests to typed handlers (a handler's return type is checked against the request map),
// answers failures with error replies and time-outs, and drops messages after dispose.
import * as vscode from 'vscode';
import { isTimeoutError, TimeoutError } from '../common/errors';
import {
  DEFAULT_REQUEST_TIMEOUT_MS,
  validateEnvelope,
  type Envelope,
  type ErrorReply,
  type HostBody,
  type PanelProtocol,
  type RequestBody,
  type SchemaTable,
  type WebviewBody,
} from '../protocol/envelope';

/** One handler per request tag; each must produce that request's reply type. */
export type RequestHandlers<P extends PanelProtocol> = {
  readonly [K in keyof P['requests']]: (request: P['requests'][K]['request']) => Promise<P['requests'][K]['reply']>;
};

export interface HostChannelOptions<P extends PanelProtocol> {
  readonly schemas: SchemaTable<WebviewBody<P>>;
  /** Tags in `schemas` that are requests (the rest are notifications). */
  readonly handlers: RequestHandlers<P>;
  readonly onNotification: (body: P['toHost']) => void;
  /** Invalid messages land here (they are never acted on). */
  readonly log: (line: string) => void;
  readonly requestTimeoutMs?: number;
}

export class HostChannel<P extends PanelProtocol> implements vscode.Disposable {
  private nextId = 1;
  private disposed = false;
  private readonly subscription: vscode.Disposable;

  constructor(
    private readonly webview: vscode.Webview,
    private readonly options: HostChannelOptions<P>,
  ) {
    this.subscription = webview.onDidReceiveMessage((raw: unknown) => this.receive(raw));
  }

  /** Sends a notification; resolves false when the webview is gone. */
  async post(body: P['toWebview']): Promise<boolean> {
    return this.send({ id: this.nextId++, body });
  }

  dispose(): void {
    this.disposed = true;
    this.subscription.dispose();
  }

  private async send(envelope: Envelope<HostBody<P>>): Promise<boolean> {
    if (this.disposed) return false;
    try {
      return await this.webview.postMessage(envelope);
    } catch {
      // The panel was closed between the check and the post.
      return false;
    }
  }

  private receive(raw: unknown): void {
    if (this.disposed) return;
    let envelope: Envelope<WebviewBody<P>>;
    try {
      envelope = validateEnvelope(raw, this.options.schemas);
    } catch (e) {
      this.options.log(`dropped an invalid webview message: ${(e as Error).message}`);
      const id = (raw as { id?: unknown } | null)?.id;
      if (Number.isSafeInteger(id)) {
        void this.reply(id as number, { type: 'error', code: 'invalid', message: (e as Error).message });
      }
      return;
    }
    const body = envelope.body;
    if (Object.prototype.hasOwnProperty.call(this.options.handlers, body.type)) {
      void this.answer(envelope.id, body as RequestBody<P>);
    } else {
      this.options.onNotification(body as P['toHost']);
    }
  }

  private async answer(requestId: number, request: RequestBody<P>): Promise<void> {
    // The map is keyed by tag, so indexing with the body's own tag pairs handler and request.
    const handler = (this.options.handlers as Record<string, (r: RequestBody<P>) => Promise<HostBody<P>>>)[request.type];
    const timeoutMs = this.options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new TimeoutError(`timed out after ${timeoutMs} ms`)), timeoutMs);
      });
      const reply = await Promise.race([handler(request), timeout]);
      await this.reply(requestId, reply);
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      const code: ErrorReply['code'] = isTimeoutError(e) ? 'timeout' : 'failed';
      await this.reply(requestId, { type: 'error', code, message });
    } finally {
      clearTimeout(timer);
    }
  }

  private reply(inReplyTo: number, body: HostBody<P>): Promise<boolean> {
    return this.send({ id: this.nextId++, inReplyTo, body });
  }
}
