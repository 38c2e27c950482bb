/**
 * Everything `npm test` runs after `npm run build`, in order:
 *   0. lint: ESLint with type information and Prettier's check (one test each);
 *   1. unit tests: node --test over test/unit/*.test.ts (no VS Code);
 *   2. the in-host suite: test/integration/*.test.ts inside a real VS Code's extension host;
 *   3. the UI suites: test/e2e/*.e2e.ts in code-server through chromium;
 *   4. under CI (or MODEL_LENS_FRESH_CLONE=1): a clean clone runs `bash scripts/start.sh --smoke`.
 * Each stage's counts are summed; the last line printed is
 * `N passed (K after a retry), N failed[, N skipped]` (K: tests that passed only when run a
 * second time, see test/e2e/run.ts; node:test runs unit tests once) and the exit code is 1 when
 * anything failed. MODEL_LENS_SKIP_VSCODE=1 runs only stages 0 and 1.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from './e2e/harness';
import { add, countsLine, runE2E, runInHost, zero, type Counts } from './e2e/run';
import { freshCloneSmoke } from './setup/freshClone';

/** Reads the summary lines (`# pass N` ...) of node:test's TAP output. */
export function parseTapSummary(tap: string): Counts | undefined {
  const num = (key: string) => {
    const m = new RegExp(`^# ${key} (\\d+)$`, 'm').exec(tap);
    return m ? Number(m[1]) : undefined;
  };
  const pass = num('pass');
  const fail = num('fail');
  if (pass === undefined || fail === undefined) return undefined;
  return { passed: pass, failed: fail + (num('cancelled') ?? 0), skipped: (num('skipped') ?? 0) + (num('todo') ?? 0), retried: 0 };
}

async function runUnit(): Promise<Counts> {
  const dir = join(REPO_ROOT, 'test', 'unit');
  const files = existsSync(dir)
    ? readdirSync(dir)
        .filter((f) => f.endsWith('.test.ts'))
        .sort()
        .map((f) => join('test', 'unit', f))
    : [];
  if (files.length === 0) {
    console.log('unit: no test/unit/*.test.ts');
    return zero();
  }
  const tmp = mkdtempSync(join(tmpdir(), 'model-lens-unit-'));
  const tapFile = join(tmp, 'unit.tap');
  try {
    // spec for people, TAP to a file for the counts.
    const code = await new Promise<number>((resolve) => {
      const child = spawn(
        process.execPath,
        [
          '--import',
          'tsx',
          '--test',
          '--test-timeout=300000',
          '--test-reporter=spec',
          '--test-reporter-destination=stdout',
          '--test-reporter=tap',
          `--test-reporter-destination=${tapFile}`,
          ...files,
        ],
        { cwd: REPO_ROOT, stdio: ['ignore', 'inherit', 'inherit'] },
      );
      child.on('exit', (c, sig) => resolve(c ?? (sig ? 1 : 0)));
    });
    const counts = parseTapSummary(existsSync(tapFile) ? readFileSync(tapFile, 'utf8') : '') ?? { ...zero(), failed: 1 };
    // A crash that leaves no failing test behind still has to fail the run.
    if (code !== 0 && counts.failed === 0) counts.failed = 1;
    return counts;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** ESLint (typescript-eslint with types) and Prettier's check, each counted as one test. */
async function runLint(): Promise<Counts> {
  const counts: Counts = zero();
  const bin = (name: string) => join(REPO_ROOT, 'node_modules', '.bin', name);
  for (const [label, cmd, args] of [
    ['eslint', bin('eslint'), ['.']],
    ['prettier --check', bin('prettier'), ['--check', '--log-level=warn', '.']],
  ] as const) {
    const code = await new Promise<number>((resolve) => {
      const child = spawn(cmd, [...args], { cwd: REPO_ROOT, stdio: ['ignore', 'inherit', 'inherit'] });
      child.on('exit', (c, sig) => resolve(c ?? (sig ? 1 : 0)));
    });
    console.log(`${code === 0 ? '✓' : '✗'} ${label}${code === 0 ? '' : ` exited ${code} (npm run format fixes formatting)`}`);
    if (code === 0) counts.passed++;
    else counts.failed++;
  }
  return counts;
}

async function main(): Promise<void> {
  const t0 = Date.now();
  const stages: [string, Counts, number][] = [];
  const stage = async (name: string, fn: () => Promise<Counts>) => {
    const s = Date.now();
    console.log(`\n=== ${name} ===`);
    let c: Counts;
    try {
      c = await fn();
    } catch (err) {
      console.log(`${name}: ✗ ${String((err as Error)?.stack ?? err)}`);
      c = { ...zero(), failed: 1 };
    }
    stages.push([name, c, Date.now() - s]);
  };

  await stage('lint', runLint);
  await stage('unit', runUnit);
  if (!process.env.MODEL_LENS_SKIP_VSCODE) {
    // The real-VS-Code stages need code-server and playwright-core in .e2e-tools; the script is
    // idempotent (well under a second when they are there), so a fresh checkout's `npm test` works.
    execFileSync('bash', [join(REPO_ROOT, '.e2e-tools', 'install.sh')], { cwd: REPO_ROOT, stdio: 'inherit' });
    await stage('in-host (VS Code extension host)', () => runInHost());
    await stage('e2e (VS Code in chromium)', () => runE2E());
    // A newcomer's first command from a clean clone: minutes of npm ci and tool installs, so it runs
    // in CI (CI=true) or when asked for (MODEL_LENS_FRESH_CLONE=1).
    if (process.env.CI === 'true' || process.env.MODEL_LENS_FRESH_CLONE === '1') {
      await stage('fresh clone (bash scripts/start.sh --smoke)', async () => {
        const r = await freshCloneSmoke(REPO_ROOT);
        console.log(`fresh clone: ${r.ok ? '✓' : '✗'} ${r.detail}`);
        return { passed: r.ok ? 1 : 0, failed: r.ok ? 0 : 1, skipped: 0, retried: 0 };
      });
    }
  }

  const total = stages.reduce((acc, [, c]) => add(acc, c), zero());
  console.log('\n=== summary ===');
  for (const [name, c, ms] of stages) console.log(`${name}: ${countsLine(c)} (${(ms / 1000).toFixed(1)} s)`);
  console.log(`total time ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  console.log(countsLine(total));
  process.exitCode = total.failed ? 1 : 0;
}

void main();
