// What every Model Lens panel shares: creation with the shell's options and HTML, revival of
// a serialized panel, and the typed channel. A feature's controller owns one PanelSession and
// decides what to send; createOrShow / revive / dispose follow the webview-sample pattern.
import * as vscode from 'vscode';
import type { PanelProtocol } from '../protocol/envelope';
import { HostChannel, type HostChannelOptions } from './hostChannel';
import { applyPanelOptions, panelOptions, renderShell } from './webviewShell';

export interface PanelKind {
  readonly viewType: string;
  readonly title: string;
  /** media/dist/<bundle>.js and .css */
  readonly bundle: string;
}

/** A new panel of `kind`, its HTML already set. */
export function createPanel(kind: PanelKind, extensionUri: vscode.Uri, column: vscode.ViewColumn): vscode.WebviewPanel {
  const panel = vscode.window.createWebviewPanel(kind.viewType, kind.title, column, panelOptions(extensionUri));
  panel.webview.html = renderShell(panel.webview, extensionUri, kind);
  return panel;
}

/** Re-arms a panel VS Code restored after a reload (its options are not persisted). */
export function restorePanel(panel: vscode.WebviewPanel, kind: PanelKind, extensionUri: vscode.Uri): void {
  applyPanelOptions(panel.webview, extensionUri);
  panel.webview.html = renderShell(panel.webview, extensionUri, kind);
}

/**
 * A live panel and its channel. `ready` is false until the webview says so, and again
 * whenever it is hidden (retainContextWhenHidden is off, so the page is torn down).
 */
export class PanelSession<P extends PanelProtocol> implements vscode.Disposable {
  readonly channel: HostChannel<P>;
  private disposed = false;
  private readonly subscriptions: vscode.Disposable[] = [];

  constructor(
    readonly panel: vscode.WebviewPanel,
    channelOptions: HostChannelOptions<P>,
    onDispose: () => void,
  ) {
    this.channel = new HostChannel<P>(panel.webview, channelOptions);
    this.subscriptions.push(
      this.channel,
      panel.onDidDispose(() => {
        this.dispose();
        onDispose();
      }),
    );
  }

  get isDisposed(): boolean {
    return this.disposed;
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const s of this.subscriptions) s.dispose();
    this.panel.dispose();
  }
}

/** A copyText handler shared by panels: the host owns the clipboard. */
export async function copyToClipboard(text: string): Promise<{ type: 'copied'; chars: number }> {
  await vscode.env.clipboard.writeText(text);
  return { type: 'copied', chars: text.length };
}

/** The column beside the active editor, where panels open. */
export function besideColumn(): vscode.ViewColumn {
  return vscode.window.activeTextEditor ? vscode.ViewColumn.Beside : vscode.ViewColumn.Active;
}

/** The tab icon media/icons/<name>-light.svg / -dark.svg (tab icons are images, so one per theme). */
export function panelIcon(extensionUri: vscode.Uri, name: string): { light: vscode.Uri; dark: vscode.Uri } {
  return {
    light: vscode.Uri.joinPath(extensionUri, 'media', 'icons', `${name}-light.svg`),
    dark: vscode.Uri.joinPath(extensionUri, 'media', 'icons', `${name}-dark.svg`),
  };
}
