/**
 * A real VS Code (1.100, as code-server from .e2e-tools/) driven by playwright-core and
 * Debian's chromium. Every session is fresh: its own port, user-data dir, extensions dir,
 * XDG dirs and chromium profile, all in a temp dir that close() removes.
 *
 * API (what e2e tests use):
 *   const s = await startVSCode({ workspace, extensionPath?, settings?, theme?, extensionTests?, env? });
 *   s.page                     the playwright Page of the workbench
 *   await s.runCommand(title)  F1, pick the command whose palette row shows `title`
 *   await s.openFile(rel)      Quick Open a workspace file and wait for its editor
 *   await s.selectAll()        Ctrl+A in the active editor
 *   await s.selectRange(from, to)  select between 1-based {line, column} positions
 *   await s.selectText(text)   select the first occurrence of `text` in the last opened file
 *   await s.editorText()       the visible text of the active editor
 *   await s.hoverText(text)    hover the first visible occurrence of `text`; resolves to the hover's text
 *   await s.webview(titleOrIndex)  FrameLocator of a webview's content (activates the tab with that
 *                              title; a number picks the n-th ready webview in DOM order)
 *   await s.screenshot(name)   PNG under test-results/screenshots/, resolves to its path
 *   await s.logs()             the extension host's log files, concatenated
 *   await s.waitForStoredState(needles)  until the workbench's browser storage holds a value
 *                              containing every needle (what a window reload will restore)
 *   s.consoleErrors            browser console errors, minus known noise (gallery unreachable)
 *   s.cspViolations            Content-Security-Policy reports from any frame, webviews included
 *   await s.waitForExtensionTests()  exit code and counts of the in-host mocha run
 *   await s.close()            closes chromium, kills code-server's whole process group, removes temp dirs
 *
 * The extension under test is loaded as an extensionDevelopmentPath through the workbench
 * URL's `payload` (code-server has no CLI flag for it); in-host tests likewise through
 * `extensionTestsPath`. The extension host inherits code-server's environment, which is
 * how the in-host runner learns where to write its results (see test/integration/index.ts).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BrowserContext, FrameLocator, Page } from 'playwright-core';
import type { InHostResults } from '../integration/index';
import { waitFor, waitUntil } from '../support/waitUntil';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const E2E_TOOLS = join(REPO_ROOT, '.e2e-tools');
export const SCREENSHOT_DIR = join(REPO_ROOT, 'test-results', 'screenshots');
export const CHROMIUM = process.env.MODEL_LENS_CHROMIUM ?? '/usr/bin/chromium';
/** Env var naming the JSON file the in-host runner writes its counts to. */
export const RESULTS_ENV = 'MODEL_LENS_TEST_RESULTS';
/** Env var naming the folder whose *.test.js the in-host runner loads (default: its own folder). */
export const TESTS_DIR_ENV = 'MODEL_LENS_TESTS_DIR';

export type Theme = 'dark' | 'light' | 'hc' | 'hcLight';
const THEMES: Record<Theme, string> = {
  dark: 'Default Dark Modern',
  light: 'Default Light Modern',
  hc: 'Default High Contrast',
  hcLight: 'Default High Contrast Light',
};

export interface ExtensionTestsOptions {
  /** Absolute path of the compiled runner module (exports `run(): Promise<void>`), without or with .js. */
  path: string;
  /** Where the runner writes its InHostResults JSON (passed to it as MODEL_LENS_TEST_RESULTS). */
  resultsFile: string;
  /** Folder of *.test.js to run instead of the runner's own folder. */
  testsDir?: string;
}

export interface StartOptions {
  /** Folder opened in the workbench. */
  workspace: string;
  /** Extension loaded as extensionDevelopmentPath; default the repo root (needs `npm run build`); false: none. */
  extensionPath?: string | false;
  /** .vsix files installed into the session's fresh extensions dir before it starts. */
  installVsix?: string[];
  /** Extra user settings, merged over the harness's defaults. */
  settings?: Record<string, unknown>;
  theme?: Theme;
  extensionTests?: ExtensionTestsOptions;
  /** Extra environment for code-server and so for the extension host. */
  env?: Record<string, string>;
  viewport?: { width: number; height: number };
  /** Milliseconds to wait for the workbench to be ready (default 90 s). */
  startTimeoutMs?: number;
}

