// `.safetensors` files open as a read-only custom editor: the header only (every tensor's dtype,
// shape and byte size, the metadata), grouped by module. Only the header is read, through the
// engine's checked parser, so a 6 GB checkpoint opens at once in bounded memory, and nothing in
// the file is ever executed. Clicking a tensor opens it in the tensor view, which reads only that
// tensor's bytes (in a worker). "Reopen Editor With… → Text Editor" stays available.
import { basename } from 'node:path';
import * as vscode from 'vscode';
import { summarizeSafetensorsFile } from '../../engine/safetensors/summary';
import { assertNever } from '../../protocol/envelope';
import { SAFETENSORS_VIEW_TYPE, safetensorsWebviewSchemas, type SafetensorsProtocol } from '../../protocol/safetensors';
import { HostChannel } from '../hostChannel';
import { TENSOR_COMMANDS } from '../tensorView/commandIds';
import { mediaDist, renderShell } from '../webviewShell';

/** Hidden command: what each open editor showed, for in-host tests. */
export const SAFETENSORS_STATE_COMMAND = 'modelLens.safetensors.state';

/** One open editor's outcome, keyed by the file's URI string. */
export interface SafetensorsEditorState {
  readonly uri: string;
  /** Tensor count sent to the webview, or the error message sent instead. */
  readonly tensors?: number;
  readonly error?: string;
  /** What the webview reported drawing (undefined until it has). */
  readonly rendered?: { readonly rows: number; readonly groups: number };
}

class SafetensorsDocument implements vscode.CustomDocument {
  constructor(readonly uri: vscode.Uri) {}
  dispose(): void {
    // Nothing is held: the header is read when an editor asks for it.
  }
}

export class SafetensorsEditorProvider implements vscode.CustomReadonlyEditorProvider<SafetensorsDocument>, vscode.Disposable {
  private readonly states = new Map<string, SafetensorsEditorState>();

  constructor(
    private readonly extensionUri: vscode.Uri,
    private readonly log: (line: string) => void,
  ) {}

  static register(extensionUri: vscode.Uri, log: (line: string) => void): vscode.Disposable {
    const provider = new SafetensorsEditorProvider(extensionUri, log);
    return vscode.Disposable.from(
      provider,
      vscode.window.registerCustomEditorProvider(SAFETENSORS_VIEW_TYPE, provider, {
        supportsMultipleEditorsPerDocument: true,
        webviewOptions: { enableFindWidget: true },
      }),
      vscode.commands.registerCommand(SAFETENSORS_STATE_COMMAND, () => [...provider.states.values()]),
    );
  }

  openCustomDocument(uri: vscode.Uri): SafetensorsDocument {
    return new SafetensorsDocument(uri);
  }

  resolveCustomEditor(document: SafetensorsDocument, panel: vscode.WebviewPanel): void {
    const key = document.uri.toString();
    panel.webview.options = { enableScripts: true, localResourceRoots: [mediaDist(this.extensionUri)] };
    const channel = new HostChannel<SafetensorsProtocol>(panel.webview, {
      schemas: safetensorsWebviewSchemas,
      handlers: {},
      log: this.log,
      onNotification: (msg) => {
        switch (msg.type) {
          case 'ready':
            void this.sendHeader(document.uri, channel);
            break;
          case 'st/openTensor':
            // The tensor view reads the tensor in a worker; the header already said it exists.
            void vscode.commands.executeCommand(TENSOR_COMMANDS.openFileTensor, document.uri, msg.name);
            break;
          case 'st/rendered':
            this.states.set(key, { ...this.states.get(key), uri: key, rendered: { rows: msg.rows, groups: msg.groups } });
            break;
          default:
            assertNever(msg, 'safetensors editor notification');
        }
      },
    });
    panel.onDidDispose(() => {
      channel.dispose();
      this.states.delete(key);
    });
    panel.webview.html = renderShell(panel.webview, this.extensionUri, { bundle: 'safetensors', title: basename(document.uri.path) });
  }

  private async sendHeader(uri: vscode.Uri, channel: HostChannel<SafetensorsProtocol>): Promise<void> {
    const key = uri.toString();
    const fileName = basename(uri.path);
    if (uri.scheme !== 'file') {
      const message = `${fileName}: only files on this machine's disk can be shown (scheme ${uri.scheme})`;
      this.states.set(key, { uri: key, error: message });
      await channel.post({ type: 'st/error', message });
      return;
    }
    try {
      const summary = await summarizeSafetensorsFile(uri.fsPath);
      this.states.set(key, { uri: key, tensors: summary.tensorCount });
      await channel.post({ type: 'st/header', fileName, summary });
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      this.states.set(key, { uri: key, error: message });
      await channel.post({ type: 'st/error', message });
    }
  }

  dispose(): void {
    this.states.clear();
  }
}
