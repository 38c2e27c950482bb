/**
 * Runs real-VS-Code tests in code-server (see harness.ts):
 *   - UI suites: every test/e2e/*.e2e.ts exports `suite: E2ESuite`; one session per suite.
 *   - the in-host suite: out/test/integration/*.test.js (bundled by test/build.mjs) run by
 *     mocha inside the extension host with the repo's extension loaded (needs `npm run build`).
 * Usage: node --import tsx test/e2e/run.ts [--in-host] [--ui] [test/e2e/x.e2e.ts ...]
 * (no flag: both); `--grep=TEXT` runs only the UI tests whose name contains TEXT (the others
 * count as skipped). Prints `N passed (K after a retry), N failed[, N skipped]` last; exit code 1
 * on any failure.
 *
 * A failed test is run once more and, if it passes then, counts as passed *after a retry*: the
 * summary says how many, each is listed with its first failure, and the goal is none (a retry
 * hides a timing dependency to fix, it is not a cure).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { REPO_ROOT, SAMPLES, startVSCode, type E2ESuite, type E2ETest, type StartOptions, type VSCodeSession } from './harness';

export interface Counts {
  /** Tests that passed, including those that passed only on their retry. */
  passed: number;
  failed: number;
  skipped: number;
  /** Of `passed`, those that failed once and passed on the retry. */
  retried: number;
}
export const zero = (): Counts => ({ passed: 0, failed: 0, skipped: 0, retried: 0 });
export const add = (a: Counts, b: Counts): Counts => ({
  passed: a.passed + b.passed,
  failed: a.failed + b.failed,
  skipped: a.skipped + b.skipped,
  retried: a.retried + b.retried,
});
/** The summary line, parsed by .ci/run: `N passed (K after a retry), N failed[, N skipped]`. */
export const countsLine = (c: Counts): string =>
  `${c.passed} passed (${c.retried} after a retry), ${c.failed} failed${c.skipped ? `, ${c.skipped} skipped` : ''}`;
/** Matches countsLine's output (one line). */
export const COUNTS_LINE = /^(\d+) passed \((\d+) after a retry\), (\d+) failed(?:, (\d+) skipped)?$/;

/** The last `n` lines, each cut to 400 characters (the host logs its whole extension list on one line). */
const tail = (s: string, n = 60) =>
  s
    .split('\n')
    .slice(-n)
    .map((l) => (l.length > 400 ? `${l.slice(0, 400)}…` : l))
    .join('\n');

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let t: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<T>((_, rej) => (t = setTimeout(() => rej(new Error(`${what}: timed out after ${ms} ms`)), ms))),
  ]).finally(() => clearTimeout(t));
}

/** Runs one UI suite on one fresh session. A failed start fails every test of the suite. */
export async function runSuite(suite: E2ESuite, grep?: string): Promise<Counts> {
  const counts = zero();
  const skipReason = (t: E2ETest) =>
    t.skip || (grep !== undefined && !t.name.includes(grep) ? `name does not contain ${JSON.stringify(grep)}` : false);
  const runnable = suite.tests.filter((t) => !skipReason(t));
  for (const t of suite.tests.filter((t) => skipReason(t))) {
    console.log(`  - ${suite.name} › ${t.name} (skipped: ${skipReason(t)})`);
    counts.skipped++;
  }
  if (runnable.length === 0) return counts;

  const started = Date.now();
  let session: VSCodeSession | undefined;
  try {
    const extra = (await suite.before?.()) ?? {};
    const opts: StartOptions = { workspace: SAMPLES, ...suite.start, ...extra };
    session = await startVSCode(opts);
    console.log(`  ${suite.name}: VS Code ready in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  } catch (err) {
    console.log(`  ✗ ${suite.name}: could not start VS Code\n${String((err as Error)?.stack ?? err)}`);
    counts.failed += runnable.length;
    await suite.after?.().catch(() => undefined);
    return counts;
  }
  try {
    for (const t of runnable) {
      const t0 = Date.now();
      let retried = false;
      try {
        try {
          await withTimeout(t.fn(session), t.timeoutMs ?? 60000, t.name);
        } catch (first) {
          // One retry, counted in the summary (the goal is none): a real failure fails twice.
          retried = true;
          console.log(`  ↻ ${suite.name} › ${t.name} failed once, retrying: ${String((first as Error)?.message ?? first).split('\n')[0]}`);
          await withTimeout(t.fn(session), t.timeoutMs ?? 60000, t.name);
        }
        counts.passed++;
        if (retried) counts.retried++;
        console.log(`  ✓ ${suite.name} › ${t.name} (${Date.now() - t0} ms${retried ? ', after a retry' : ''})`);
      } catch (err) {
        counts.failed++;
        console.log(
          `  ✗ ${suite.name} › ${t.name} (${Date.now() - t0} ms)\n    ${String((err as Error)?.stack ?? err).replace(/\n/g, '\n    ')}`,
        );
        const shot = await session.screenshot(`${suite.name}-${t.name}-failure`).catch(() => undefined);
        if (shot) console.log(`    screenshot: ${shot}`);
        if (session.consoleErrors.length) console.log(`    console errors:\n      ${session.consoleErrors.slice(-10).join('\n      ')}`);
        console.log(`    extension host log (tail):\n${tail(await session.logs(), 40)}`);
      }
    }
  } finally {
    await session.close();
    await suite.after?.().catch(() => undefined);
  }
  return counts;
}

export function e2eFiles(): string[] {
  const dir = join(REPO_ROOT, 'test', 'e2e');
  return readdirSync(dir)
    .filter((f) => f.endsWith('.e2e.ts'))
    .sort((a, b) => (a === 'smoke.e2e.ts' ? -1 : b === 'smoke.e2e.ts' ? 1 : a.localeCompare(b)))
    .map((f) => join(dir, f));
}

export async function runE2E(files: string[] = e2eFiles(), grep?: string): Promise<Counts> {
  let total = zero();
  for (const f of files) {
    console.log(`e2e: ${basename(f)}`);
    let suite: E2ESuite | undefined;
    try {
      suite = ((await import(pathToFileURL(resolve(f)).href)) as { suite?: E2ESuite }).suite;
    } catch (err) {
      console.log(`  ✗ ${basename(f)}: could not load\n${String((err as Error)?.stack ?? err)}`);
      total = add(total, { ...zero(), failed: 1 });
      continue;
    }
    if (!suite) {
      console.log(`  ✗ ${basename(f)} exports no \`suite\``);
      total = add(total, { ...zero(), failed: 1 });
      continue;
    }
    total = add(total, await runSuite(suite, grep));
  }
  return total;
}

