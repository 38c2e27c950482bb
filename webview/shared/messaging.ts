// The webview end of a panel's message channel: typed requests with time-outs, validated
// incoming messages, notifications both ways. Mirrors src/extension/hostChannel.ts.
import {
  DEFAULT_REQUEST_TIMEOUT_MS,
  PendingRequests,
  validateEnvelope,
  type Envelope,
  type HostBody,
  type PanelProtocol,
  type ReplyFor,
  type RequestBody,
  type SchemaTable,
  type WebviewBody,
} from '../../src/protocol/envelope';

interface VsCodeApi {
  postMessage(message: unknown): void;
  getState(): unknown;
  setState(state: unknown): void;
}
declare function acquireVsCodeApi(): VsCodeApi;

let api: VsCodeApi | undefined;
/** acquireVsCodeApi may be called once per page; every module shares this one. */
export function vscodeApi(): VsCodeApi {
  api ??= acquireVsCodeApi();
  return api;
}

export class WebviewChannel<P extends PanelProtocol> {
  private nextId = 1;
  private readonly pending = new PendingRequests();

  constructor(
    private readonly schemas: SchemaTable<HostBody<P>>,
    private readonly onNotification: (body: P['toWebview']) => void,
  ) {
    window.addEventListener('message', (event: MessageEvent<unknown>) => this.receive(event.data));
  }

  notify(body: P['toHost']): void {
    this.send({ id: this.nextId++, body });
  }

  /** Sends a request; resolves with its typed reply, rejects on an error reply or a time-out. */
  request<R extends RequestBody<P>>(body: R, timeoutMs = DEFAULT_REQUEST_TIMEOUT_MS): Promise<ReplyFor<P, R['type']>> {
    const id = this.nextId++;
    const reply = this.pending.wait(id, body.type, timeoutMs);
    this.send({ id, body });
    return reply as Promise<ReplyFor<P, R['type']>>;
  }

  private send(envelope: Envelope<WebviewBody<P>>): void {
    vscodeApi().postMessage(envelope);
  }

  private receive(raw: unknown): void {
    let envelope: Envelope<HostBody<P>>;
    try {
      envelope = validateEnvelope(raw, this.schemas);
    } catch (e) {
      console.warn(`Model Lens: dropped an invalid host message: ${(e as Error).message}`);
      return;
    }
    if (envelope.inReplyTo !== undefined) {
      if (!this.pending.settle(envelope.inReplyTo, envelope.body)) {
        console.warn(`Model Lens: reply to ${envelope.inReplyTo} arrived after its request gave up`);
      }
      return;
    }
    if (envelope.body.type === 'error') return;
    this.onNotification(envelope.body as P['toWebview']);
  }
}
