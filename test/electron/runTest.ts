/**
 * Runs the in-host suite (test/integration/*.test.ts) in desktop VS Code through
 * @vscode/test-electron, for machines that can download VS Code (this project's CI machine
 * cannot; it runs the same suite in code-server: test/e2e/run.ts --in-host).
 *
 *   npm run build && npm run build:tests
 *   node --import tsx test/electron/runTest.ts [--version 1.100.3|stable]
 *
 * On a headless Linux machine wrap it in `xvfb-run -a`. The runner and the counts file are
 * the same as in code-server: MODEL_LENS_TEST_RESULTS names the InHostResults JSON, and the
 * exit code is VS Code's (non-zero when a test failed).
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runTests } from '@vscode/test-electron';
import { REPO_ROOT, RESULTS_ENV, SAMPLES } from '../e2e/harness';
import type { InHostResults } from '../integration/index';

async function main(): Promise<void> {
  const vi = process.argv.indexOf('--version');
  const version = vi > 0 ? process.argv[vi + 1] : '1.100.3';
  const runner = join(REPO_ROOT, 'out', 'test', 'integration', 'index.js');
  if (!existsSync(runner)) throw new Error(`${runner} missing: run npm run build:tests`);
  if (!existsSync(join(REPO_ROOT, 'dist', 'extension.js'))) throw new Error('dist/extension.js missing: run npm run build');

  const tmp = mkdtempSync(join(tmpdir(), 'model-lens-electron-'));
  const resultsFile = join(tmp, 'results.json');
  let code = 1;
  try {
    code = await runTests({
      version,
      extensionDevelopmentPath: REPO_ROOT,
      extensionTestsPath: runner,
      extensionTestsEnv: { [RESULTS_ENV]: resultsFile },
      launchArgs: [SAMPLES, '--disable-extensions', '--disable-workspace-trust', '--user-data-dir', join(tmp, 'user-data')],
    });
  } catch (err) {
    console.error(`VS Code run failed: ${String((err as Error)?.message ?? err)}`);
  }
  const results = existsSync(resultsFile) ? (JSON.parse(readFileSync(resultsFile, 'utf8')) as InHostResults) : undefined;
  rmSync(tmp, { recursive: true, force: true });
  const failed = results ? results.failed : 1;
  console.log(
    `${results?.passed ?? 0} passed, ${failed || (code ? 1 : 0)} failed${results?.skipped ? `, ${results.skipped} skipped` : ''}`,
  );
  process.exitCode = code || failed ? 1 : 0;
}

void main();