/** Bundles the in-host tests (test/build.mjs). */
export function buildInHostTests(): void {
  execFileSync(process.execPath, [join(REPO_ROOT, 'test', 'build.mjs')], { cwd: REPO_ROOT, stdio: 'inherit' });
}

/**
 * Runs out/test/integration/*.test.js (or those in `testsDir`) inside the extension host of a
 * VS Code with `extensionPath` loaded (default: the repo, built). Counts come from the
 * runner's results file; a crash or a non-zero exit with no failed test counts as one failure.
 */
export async function runInHost(opts: { extensionPath?: string; testsDir?: string; build?: boolean } = {}): Promise<Counts> {
  if (opts.build !== false) buildInHostTests();
  const runner = join(REPO_ROOT, 'out', 'test', 'integration', 'index.js');
  const dir = opts.testsDir ?? join(REPO_ROOT, 'out', 'test', 'integration');
  const tests = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.test.js')) : [];
  if (tests.length === 0) {
    console.log('in-host: no test/integration/*.test.ts yet, nothing to run');
    return zero();
  }
  const extensionPath = opts.extensionPath ?? REPO_ROOT;
  if (extensionPath === REPO_ROOT && !existsSync(join(REPO_ROOT, 'dist', 'extension.js'))) {
    console.log('in-host: ✗ dist/extension.js is missing: run `npm run build` first');
    return { ...zero(), failed: tests.length };
  }
  const tmp = mkdtempSync(join(tmpdir(), 'model-lens-inhost-'));
  const resultsFile = join(tmp, 'results.json');
  const t0 = Date.now();
  let session: VSCodeSession | undefined;
  try {
    session = await startVSCode({
      workspace: SAMPLES,
      extensionPath,
      extensionTests: { path: runner, resultsFile, testsDir: opts.testsDir },
    });
    // The whole in-host suite's budget: each test has its own timeout (MODEL_LENS_TEST_TIMEOUT, 60 s,
    // one retry) that catches a hang; this one only bounds the total. Twelve suites on a shared 2-core
    // machine took over 5 minutes, so it is 15.
    const { exitCode, results } = await session.waitForExtensionTests(Number(process.env.MODEL_LENS_INHOST_TIMEOUT ?? 900_000));
    const c: Counts = results
      ? { passed: results.passed, failed: results.failed, skipped: results.skipped, retried: results.retried.length }
      : { ...zero(), failed: 1 };
    if (exitCode !== 0 && c.failed === 0) c.failed = 1;
    console.log(`in-host: ${tests.length} file(s), exit code ${exitCode}, ${countsLine(c)} in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    for (const f of results?.failures ?? []) console.log(`  ✗ ${f.title}\n    ${f.error.replace(/\n/g, '\n    ')}`);
    // The first failure's message whole (an assertion's message follows its first line): a retry
    // is a flake to mend, and its one chance to say why.
    for (const r of results?.retried ?? [])
      console.log(`  ↻ ${r.title} passed after a retry; first failure:\n    ${r.error.split('\n').slice(0, 12).join('\n    ')}`);
    if (c.failed) console.log(`  extension host log (tail):\n${tail(await session.logs(), 80)}`);
    return c;
  } catch (err) {
    console.log(`in-host: ✗ ${String((err as Error)?.stack ?? err)}`);
    if (session) console.log(`  extension host log (tail):\n${tail(await session.logs(), 80)}`);
    return { ...zero(), failed: Math.max(1, tests.length) };
  } finally {
    await session?.close();
    rmSync(tmp, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const files = args.filter((a) => !a.startsWith('--'));
  const grep = args.find((a) => a.startsWith('--grep='))?.slice('--grep='.length);
  const inHost = args.includes('--in-host') || (!args.includes('--ui') && files.length === 0);
  const ui = args.includes('--ui') || files.length > 0 || !args.includes('--in-host');
  let total = zero();
  if (inHost) total = add(total, await runInHost());
  if (ui) total = add(total, await runE2E(files.length ? files : undefined, grep));
  console.log(countsLine(total));
  process.exitCode = total.failed ? 1 : 0;
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(new URL(import.meta.url).pathname)) {
  void main();
}
