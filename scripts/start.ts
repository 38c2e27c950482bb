/**
 * `npm start`: VS Code in the browser with Model Lens loaded from this checkout.
 * Builds if dist/ is missing, installs the code-server tools if needed (.e2e-tools/install.sh),
 * starts code-server on 127.0.0.1 with the extension as extensionDevelopmentPath, prints the
 * URL to open and runs until Ctrl-C (the whole code-server process group is stopped then).
 *
 *   node --import tsx scripts/start.ts [--port N] [--workspace DIR] [--smoke]
 *
 * Settings and state persist in .e2e-tools/cache/ between runs. --smoke uses fresh temp
 * dirs, checks /healthz and that the workbench page loads with the workspace's files in
 * chromium, then exits 0 (or 1 with the reason).
 */
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { CHROMIUM, E2E_TOOLS, REPO_ROOT, SAMPLES, freePort, killGroup, startCodeServer, workbenchUrl } from '../test/e2e/harness';

interface Args {
  port?: number;
  workspace: string;
  smoke: boolean;
}

function parseArgs(argv: string[]): Args {
  const args: Args = { workspace: SAMPLES, smoke: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--smoke') args.smoke = true;
    else if (a === '--port') args.port = Number(argv[++i]);
    else if (a === '--workspace') args.workspace = resolve(argv[++i] ?? '');
    else throw new Error(`unknown argument ${a} (use --port N, --workspace DIR, --smoke)`);
  }
  if (args.port !== undefined && !(Number.isInteger(args.port) && args.port > 0 && args.port < 65536)) {
    throw new Error(`--port needs a port number, got ${argv[argv.indexOf('--port') + 1]}`);
  }
  if (!existsSync(args.workspace)) throw new Error(`workspace ${args.workspace} does not exist`);
  return args;
}

function portIsFree(port: number): Promise<boolean> {
  return new Promise((res) => {
    const srv = createServer();
    srv.once('error', () => res(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => res(true)));
  });
}

function ensureBuilt(): void {
  if (existsSync(join(REPO_ROOT, 'dist', 'extension.js'))) return;
  console.log('dist/extension.js missing: running npm run build');
  execFileSync('npm', ['run', 'build'], { cwd: REPO_ROOT, stdio: 'inherit' });
}

function ensureTools(): void {
  execFileSync('bash', [join(E2E_TOOLS, 'install.sh')], { cwd: REPO_ROOT, stdio: 'inherit' });
}

/** Loads the workbench in headless chromium and waits for the explorer to list the workspace. */
async function checkWorkbench(url: string): Promise<string[]> {
  const { chromium } = createRequire(join(E2E_TOOLS, 'package.json'))('playwright-core') as typeof import('playwright-core');
  const profile = mkdtempSync(join(tmpdir(), 'model-lens-start-chromium-'));
  const ctx = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run', '--disable-background-networking'],
  });
  try {
    const page = ctx.pages()[0] ?? (await ctx.newPage());
    await page.goto(url);
    await page.locator('.monaco-workbench').waitFor({ timeout: 90000 });
    const rows = page.locator('.explorer-folders-view .monaco-list-row');
    await rows.first().waitFor({ timeout: 90000 });
    return (await rows.allInnerTexts()).map((t) => t.trim());
  } finally {
    await ctx.close();
    rmSync(profile, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  ensureBuilt();
  ensureTools();

  const base = args.smoke ? mkdtempSync(join(tmpdir(), 'model-lens-start-')) : join(E2E_TOOLS, 'cache');
  const userDataDir = join(base, 'user-data');
  mkdirSync(join(userDataDir, 'User'), { recursive: true });
  const settingsFile = join(userDataDir, 'User', 'settings.json');
  if (!existsSync(settingsFile)) {
    writeFileSync(settingsFile, JSON.stringify({ 'workbench.startupEditor': 'none', 'telemetry.telemetryLevel': 'off' }, null, 2));
  }
  const port = args.port ?? ((await portIsFree(8080)) && !args.smoke ? 8080 : await freePort());
  const server = await startCodeServer({
    workspace: args.workspace,
    userDataDir,
    extensionsDir: join(base, 'extensions'),
    xdgDir: join(base, 'xdg'),
    port,
  });
  const url = workbenchUrl(server.port, args.workspace, REPO_ROOT);
  let stopping = false;
  const stop = async (code: number) => {
    if (stopping) return;
    stopping = true;
    await killGroup(server.child);
    if (args.smoke) rmSync(base, { recursive: true, force: true });
    process.exit(code);
  };
  process.on('SIGINT', () => void stop(0));
  process.on('SIGTERM', () => void stop(0));
  server.child.on('exit', (code) => {
    if (!stopping) {
      console.error(`code-server exited (${code}):\n${server.output()}`);
      void stop(1);
    }
  });

  if (!args.smoke) {
    console.log(`\nModel Lens is running in VS Code. Open:\n\n  ${url}\n\nCtrl-C to stop.`);
    return; // the child keeps the event loop alive
  }

  try {
    const health = (await (await fetch(`${server.baseUrl}/healthz`)).json()) as { status?: string };
    if (!health.status) throw new Error(`/healthz answered ${JSON.stringify(health)}`);
    const html = await (await fetch(url)).text();
    if (!/workbench/i.test(html)) throw new Error('the workbench page does not look like a workbench');
    const rows = await checkWorkbench(url);
    console.log(`smoke: /healthz ${health.status}; workbench loaded at ${url}; explorer shows ${rows.join(', ')}`);
    await stop(0);
  } catch (err) {
    console.error(`smoke: ✗ ${String((err as Error)?.stack ?? err)}\n${server.output()}`);
    await stop(1);
  }
}

main().catch((err: unknown) => {
  console.error(String((err as Error)?.message ?? err));
  process.exit(1);
});
