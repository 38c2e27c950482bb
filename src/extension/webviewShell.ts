// The one function that builds every panel's HTML, and the options every panel is created with.
// Strict CSP: nothing loads but the panel's own bundle and stylesheet from media/dist, scripts
// need a fresh nonce, and there is no remote content.
import { randomBytes } from 'node:crypto';
import * as vscode from 'vscode';

/** The built media folder: webview bundles and their css (esbuild writes webview/<name> here). */
export function mediaDist(extensionUri: vscode.Uri): vscode.Uri {
  return vscode.Uri.joinPath(extensionUri, 'media', 'dist');
}

/** Options for createWebviewPanel and for revived panels (the serializer must re-apply them). */
export function panelOptions(extensionUri: vscode.Uri): vscode.WebviewPanelOptions & vscode.WebviewOptions {
  return {
    enableScripts: true,
    localResourceRoots: [mediaDist(extensionUri)],
    // Panels keep their state in setState and the host, so they can be torn down when hidden.
    retainContextWhenHidden: false,
    enableFindWidget: true,
  };
}

export function applyPanelOptions(webview: vscode.Webview, extensionUri: vscode.Uri): void {
  webview.options = { enableScripts: true, localResourceRoots: [mediaDist(extensionUri)] };
}

export interface ShellOptions {
  /** Name of the bundle: media/dist/<bundle>.js and media/dist/<bundle>.css. */
  readonly bundle: string;
  readonly title: string;
}

export function createNonce(): string {
  return randomBytes(18).toString('base64');
}

export function renderShell(webview: vscode.Webview, extensionUri: vscode.Uri, options: ShellOptions): string {
  const nonce = createNonce();
  const dist = mediaDist(extensionUri);
  const script = webview.asWebviewUri(vscode.Uri.joinPath(dist, `${options.bundle}.js`));
  const style = webview.asWebviewUri(vscode.Uri.joinPath(dist, `${options.bundle}.css`));
  const csp = [
    "default-src 'none'",
    // The nonce admits only <style> elements that carry it: the toolkit (FAST) probes for
    // :focus-visible with an empty <style> it tags with the csp-nonce meta's value; untagged,
    // it is reported as a CSP violation in every panel's console. Inline style attributes stay blocked.
    `style-src ${webview.cspSource} 'nonce-${nonce}'`,
    `font-src ${webview.cspSource}`,
    `img-src ${webview.cspSource}`,
    `script-src 'nonce-${nonce}'`,
  ].join('; ');
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta property="csp-nonce" content="${nonce}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link rel="stylesheet" href="${style.toString()}">
<title>${escapeHtml(options.title)}</title>
</head>
<body>
<div id="app" data-bundle="${escapeHtml(options.bundle)}"></div>
<script nonce="${nonce}" src="${script.toString()}"></script>
</body>
</html>`;
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
