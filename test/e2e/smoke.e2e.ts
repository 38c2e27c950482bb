/**
 * Proves the harness itself against a tiny throwaway extension written to a temp dir (so it
 * does not depend on Model Lens being finished): the extension loads, a palette command
 * runs, a hover provider answers, a webview renders, and the in-host runner counts passes,
 * failures and skips correctly. When the real extension exists (src/extension.ts, built to
 * dist/), it also checks that every command Model Lens contributes is registered.
 */
import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT, SAMPLES, startVSCode, type E2ESuite } from './harness';

const PUBLISHER = 'model-lens-test';
const NAME = 'e2e-smoke';

let tmp = '';
const extDir = () => join(tmp, 'extension');

/** The throwaway extension: one command that shows a message, a hover, a webview, an `add` command for in-host tests. */
function writeSmokeExtension(dir: string): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, 'package.json'),
    JSON.stringify({
      name: NAME,
      publisher: PUBLISHER,
      version: '0.0.1',
      engines: { vscode: '^1.100.0' },
      main: './extension.js',
      activationEvents: ['onStartupFinished'],
      contributes: {
        commands: [
          { command: 'e2eSmoke.hello', title: 'E2E Smoke: Say Hello' },
          { command: 'e2eSmoke.panel', title: 'E2E Smoke: Open Panel' },
        ],
      },
    }),
  );
  writeFileSync(
    join(dir, 'extension.js'),
    `const vscode = require('vscode');
exports.activate = (context) => {
  let count = 0;
  context.subscriptions.push(
    vscode.commands.registerCommand('e2eSmoke.hello', () => {
      count++;
      const sel = vscode.window.activeTextEditor?.selection;
      const text = sel ? vscode.window.activeTextEditor.document.getText(sel) : '';
      vscode.window.showInformationMessage('Smoke hello #' + count + ' selection=[' + text + ']');
    }),
    vscode.commands.registerCommand('e2eSmoke.add', (a, b) => a + b),
    vscode.commands.registerCommand('e2eSmoke.panel', () => {
      const panel = vscode.window.createWebviewPanel('e2eSmoke', 'Smoke Panel', vscode.ViewColumn.Beside, { enableScripts: true });
      panel.webview.html = '<!DOCTYPE html><html><body><h1 id="greeting">Hello from a webview</h1>' +
        '<script>document.getElementById("greeting").dataset.ready = "yes";</script></body></html>';
    }),
    vscode.languages.registerHoverProvider({ scheme: 'file' }, {
      provideHover(doc, pos) {
        const range = doc.getWordRangeAtPosition(pos);
        return range ? new vscode.Hover('smoke hover: ' + doc.getText(range)) : undefined;
      },
    }),
  );
};
exports.deactivate = () => {};
`,
  );
}

/** In-host tests for the runner's self-check: 2 pass, 1 fails on purpose, 1 is skipped. */
function writeRunnerSelfTests(dir: string): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, 'a.test.js'),
    `const assert = require('assert');
const vscode = require('vscode');
describe('smoke in-host', () => {
  it('sees the development extension and runs its command', async () => {
    const ext = vscode.extensions.getExtension('${PUBLISHER}.${NAME}');
    assert.ok(ext, 'extension not found');
    await ext.activate();
    assert.strictEqual(await vscode.commands.executeCommand('e2eSmoke.add', 2, 3), 5);
  });
  it('runs in the web UI kind with the workspace open', () => {
    assert.strictEqual(vscode.env.uiKind, vscode.UIKind.Web);
    assert.ok(vscode.workspace.workspaceFolders && vscode.workspace.workspaceFolders.length === 1);
  });
  it('fails on purpose', () => { assert.strictEqual(1 + 1, 3); });
  it('is skipped', function () { this.skip(); });
});
`,
  );
}

/** In-host test against the real extension: every contributed command is registered after activation. */
function writeCommandsTest(dir: string): void {
  mkdirSync(dir, { recursive: true });
  const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as {
    publisher: string;
    name: string;
    contributes?: { commands?: { command: string }[] };
  };
  const ids = (pkg.contributes?.commands ?? []).map((c) => c.command);
  writeFileSync(
    join(dir, 'commands.test.js'),
    `const assert = require('assert');
const vscode = require('vscode');
describe('Model Lens', () => {
  it('activates and registers every contributed command', async () => {
    const ext = vscode.extensions.getExtension(${JSON.stringify(`${pkg.publisher}.${pkg.name}`)});
    assert.ok(ext, 'Model Lens is not loaded');
    await ext.activate();
    const all = new Set(await vscode.commands.getCommands(true));
    const ids = ${JSON.stringify(ids)};
    assert.ok(ids.length > 0, 'package.json contributes no commands');
    const missing = ids.filter((id) => !all.has(id));
    assert.deepStrictEqual(missing, []);
  });
});
`,
  );
}

const realExtension = existsSync(join(REPO_ROOT, 'src', 'extension.ts'));

