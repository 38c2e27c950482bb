/**
 * Activation patching and head detection from the palette in a real VS Code (code-server) with
 * a tiny generated GPT-2: the two prompts of samples/ioi.txt (the selection is the clean prompt,
 * the corrupted one typed in the input box), the answers " Mary| John", the resid_pre sweep; the
 * Experiment view draws the heatmap, a hover names a cell's value, a click lists that patch's
 * top next tokens. Then Detect Heads on the repeated random sequence draws three heatmaps.
 * Screenshots land in test-results/screenshots/.
 */
import { strict as assert } from 'node:assert';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateTinyGpt2 } from '../../src/engine/tinyGpt2';
import type { E2ESuite, VSCodeSession } from './harness';

const [CLEAN, CORRUPTED] = readFileSync(join(__dirname, '../../samples/ioi.txt'), 'utf8').split('\n') as [string, string];

let dir = '';

export const suite: E2ESuite = {
  name: 'patching',
  async before() {
    dir = mkdtempSync(join(tmpdir(), 'model-lens-patching-e2e-'));
    await generateTinyGpt2(dir, { seed: 3 });
    return {
      theme: 'dark',
      settings: { 'modelLens.model': dir, 'git.openRepositoryInParentFolders': 'never' },
      viewport: { width: 1500, height: 1000 },
    };
  },
  async after() {
    rmSync(dir, { recursive: true, force: true });
  },
  tests: [
    {
      name: 'activation patching from the palette: heatmap, hover, a cell’s top tokens',
      timeoutMs: 180000,
      fn: async (s: VSCodeSession) => {
        await s.openFile('ioi.txt');
        await s.selectText(CLEAN);
        await s.runCommand('Model Lens: Activation Patching…');
        const input = s.page.locator('.quick-input-widget .quick-input-box input');
        await input.waitFor();
        await input.fill(CORRUPTED);
        await s.page.keyboard.press('Enter');
        // The next box's prompt names the answers, so a keystroke never lands in the previous box.
        await s.page.locator('.quick-input-widget', { hasText: 'wrong answer' }).waitFor();
        await input.fill(' Mary| John');
        await s.page.keyboard.press('Enter');
        const row = s.page.locator('.quick-input-widget .quick-input-list .monaco-list-row', { hasText: 'Residual stream' }).first();
        await row.waitFor();
        await row.click();
        const w = await s.webview('Activations');
        const map = w.locator('[data-testid=experiment-map]');
        await map.first().waitFor({ timeout: 120000 });
        assert.equal(await map.count(), 1);
        assert.match((await w.locator('[data-testid=experiment-subtitle]').textContent()) ?? '', /clean .*corrupted/);
        const box = await map.first().boundingBox();
        assert.ok(box);
        // The cell of layer 1 at the changed token's position: 64 px label gutter, 16 px top gutter.
        const cols = 15;
        const cell = (box.width - 64) / cols;
        await s.page.mouse.move(box.x + 64 + cell * 11.5, box.y + 16 + cell * 1.5);
        await w
          .locator('[data-testid=experiment-readout]')
          .filter({ hasText: /L1 · 11 .*normalised metric/ })
          .waitFor({ timeout: 10000 });
        await s.page.mouse.click(box.x + 64 + cell * 11.5, box.y + 16 + cell * 1.5);
        await w.locator('[data-testid=experiment-top] table tr').nth(9).waitFor({ timeout: 60000 });
        await s.screenshot('patching-resid_pre-dark');
      },
    },
    {
      name: 'detect heads on the repeated random sequence',
      timeoutMs: 120000,
      fn: async (s: VSCodeSession) => {
        await s.runCommand('Model Lens: Detect Heads');
        const row = s.page.locator('.quick-input-widget .quick-input-list .monaco-list-row', { hasText: 'Repeated random tokens' }).first();
        await row.waitFor();
        await row.click();
        const w = await s.webview('Activations');
        await w.locator('.detail-title', { hasText: 'Head detection' }).waitFor({ timeout: 60000 });
        assert.equal(await w.locator('[data-testid=experiment-map]').count(), 3);
        await s.screenshot('head-detection-dark');
      },
    },
  ],
};
