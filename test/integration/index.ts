/**
 * The in-host test runner: VS Code loads it as `extensionTestsPath` (see test/e2e/harness.ts)
 * inside the extension host and calls run(). It runs every compiled `*.test.js` in its own
 * folder (out/test/integration/, built by test/build.mjs) or in MODEL_LENS_TESTS_DIR, with
 * mocha's BDD interface (describe/it, before/after), and writes the counts as InHostResults
 * JSON to the file named by MODEL_LENS_TEST_RESULTS. A failing test rejects run(), which makes
 * the workbench report a non-zero exit code. A test that fails once is run once more; if it
 * passes then, it is listed in `retried` with its first failure, and the summary line counts it
 * (`N passed (K after a retry)`): the goal is none.
 *
 * Test files import `vscode` (external to the bundle) and talk to the extension through
 * its commands and exports, as a user's other extensions would.
 */
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface InHostFailure {
  title: string;
  error: string;
}

export interface InHostResults {
  passed: number;
  failed: number;
  skipped: number;
  failures: InHostFailure[];
  /** Tests that failed once and passed on their retry (counted in `passed` too), with the first failure. */
  retried: InHostFailure[];
  files: string[];
}

interface MochaTest {
  fullTitle(): string;
  currentRetry(): number;
}
interface MochaRunner {
  on(event: 'pass' | 'pending', fn: (test: MochaTest) => void): this;
  on(event: 'fail' | 'retry', fn: (test: MochaTest, err: unknown) => void): this;
}
interface MochaInstance {
  addFile(file: string): void;
  run(done: (failures: number) => void): MochaRunner;
}
type MochaCtor = new (opts: { ui: string; color: boolean; timeout: number; reporter: string; retries: number }) => MochaInstance;

export function run(): Promise<void> {
  // mocha stays external: it resolves from the repo's node_modules at run time.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const mochaModule = require('mocha') as { Mocha?: MochaCtor } & MochaCtor;
  const Mocha: MochaCtor = mochaModule.Mocha ?? mochaModule;
  const timeout = Number(process.env.MODEL_LENS_TEST_TIMEOUT ?? 60000);
  // One retry, counted and listed (see InHostResults.retried); a real failure fails twice.
  const mocha = new Mocha({ ui: 'bdd', color: false, timeout, reporter: 'spec', retries: 1 });

  const dir = process.env.MODEL_LENS_TESTS_DIR ?? __dirname;
  const files = existsSync(dir)
    ? readdirSync(dir)
        .filter((f) => f.endsWith('.test.js'))
        .sort()
    : [];
  for (const f of files) mocha.addFile(join(dir, f));

  const results: InHostResults = { passed: 0, failed: 0, skipped: 0, failures: [], retried: [], files };
  const firstFailure = new Map<string, string>();
  const describe = (err: unknown) => {
    const e = err as { stack?: string; message?: string };
    return e?.stack ?? e?.message ?? String(err);
  };
  const write = () => {
    const out = process.env.MODEL_LENS_TEST_RESULTS;
    if (out) writeFileSync(out, JSON.stringify(results, null, 2));
  };

  return new Promise((resolve, reject) => {
    try {
      mocha
        .run((failures) => {
          write();
          if (failures > 0) reject(new Error(`${failures} in-host test(s) failed`));
          else resolve();
        })
        .on('retry', (test, err) => {
          if (!firstFailure.has(test.fullTitle())) firstFailure.set(test.fullTitle(), describe(err));
        })
        .on('pass', (test) => {
          results.passed++;
          if (test.currentRetry() > 0) results.retried.push({ title: test.fullTitle(), error: firstFailure.get(test.fullTitle()) ?? '' });
        })
        .on('pending', () => results.skipped++)
        .on('fail', (test, err) => {
          results.failed++;
          results.failures.push({ title: test.fullTitle(), error: describe(err) });
        });
    } catch (err) {
      // A test file that throws while loading counts as a failure, not a silent zero.
      results.failed++;
      results.failures.push({ title: 'loading test files', error: String((err as Error)?.stack ?? err) });
      write();
      reject(err);
    }
  });
}
