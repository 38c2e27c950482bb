/**
 * The getting-started walkthrough in a real VS Code: it opens from "Welcome: Open Walkthrough…"
 * with its six steps, and each step's button does what it says (Select Model offers the demo,
 * Tokenize Selection, the activation panel, inline logits, export of a cache that opens as its
 * header, the sidebar). Besides the usual screenshots, it writes each step's part of the window to
 * test-results/walkthrough/<step>.png: the walkthrough's own images (media/walkthrough/*.png) are
 * these, copied by hand after a run (`cp test-results/walkthrough/*.png media/walkthrough/`).
 */
import { strict as assert } from 'node:assert';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SAMPLES, type E2ESuite, type VSCodeSession } from './harness';
import { generateTinyGpt2 } from '../../src/engine/tinyGpt2';
import { inlineHint } from './inlineHint';

let modelDir = '';
let workspace = '';

/** The part of the 1400 x 900 window a step's image shows, as test-results/walkthrough/<name>.png. */
async function stepImage(s: VSCodeSession, name: string, clip: { x: number; y: number; width: number; height: number }): Promise<void> {
  const dir = join('test-results', 'walkthrough');
  mkdirSync(dir, { recursive: true });
  await s.page.screenshot({ path: join(dir, `${name}.png`), clip });
}

const EDITORS = { x: 348, y: 36 };

/** A command whose first quick pick leads to another (the harness's runCommand waits for the widget to close). */
async function startCommand(s: VSCodeSession, title: string): Promise<void> {
  const input = s.page.locator('.quick-input-widget .quick-input-box input');
  await s.page.keyboard.press('F1');
  await input.waitFor({ state: 'visible' });
  await input.fill(`>${title}`);
  await s.page.locator('.quick-input-widget .quick-input-list .monaco-list-row', { hasText: title }).first().click();
}

export const suite: E2ESuite = {
  name: 'walkthrough',
  async before() {
    modelDir = mkdtempSync(join(tmpdir(), 'model-lens-walkthrough-model-'));
    // A workspace of its own: the exported cache is written into it and opened from it.
    workspace = mkdtempSync(join(tmpdir(), 'model-lens-walkthrough-ws-'));
    copyFileSync(join(SAMPLES, 'hello.txt'), join(workspace, 'hello.txt'));
    await generateTinyGpt2(modelDir, { seed: 9 });
    return {
      workspace,
      theme: 'dark',
      viewport: { width: 1400, height: 900 },
      settings: { 'modelLens.model': modelDir, 'git.openRepositoryInParentFolders': 'never', 'workbench.startupEditor': 'none' },
    };
  },
  async after() {
    for (const d of [modelDir, workspace]) if (d) rmSync(d, { recursive: true, force: true });
  },
  tests: [
    {
      name: 'the walkthrough opens with its six steps, each with a button',
      timeoutMs: 60000,
      async fn(s) {
        await startCommand(s, 'Welcome: Open Walkthrough...');
        await s.page.locator('.quick-input-widget .monaco-list-row', { hasText: 'Get Started with Model Lens' }).first().click();
        const steps = s.page.locator('.getting-started-step');
        await s.page.locator('.getting-started-step', { hasText: 'Pick a model' }).first().waitFor({ timeout: 30000 });
        const titles = await s.page.locator('.getting-started-step .step-title').allInnerTexts();
        for (const t of [
          'Pick a model',
          'Tokenize a selection',
          'Open the activation panel',
          'Turn on inline logits',
          'Export a cache',
          'Tour the model',
        ])
          assert.ok(
            titles.some((x) => x.includes(t)),
            `no step '${t}' in ${titles.join(' | ')}`,
          );
        assert.equal(await steps.count(), 6);
        await s.screenshot('walkthrough-page');
      },
    },
    {
      name: 'the steps do what they say',
      timeoutMs: 180000,
      async fn(s) {
        await s.runCommand('View: Close All Editors');
        await startCommand(s, 'Model Lens: Select Model');
        await s.page.locator('.quick-input-widget .monaco-list-row', { hasText: 'demo' }).first().waitFor({ timeout: 20000 });
        await s.screenshot('walkthrough-select-model');
        await stepImage(s, 'select-model', { x: 320, y: 0, width: 760, height: 420 });
        await s.page.keyboard.press('Escape');

        await s.openFile('hello.txt');
        await s.selectText('The quick brown fox jumps over the lazy dog.');
        await s.runCommand('Model Lens: Tokenize Selection');
        const tokens = await s.webview('Tokens');
        await tokens.locator('.chips .chip').first().waitFor({ timeout: 30000 });
        await s.screenshot('walkthrough-tokenize');
        await stepImage(s, 'tokenize', { ...EDITORS, width: 1052, height: 520 });

        await s.runCommand('View: Close All Editors');
        await s.openFile('hello.txt');
        await s.selectText('The quick brown fox jumps over the lazy dog.');
        await s.runCommand('Model Lens: Open Activation Panel');
        const act = await s.webview('Activations');
        await act.locator('[data-testid=mean-loss]').filter({ hasText: 'mean loss' }).waitFor({ timeout: 90000 });
        await s.screenshot('walkthrough-activation');
        await stepImage(s, 'activation', { ...EDITORS, width: 1052, height: 500 });

        // The export step's button runs the export command, which asks where to save. Accepting
        // the simple save dialog from a UI test was unreliable under load (an Enter or OK click
        // dropped while it validates the path), so this checks that the dialog comes up with a
        // .safetensors name and stops there. Writing the file and opening it as a header view are
        // covered by the in-host activation suite and explorer.e2e.ts.
        await startCommand(s, 'Model Lens: Export Activation Cache (.safetensors)');
        const save = s.page.locator('.quick-input-widget .quick-input-box input');
        await save.waitFor({ state: 'visible' });
        const until0 = Date.now() + 10000;
        while (!(await save.inputValue()).endsWith('.safetensors') && Date.now() < until0) await s.page.waitForTimeout(200);
        assert.match(await save.inputValue(), /\.safetensors$/, 'the save dialog offers a .safetensors file');
        await s.screenshot('walkthrough-export-dialog');
        await s.page.keyboard.press('Escape');

        await s.runCommand('View: Close All Editors');
        await s.openFile('hello.txt');
        await s.selectText('lazy dog');
        await s.runCommand('Model Lens: Toggle Inline Logits');
        // The hint is an inlay hint at the cursor (test/e2e/inlineHint.ts reads it as the UI suites do).
        const hint = async (): Promise<string> => (await inlineHint(s.page))?.text ?? '';
        const until = Date.now() + 30000;
        while (!(await hint()) && Date.now() < until) await s.page.waitForTimeout(200);
        assert.match(await hint(), /next: .*%/);
        await s.screenshot('walkthrough-inline-logits');
        await stepImage(s, 'inline-logits', { ...EDITORS, width: 1052, height: 160 });
        await s.runCommand('Model Lens: Toggle Inline Logits');

        await s.page.locator('.activitybar [aria-label^="Model Lens"]').first().click();
        const row = s.page.locator('.monaco-list-row', { hasText: 'blocks.0.attn.W_Q' }).first();
        await row.waitFor({ timeout: 30000 });
        await row.click();
        const view = await s.webview('blocks.0.attn.W_Q');
        await view.locator('[data-testid=tv-heatmap]').waitFor({ timeout: 30000 });
        await s.screenshot('walkthrough-tour');
        await stepImage(s, 'tour', { x: 0, y: 36, width: 1400, height: 834 });
      },
    },
  ],
};