export const suite: E2ESuite = {
  name: 'smoke',
  async before() {
    tmp = mkdtempSync(join(tmpdir(), 'model-lens-smoke-'));
    writeSmokeExtension(extDir());
    return { workspace: SAMPLES, extensionPath: extDir() };
  },
  async after() {
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  },
  tests: [
    {
      name: 'palette command runs and sees the selection',
      async fn(s) {
        await s.openFile('hello.txt');
        assert.match(await s.editorText(), /Hello world!/);
        await s.selectText('quick brown');
        await s.runCommand('E2E Smoke: Say Hello');
        const toast = s.page.locator('.notifications-toasts .notification-list-item-message', { hasText: 'Smoke hello #1' });
        await toast.waitFor({ timeout: 15000 });
        assert.equal(await toast.innerText(), 'Smoke hello #1 selection=[quick brown]');
      },
    },
    {
      name: 'select all reaches the command too',
      async fn(s) {
        await s.selectAll();
        await s.runCommand('E2E Smoke: Say Hello');
        const toast = s.page.locator('.notifications-toasts .notification-list-item-message', { hasText: 'Smoke hello #2' });
        await toast.waitFor({ timeout: 15000 });
        const text = await toast.innerText();
        assert.ok(text.includes('Hello world!') && text.includes('lazy dog'), text);
      },
    },
    {
      name: 'hover shows the provider text for the word under the mouse',
      async fn(s) {
        await s.page.keyboard.press('Escape');
        const hover = await s.hoverText('brown');
        assert.match(hover, /smoke hover: brown/);
      },
    },
    {
      name: 'webview panel renders and runs its script',
      async fn(s) {
        await s.runCommand('E2E Smoke: Open Panel');
        const frame = await s.webview('Smoke Panel');
        const h1 = frame.locator('#greeting');
        await h1.waitFor({ timeout: 15000 });
        assert.equal(await h1.innerText(), 'Hello from a webview');
        assert.equal(await h1.getAttribute('data-ready'), 'yes');
        const shot = await s.screenshot('smoke-webview');
        assert.ok(existsSync(shot));
      },
    },
    {
      name: 'in-host runner counts passes, failures and skips, and exits non-zero on a failure',
      timeoutMs: 150000,
      async fn() {
        const testsDir = join(tmp, 'in-host');
        writeRunnerSelfTests(testsDir);
        const resultsFile = join(tmp, 'results.json');
        const inHost = await startVSCode({
          workspace: SAMPLES,
          extensionPath: extDir(),
          extensionTests: { path: join(REPO_ROOT, 'out', 'test', 'integration', 'index.js'), resultsFile, testsDir },
        });
        try {
          const { exitCode, results } = await inHost.waitForExtensionTests(120000);
          assert.ok(results, 'no results file');
          assert.deepEqual(
            { passed: results.passed, failed: results.failed, skipped: results.skipped },
            { passed: 2, failed: 1, skipped: 1 },
            JSON.stringify(results.failures),
          );
          assert.equal(results.failures[0]?.title, 'smoke in-host fails on purpose');
          assert.notEqual(exitCode, 0);
        } finally {
          await inHost.close();
        }
      },
    },
    {
      name: 'npm start --smoke serves the workbench with the samples workspace',
      timeoutMs: 150000,
      async fn() {
        const { code, out } = await new Promise<{ code: number; out: string }>((res) => {
          execFile(
            process.execPath,
            ['--import', 'tsx', join(REPO_ROOT, 'scripts', 'start.ts'), '--smoke'],
            { cwd: REPO_ROOT, timeout: 140000 },
            (err, stdout, stderr) => res({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, out: stdout + stderr }),
          );
        });
        assert.equal(code, 0, out);
        assert.match(out, /smoke: \/healthz \w+; workbench loaded at http:\/\/127\.0\.0\.1:\d+\/\?folder=/);
        assert.match(out, /explorer shows .*hello\.txt/);
      },
    },
    {
      name: 'Model Lens activates and registers every contributed command',
      skip: realExtension ? false : 'src/extension.ts does not exist yet',
      timeoutMs: 150000,
      async fn() {
        assert.ok(existsSync(join(REPO_ROOT, 'dist', 'extension.js')), 'dist/extension.js missing: run npm run build');
        const testsDir = join(tmp, 'commands');
        writeCommandsTest(testsDir);
        const resultsFile = join(tmp, 'commands-results.json');
        const real = await startVSCode({
          workspace: SAMPLES,
          extensionPath: REPO_ROOT,
          extensionTests: { path: join(REPO_ROOT, 'out', 'test', 'integration', 'index.js'), resultsFile, testsDir },
        });
        try {
          const { exitCode, results } = await real.waitForExtensionTests(120000);
          assert.ok(results, 'no results file');
          assert.deepEqual(results.failures, []);
          assert.equal(results.passed, 1);
          assert.equal(exitCode, 0);
        } catch (err) {
          console.log(await real.logs());
          throw err;
        } finally {
          await real.close();
        }
      },
    },
  ],
};