export interface Position {
  /** 1-based, as in the status bar. */
  line: number;
  /** 1-based, in UTF-16 units, as in the status bar. */
  column: number;
}

export interface ExtensionTestsOutcome {
  exitCode: number;
  results: InHostResults | undefined;
}

export interface VSCodeSession {
  readonly page: Page;
  readonly url: string;
  readonly port: number;
  readonly userDataDir: string;
  readonly workspace: string;
  readonly consoleErrors: string[];
  /** Console messages of any frame (the webviews' too) that report a Content-Security-Policy violation. */
  readonly cspViolations: string[];
  runCommand(title: string): Promise<void>;
  openFile(relPath: string): Promise<void>;
  selectAll(): Promise<void>;
  selectRange(from: Position, to: Position): Promise<void>;
  selectText(text: string): Promise<void>;
  editorText(): Promise<string>;
  hoverText(text: string): Promise<string>;
  webview(titleOrIndex: string | number): Promise<FrameLocator>;
  screenshot(name: string): Promise<string>;
  logs(): Promise<string>;
  waitForStoredState(needles: string[], timeoutMs?: number): Promise<void>;
  waitForExtensionTests(timeoutMs?: number): Promise<ExtensionTestsOutcome>;
  close(): Promise<void>;
}

type Playwright = typeof import('playwright-core');

/** playwright-core from .e2e-tools (installed by .e2e-tools/install.sh), so the versions match code-server's tools. */
function loadPlaywright(): Playwright {
  const pkg = join(E2E_TOOLS, 'package.json');
  try {
    return createRequire(pkg)('playwright-core') as Playwright;
  } catch (err) {
    throw new Error(`playwright-core is not installed in ${E2E_TOOLS}: run .e2e-tools/install.sh (${String(err)})`, { cause: err });
  }
}

function codeServerBin(): string {
  const bin = join(E2E_TOOLS, 'node_modules', '.bin', 'code-server');
  if (!existsSync(bin)) throw new Error(`code-server is not installed: run .e2e-tools/install.sh (looked for ${bin})`);
  return bin;
}

/** A port the OS says is free right now (it picks one at random). */
export function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', rej);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => (port ? res(port) : rej(new Error('no free port'))));
    });
  });
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Page-side source: true when a value in one of the workbench's IndexedDB state databases
 * (`vscode-web-state-db-*`, table `ItemTable`: the browser's storage service) contains every
 * needle. A string because this project compiles without the DOM lib.
 */
const STORED_STATE_PROBE = `async (needles) => {
  const request = (r) => new Promise((res, rej) => { r.onsuccess = () => res(r.result); r.onerror = () => rej(r.error); });
  for (const { name } of await indexedDB.databases()) {
    if (!name || !name.startsWith('vscode-web-state-db-')) continue;
    const db = await request(indexedDB.open(name));
    try {
      if (!db.objectStoreNames.contains('ItemTable')) continue;
      const values = await request(db.transaction('ItemTable', 'readonly').objectStore('ItemTable').getAll());
      for (const v of values) {
        const s = typeof v === 'string' ? v : JSON.stringify(v);
        if (needles.every((n) => s.includes(n))) return true;
      }
    } finally {
      db.close();
    }
  }
  return false;
}`;

async function waitForHealthz(port: number, child: ChildProcess, output: () => string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`code-server exited with ${child.exitCode}:\n${output()}`);
    try {
      const r = await fetch(`http://127.0.0.1:${port}/healthz`);
      if (r.ok) return;
    } catch {
      // not listening yet
    }
    await sleep(200);
  }
  throw new Error(`code-server did not answer /healthz on port ${port} within ${timeoutMs} ms:\n${output()}`);
}

/** SIGTERM then SIGKILL to the whole process group: extension hosts outlive their parent otherwise. */
export async function killGroup(child: ChildProcess): Promise<void> {
  if (child.pid === undefined) return;
  const pgid = child.pid;
  const alive = () => {
    try {
      process.kill(-pgid, 0);
      return true;
    } catch {
      return false;
    }
  };
  try {
    process.kill(-pgid, 'SIGTERM');
  } catch {
    return;
  }
  for (let i = 0; i < 20 && alive(); i++) await sleep(100);
  if (alive()) {
    try {
      process.kill(-pgid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

function listFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) => (d.isDirectory() ? listFiles(join(dir, d.name)) : [join(dir, d.name)]));
}

/** Offset in the editor's model of a 1-based position: Monaco moves over CRLF as one step. */
function modelOffset(lines: string[], p: Position): number {
  let off = 0;
  for (let i = 0; i < p.line - 1; i++) off += lines[i].length + 1;
  return off + p.column - 1;
}

export interface CodeServer {
  child: ChildProcess;
  port: number;
  baseUrl: string;
  output: () => string;
}

/**
 * Starts code-server on a random free port (own process group) with the given dirs and
 * waits for /healthz. Used by startVSCode and by scripts/start.ts.
 */
export async function startCodeServer(opts: {
  workspace: string;
  userDataDir: string;
  extensionsDir: string;
  xdgDir: string;
  env?: Record<string, string>;
  port?: number;
  timeoutMs?: number;
  inheritOutput?: boolean;
}): Promise<CodeServer> {
  const port = opts.port ?? (await freePort());
  const args = [
    '--auth',
    'none',
    '--bind-addr',
    `127.0.0.1:${port}`,
    '--user-data-dir',
    opts.userDataDir,
    '--extensions-dir',
    opts.extensionsDir,
    '--disable-telemetry',
    '--disable-update-check',
    '--disable-workspace-trust',
    '--disable-getting-started-override',
    '--ignore-last-opened',
    opts.workspace,
  ];
  for (const d of ['config', 'data', 'cache', 'state']) mkdirSync(join(opts.xdgDir, d), { recursive: true });
  const child = spawn(codeServerBin(), args, {
    detached: true, // setsid: a process group we can kill as a whole
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      XDG_CONFIG_HOME: join(opts.xdgDir, 'config'),
      XDG_DATA_HOME: join(opts.xdgDir, 'data'),
      XDG_CACHE_HOME: join(opts.xdgDir, 'cache'),
      XDG_STATE_HOME: join(opts.xdgDir, 'state'),
      ...opts.env,
    },
  });
  let out = '';
  const keep = (b: Buffer) => {
    out = (out + b.toString()).slice(-20000);
    if (opts.inheritOutput) process.stderr.write(b);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  try {
    await waitForHealthz(port, child, () => out, opts.timeoutMs ?? 60000);
  } catch (err) {
    await killGroup(child);
    throw err;
  }
  return { child, port, baseUrl: `http://127.0.0.1:${port}`, output: () => out };
}

/** The workbench URL that opens `workspace` with the given development extension and tests loaded. */
export function workbenchUrl(port: number, workspace: string, extensionPath?: string, testsPath?: string): string {
  const remote = (p: string) => `vscode-remote://127.0.0.1:${port}${p}`;
  const payload: [string, string][] = [];
  if (extensionPath) payload.push(['extensionDevelopmentPath', remote(extensionPath)]);
  if (testsPath) payload.push(['extensionTestsPath', remote(testsPath.replace(/\.js$/, ''))]);
  const q = new URLSearchParams({ folder: workspace });
  if (payload.length) q.set('payload', JSON.stringify(payload));
  return `http://127.0.0.1:${port}/?${q.toString()}`;
}

/** The entries of `settings` that this extension declares with scope machine or machine-overridable. */
function machineScoped(settings: Record<string, unknown>): Record<string, unknown> {
  type Contributed = { properties?: Record<string, { scope?: string }> };
  const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as {
    contributes?: { configuration?: Contributed | Contributed[] };
  };
  const sections = [pkg.contributes?.configuration ?? []].flat();
  const scopes = new Map(sections.flatMap((c) => Object.entries(c.properties ?? {}).map(([k, v]) => [k, v.scope] as const)));
  return Object.fromEntries(Object.entries(settings).filter(([k]) => /^machine/.test(scopes.get(k) ?? '')));
}

/** Console noise of an offline workbench that says nothing about the extension. */
const CONSOLE_NOISE = [/gallery/i, /marketplace/i, /ERR_NAME_NOT_RESOLVED/, /ERR_INTERNET_DISCONNECTED/, /Failed to load resource/];

export async function startVSCode(options: StartOptions): Promise<VSCodeSession> {
  const workspace = resolve(options.workspace);
  if (!existsSync(workspace)) throw new Error(`workspace ${workspace} does not exist`);
  const extensionPath = options.extensionPath === false ? undefined : resolve(options.extensionPath ?? REPO_ROOT);
  if (extensionPath && !existsSync(join(extensionPath, 'package.json'))) {
    throw new Error(`no extension at ${extensionPath} (no package.json)`);
  }
  if (options.extensionTests && !extensionPath) {
    // The workbench only runs extensionTestsPath alongside an extensionDevelopmentPath (seen
    // with 1.100: tests never start otherwise); a dummy extension folder is enough.
    throw new Error('extensionTests needs an extensionPath (a minimal package.json folder will do)');
  }

  const root = mkdtempSync(join(tmpdir(), 'model-lens-e2e-'));
  const userDataDir = join(root, 'user-data');
  const extensionsDir = join(root, 'extensions');
  const profileDir = join(root, 'chromium-profile');
  mkdirSync(join(userDataDir, 'User'), { recursive: true });
  mkdirSync(extensionsDir, { recursive: true });
  for (const vsix of options.installVsix ?? []) {
    execFileSync(
      codeServerBin(),
      ['--extensions-dir', extensionsDir, '--user-data-dir', userDataDir, '--install-extension', resolve(vsix)],
      {
        stdio: 'pipe',
        env: { ...process.env, XDG_CONFIG_HOME: join(root, 'xdg', 'config'), XDG_DATA_HOME: join(root, 'xdg', 'data') },
      },
    );
  }
  const settings: Record<string, unknown> = {
    'workbench.startupEditor': 'none',
    'editor.hover.delay': 100,
    'workbench.tips.enabled': false,
    'extensions.ignoreRecommendations': true,
    'telemetry.telemetryLevel': 'off',
    'update.mode': 'none',
    'security.workspace.trust.enabled': false,
    'workbench.enableExperiments': false,
    // Tests open many untitled documents, and a closed one's name (Untitled-1) is given to the next:
    // VS Code could restore the closed editor's selection on the new one after the test set its own.
    // (A guard only: the flaky panel test this was first suspected for ran on the earlier document.)
    'workbench.editor.restoreViewState': false,
    ...(options.theme ? { 'workbench.colorTheme': THEMES[options.theme] } : {}),
    ...options.settings,
  };
  writeFileSync(join(userDataDir, 'User', 'settings.json'), JSON.stringify(settings, null, 2));
  // code-server is a remote window: VS Code ignores machine-scoped settings (modelLens.model is
  // machine-overridable) in the User file and reads them from the remote machine's settings only.
  // It honours them from the User file just until the extension's schema is registered and the
  // file is parsed again (any settings write, a reload), so a test that relied on that broke
  // later in the session. Put them where a code-server user must.
  const machine = machineScoped(settings);
  if (Object.keys(machine).length > 0) {
    mkdirSync(join(userDataDir, 'Machine'), { recursive: true });
    writeFileSync(join(userDataDir, 'Machine', 'settings.json'), JSON.stringify(machine, null, 2));
  }

  const env: Record<string, string> = { ...options.env };
  if (options.extensionTests) {
    env[RESULTS_ENV] = resolve(options.extensionTests.resultsFile);
    if (options.extensionTests.testsDir) env[TESTS_DIR_ENV] = resolve(options.extensionTests.testsDir);
  }

  const server = await startCodeServer({ workspace, userDataDir, extensionsDir, xdgDir: join(root, 'xdg'), env });
  let context: BrowserContext | undefined;
  const cleanup = async () => {
    await context?.close().catch(() => undefined);
    await killGroup(server.child);
    if (!process.env.MODEL_LENS_KEEP_TMP) rmSync(root, { recursive: true, force: true });
  };

  try {
    const { chromium } = loadPlaywright();
    context = await chromium.launchPersistentContext(profileDir, {
      executablePath: CHROMIUM,
      headless: true,
      viewport: options.viewport ?? { width: 1400, height: 900 },
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-dev-shm-usage',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    const page = context.pages()[0] ?? (await context.newPage());
    const consoleErrors: string[] = [];
    const cspViolations: string[] = [];
    page.on('console', (m) => {
      if (/Content Security Policy/i.test(m.text())) cspViolations.push(`${m.location().url}:${m.location().lineNumber}: ${m.text()}`);
      if (m.type() === 'error' && !CONSOLE_NOISE.some((re) => re.test(m.text()))) consoleErrors.push(m.text());
    });
    page.on('pageerror', (e) => consoleErrors.push(String(e)));

    // The workbench calls window.codeAutomationExit(code) when extension tests settle.
    let exitResolve: (code: number) => void = () => undefined;
    const exited = new Promise<number>((r) => (exitResolve = r));
    await page.exposeFunction('codeAutomationExit', (code: number) => exitResolve(code));

    const url = workbenchUrl(server.port, workspace, extensionPath, options.extensionTests?.path);
    await page.goto(url);
    const startTimeout = options.startTimeoutMs ?? 90000;
    await page.locator('.monaco-workbench').waitFor({ timeout: startTimeout });
    if (!options.extensionTests) {
      await page.locator('.explorer-folders-view .monaco-list-row').first().waitFor({ timeout: startTimeout });
    }

    let lastFile: string | undefined;
    const quickPick = async (opener: string, prefix: string, text: string) => {
      const input = page.locator('.quick-input-widget .quick-input-box input');
      await page.keyboard.press(opener);
      await input.waitFor({ state: 'visible' });
      await input.fill(prefix + text);
      const row = page.locator('.quick-input-widget .quick-input-list .monaco-list-row', { hasText: text }).first();
      await row.waitFor({ state: 'visible' });
      await row.click();
      // Done when the palette is gone, or when the widget already holds the command's own input
      // (a multi-step command reuses it at once, so on a busy machine it may never be seen hidden:
      // a CI run timed out here twice while the widget showed Activation Patching's step 2).
      await page.waitForFunction((typed: string) => {
        // Runs in the page; typed structurally because this project compiles without the DOM lib.
        interface InputLike {
          readonly value: string;
          readonly offsetParent: unknown;
        }
        const doc = (globalThis as unknown as { document: { querySelector(sel: string): InputLike | null } }).document;
        const el = doc.querySelector('.quick-input-widget .quick-input-box input');
        return el === null || el.offsetParent === null || el.value !== typed;
      }, prefix + text);
    };
    const focusEditor = async () => {
      await page
        .locator('.editor-instance .view-lines')
        .first()
        .click({ position: { x: 5, y: 5 } });
    };

    const session: VSCodeSession = {
      page,
      url,
      port: server.port,
      userDataDir,
      workspace,
      consoleErrors,
      cspViolations,

      async runCommand(title) {
        await quickPick('F1', '>', title);
      },

      async openFile(relPath) {
        await quickPick('Control+P', '', relPath);
        const base = relPath.split('/').pop() ?? relPath;
        // The file may already be open in a second editor group (beside a panel): any active tab of it will do.
        await page.locator('.tabs-container .tab.active', { hasText: base }).first().waitFor();
        await page.locator('.editor-instance .view-lines').first().waitFor();
        lastFile = relPath;
      },

      async selectAll() {
        await focusEditor();
        await page.keyboard.press('Control+A');
      },

      async selectRange(from, to) {
        if (!lastFile) throw new Error('selectRange: open a file with openFile() first');
        const lines = readFileSync(join(workspace, lastFile), 'utf8').split(/\r\n|\n/);
        const steps = modelOffset(lines, to) - modelOffset(lines, from);
        if (steps < 0) throw new Error(`selectRange: ${JSON.stringify(to)} is before ${JSON.stringify(from)}`);
        await focusEditor();
        await page.keyboard.press('Control+G');
        const input = page.locator('.quick-input-widget .quick-input-box input');
        await input.waitFor({ state: 'visible' });
        await input.fill(`:${from.line}:${from.column}`);
        await page.keyboard.press('Enter');
        await input.waitFor({ state: 'hidden' });
        for (let i = 0; i < steps; i++) await page.keyboard.press('Shift+ArrowRight');
      },

      async selectText(text) {
        if (!lastFile) throw new Error('selectText: open a file with openFile() first');
        const lines = readFileSync(join(workspace, lastFile), 'utf8').split(/\r\n|\n/);
        const joined = lines.join('\n');
        const at = joined.indexOf(text);
        if (at < 0) throw new Error(`selectText: ${JSON.stringify(text)} is not in ${lastFile}`);
        const before = joined.slice(0, at).split('\n');
        const from = { line: before.length, column: before[before.length - 1].length + 1 };
        const upTo = joined.slice(0, at + text.length).split('\n');
        const to = { line: upTo.length, column: upTo[upTo.length - 1].length + 1 };
        await session.selectRange(from, to);
      },

      async editorText() {
        const text = await page.locator('.editor-instance .view-lines').first().innerText();
        return text.replace(/\u00a0/g, ' ');
      },

      async hoverText(text) {
        // The rectangle of the first visible occurrence of `text`, measured with a DOM Range so
        // the mouse lands on the word, not the middle of a long span.
        const box = await page.evaluate((needle: string) => {
          // Runs in the page; typed structurally because this project compiles without the DOM lib.
          interface TextNodeLike {
            nodeType: number;
            textContent: string | null;
          }
          interface Doc {
            querySelectorAll(sel: string): ArrayLike<{ firstChild: TextNodeLike | null }>;
            createRange(): {
              setStart(n: TextNodeLike, o: number): void;
              setEnd(n: TextNodeLike, o: number): void;
              getBoundingClientRect(): { left: number; top: number; width: number; height: number };
            };
          }
          const doc = (globalThis as unknown as { document: Doc }).document;
          const spans = Array.from(doc.querySelectorAll('.editor-instance .view-line span span'));
          for (const span of spans) {
            const node = span.firstChild;
            if (!node || node.nodeType !== 3 /* TEXT_NODE */) continue;
            const at = (node.textContent ?? '').replace(/\u00a0/g, ' ').indexOf(needle);
            if (at < 0) continue;
            const range = doc.createRange();
            range.setStart(node, at);
            range.setEnd(node, at + needle.length);
            const r = range.getBoundingClientRect();
            return { x: r.left + r.width / 2, y: r.top + r.height / 2 };
          }
          return null;
        }, text);
        if (!box) throw new Error(`hoverText: ${JSON.stringify(text)} is not visible in an editor`);
        const hover = page.locator('.monaco-hover:not(.hidden) .monaco-hover-content').first();
        // The editor asks the hover providers once per mouse position, and shows nothing when
        // none answers: a hover asked before the extension registered its provider (activation
        // comes late on a loaded machine), or a move that landed before the editor tracked the
        // mouse, never shows. So leave the word and come back until the hover is there, rather
        // than waiting once on a single move.
        await waitFor(
          `a hover over ${JSON.stringify(text)}`,
          async () => {
            await page.mouse.move(box.x, box.y + 300); // empty editor space below the text: no hover there
            await page.mouse.move(box.x - 2, box.y);
            await page.mouse.move(box.x, box.y);
            return hover
              .waitFor({ state: 'visible', timeout: 3000 })
              .then(() => true)
              .catch(() => false);
          },
          { timeoutMs: 45000, intervalMs: 0 },
        );
        // Providers answer asynchronously; wait until the "Loading..." placeholder is gone.
        return waitUntil(`the hover over ${JSON.stringify(text)} to finish loading`, async () => {
          const t = await hover.innerText();
          return t.trim() && !/^Loading\.*$/.test(t.trim()) ? t : undefined;
        });
      },

      async webview(titleOrIndex) {
        const frames = page.locator('iframe.webview.ready');
        if (typeof titleOrIndex === 'number') {
          await frames.nth(titleOrIndex).waitFor({ state: 'attached' });
          return frames.nth(titleOrIndex).contentFrame().frameLocator('iframe#active-frame');
        }
        // Webview iframes carry no title: activate the tab with that title, then its webview
        // is the one visible ready iframe (hidden panels keep theirs, invisible).
        const tab = page.locator('.tabs-container .tab', { hasText: titleOrIndex }).first();
        await tab.waitFor({ timeout: 15000 });
        await tab.click();
        const visible = frames.filter({ visible: true }).first();
        // A webview restored by a window reload is ready only after its extension activated and
        // revived it, which takes longer than a fresh panel on a loaded machine.
        await visible.waitFor({ timeout: 45000 });
        return visible.contentFrame().frameLocator('iframe#active-frame');
      },

      async screenshot(name) {
        mkdirSync(SCREENSHOT_DIR, { recursive: true });
        const file = join(SCREENSHOT_DIR, `${name.replace(/[^\w.-]+/g, '_')}.png`);
        await page.screenshot({ path: file });
        return file;
      },

      async logs() {
        const files = listFiles(join(userDataDir, 'logs')).filter((f) => /exthost/.test(f) && statSync(f).isFile());
        return files.map((f) => `==> ${f}\n${readFileSync(f, 'utf8')}`).join('\n');
      },

      async waitForStoredState(needles, timeoutMs = 60000) {
        // The browser workbench writes its state (open editors, each webview's setState) to
        // IndexedDB on a timer (every 5 s, when the page is idle), not when it changes; a reload
        // restores only what was written, so wait for the write instead of guessing its time.
        await waitFor(
          `the workbench to store ${JSON.stringify(needles)}`,
          () => page.evaluate<boolean>(`(${STORED_STATE_PROBE})(${JSON.stringify(needles)})`),
          { timeoutMs, intervalMs: 250 },
        );
      },

      async waitForExtensionTests(timeoutMs = 120000) {
        if (!options.extensionTests) throw new Error('waitForExtensionTests: start with extensionTests');
        let timer: NodeJS.Timeout | undefined;
        const timeout = new Promise<number>((_, rej) => {
          timer = setTimeout(() => rej(new Error(`extension tests did not finish within ${timeoutMs} ms`)), timeoutMs);
        });
        try {
          const exitCode = await Promise.race([exited, timeout]);
          const file = resolve(options.extensionTests.resultsFile);
          const results = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as InHostResults) : undefined;
          return { exitCode, results };
        } finally {
          clearTimeout(timer);
        }
      },

      close: cleanup,
    };
    return session;
  } catch (err) {
    const log = server.output();
    await cleanup();
    throw new Error(`${String(err)}\n--- code-server output ---\n${log}`, { cause: err });
  }
}

/**
 * What a test/e2e/*.e2e.ts file exports as `suite`: test/e2e/run.ts starts one VS Code per
 * suite with `start` (workspace defaults to samples/), runs the tests in order on that
 * session, screenshots a failing test and prints the extension host's log tail.
 */
export interface E2ETest {
  name: string;
  fn: (session: VSCodeSession) => Promise<void>;
  /** Milliseconds before the test counts as failed (default 60 s). */
  timeoutMs?: number;
  /** A reason to skip (counted as skipped), e.g. a missing build. */
  skip?: string | false;
}

export interface E2ESuite {
  name: string;
  start?: Partial<StartOptions>;
  tests: E2ETest[];
  /** Set up before the session starts (e.g. write a temp extension); may return start options. */
  before?: () => Promise<Partial<StartOptions> | void>;
  /** Clean up after the session closed. */
  after?: () => Promise<void>;
}

export const SAMPLES = join(REPO_ROOT, 'samples');
