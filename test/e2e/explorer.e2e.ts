/**
 * The model tour in a real VS Code: a cache exported with TransformerLens names opens as the
 * .safetensors header view (one row per tensor, grouped by module, metadata shown), and the
 * Model Lens activity-bar container shows its three views with the Load action; a tensor
 * clicked in the header view opens in the tensor view, and a weight clicked in the Weights
 * tree does too (statistics, heatmap with hover values, top tokens); a head's OV circuit lists its
 * singular directions with input and output tokens; screenshots, dark, light and high contrast.
 */
import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { E2ESuite } from './harness';
import { writeSafetensors } from '../../src/engine/safetensors/write';
import { generateTinyGpt2 } from '../../src/engine/tinyGpt2';
import { seededRandom } from '../support/random';
import { closeAll, setTheme } from './tokenize.e2e';

let workspace = '';
let modelDir = '';
// An activation cache as `model-lens run --out` writes it for a 2-layer, 4-head, d_model 64 GPT-2 on 3 tokens.
const TENSORS: { name: string; dims: number[] }[] = [
  { name: 'hook_embed', dims: [1, 3, 64] },
  { name: 'hook_pos_embed', dims: [1, 3, 64] },
  ...[0, 1].flatMap((L) => [
    { name: `blocks.${L}.hook_resid_pre`, dims: [1, 3, 64] },
    { name: `blocks.${L}.attn.hook_q`, dims: [1, 3, 4, 16] },
    { name: `blocks.${L}.attn.hook_pattern`, dims: [1, 4, 3, 3] },
    { name: `blocks.${L}.mlp.hook_post`, dims: [1, 3, 256] },
    { name: `blocks.${L}.hook_resid_post`, dims: [1, 3, 64] },
  ]),
  { name: 'logits', dims: [1, 3, 50257] },
];

export const suite: E2ESuite = {
  name: 'explorer',
  async before() {
    workspace = mkdtempSync(join(tmpdir(), 'model-lens-explorer-'));
    modelDir = mkdtempSync(join(tmpdir(), 'model-lens-explorer-model-'));
    await generateTinyGpt2(modelDir, { seed: 3 });
    writeFileSync(join(workspace, 'notes.txt'), 'The model as the notebook tours it.\n');
    const rand = seededRandom(5);
    await writeSafetensors(
      join(workspace, 'cache.safetensors'),
      TENSORS.map((t) => {
        // Signed values so the heatmap has both ends of its scale; one NaN to be counted.
        const data = Float32Array.from({ length: t.dims.reduce((a, b) => a * b, 1) }, () => (rand() - 0.5) * 4);
        if (t.name === 'blocks.0.attn.hook_q') data[7] = NaN;
        return { ...t, dtype: 'F32' as const, data };
      }),
      { format: 'pt', model: 'tiny', tokens: '50256,464,2068', processing: 'from_pretrained' },
    );
    return {
      workspace,
      viewport: { width: 1400, height: 900 },
      settings: { 'modelLens.model': modelDir, 'git.openRepositoryInParentFolders': 'never' },
    };
  },
  async after() {
    if (workspace) rmSync(workspace, { recursive: true, force: true });
    if (modelDir) rmSync(modelDir, { recursive: true, force: true });
  },
  tests: [
    {
      name: 'an exported cache opens as its header: every tensor with dtype, shape and bytes, grouped by module',
      timeoutMs: 90000,
      async fn(s) {
        await s.openFile('notes.txt');
        await setTheme(s, 'Default Dark Modern');
        await s.page.keyboard.press('Control+P');
        const input = s.page.locator('.quick-input-widget .quick-input-box input');
        await input.waitFor({ state: 'visible' });
        await input.fill('cache.safetensors');
        await s.page.locator('.quick-input-widget .monaco-list-row', { hasText: 'cache.safetensors' }).first().waitFor();
        await s.page.keyboard.press('Enter');
        const frame = await s.webview('cache.safetensors');
        await frame.locator('tr[data-tensor="blocks.1.attn.hook_pattern"]').waitFor({ timeout: 30000 });
        assert.equal(await frame.locator('tr[data-tensor]').count(), TENSORS.length);
        const pattern = frame.locator('tr[data-tensor="blocks.0.attn.hook_pattern"]');
        assert.equal(await pattern.locator('.st-shape').innerText(), '[1, 4, 3, 3]');
        assert.match(await pattern.innerText(), /F32/);
        // Groups as the Modules tree groups them: top level, blocks.0, blocks.0.attn, blocks.0.mlp, …
        const groups = await frame.locator('.st-group > summary').allInnerTexts();
        assert.deepEqual(
          groups.map((g) => g.split(' · ')[0]),
          ['(top level)', 'blocks.0', 'blocks.0.attn', 'blocks.0.mlp', 'blocks.1', 'blocks.1.attn', 'blocks.1.mlp'],
        );
        assert.match(await frame.locator('[data-testid="st-metadata"]').innerText(), /tokens\s+50256,464,2068/);
        await s.screenshot('safetensors-editor-dark');
      },
    },
    {
      name: 'the Model Lens activity-bar container shows Model, Modules and Hooks, and Weights, with Load Model',
      timeoutMs: 60000,
      async fn(s) {
        await s.page.locator('.activitybar [aria-label^="Model Lens"]').first().click();
        await s.page.locator('.pane-header', { hasText: 'Modules and Hooks' }).waitFor({ timeout: 20000 });
        await s.page.locator('.pane-header', { hasText: 'Weights' }).waitFor();
        await s.page.locator('.monaco-list-row', { hasText: 'Load model' }).waitFor({ timeout: 20000 });
        await s.screenshot('sidebar-not-loaded-dark');
      },
    },
    {
      name: 'a tensor clicked in the .safetensors editor opens in the tensor view: stats, NaN count, heatmap with hover values',
      timeoutMs: 90000,
      async fn(s) {
        const header = await s.webview('cache.safetensors');
        await header.locator('tr[data-tensor="blocks.0.attn.hook_q"]').click();
        const w = await s.webview('blocks.0.attn.hook_q');
        const heat = w.locator('[data-testid=tv-heatmap]');
        await heat.waitFor({ timeout: 30000 });
        assert.equal(await w.locator('[data-testid=tv-shape]').innerText(), '[1, 3, 4, 16] · batch pos head_index d_head · F32');
        assert.match(await w.locator('[data-testid=tv-stats]').innerText(), /NaN\s+1/);
        // The last two axes are drawn; batch and pos get a slider each.
        assert.deepEqual([await heat.getAttribute('data-rows'), await heat.getAttribute('data-cols')], ['4', '16']);
        assert.equal(await w.locator('input[type=range]').count(), 2);
        const box = (await heat.boundingBox())!;
        await s.page.mouse.move(box.x + box.width * 0.55, box.y + box.height * 0.6);
        await w.locator('[data-testid=tv-readout]').filter({ hasText: 'blocks.0.attn.hook_q[0, 0, 2, 8] = ' }).waitFor({ timeout: 10000 });
        // Moving the pos slider asks the worker for another slice.
        await w.locator('[data-testid=tv-index-1-field]').fill('2');
        await w.locator('[data-testid=tv-index-1-field]').press('Enter');
        await s.page.mouse.move(box.x + box.width * 0.55, box.y + box.height * 0.6);
        await s.page.mouse.move(box.x + box.width * 0.56, box.y + box.height * 0.6);
        await w.locator('[data-testid=tv-readout]').filter({ hasText: 'hook_q[0, 2, 2, 8]' }).waitFor({ timeout: 10000 });
        await s.screenshot('tensor-view-file-dark');
        await setTheme(s, 'Default Light Modern');
        await s.screenshot('tensor-view-file-light');
      },
    },
    {
      name: 'a weight clicked in the Weights tree opens in the tensor view with top tokens along d_vocab',
      timeoutMs: 150000,
      async fn(s) {
        // Clicking the activity-bar item of a container already shown would hide the side bar.
        const load = s.page.locator('.monaco-list-row', { hasText: 'Load model' }).first();
        const row = s.page.locator('.monaco-list-row', { hasText: 'embed.W_E' }).first();
        if (!(await load.or(row).first().isVisible())) await s.page.locator('.activitybar [aria-label^="Model Lens"]').first().click();
        // A retry finds the model loaded already: its Weights tree, no Load row.
        await load.or(row).first().waitFor({ timeout: 30000 });
        if (await load.isVisible()) await load.click();
        await row.waitFor({ timeout: 90000 });
        await row.click();
        const w = await s.webview('embed.W_E');
        const heat = w.locator('[data-testid=tv-heatmap]');
        await heat.waitFor({ timeout: 60000 });
        assert.match(await w.locator('[data-testid=tv-shape]').innerText(), /^\[50257, 64\] · d_vocab d_model · F32/);
        // 256 rows of the vocabulary at a time, with a field to move the window.
        assert.equal(await heat.getAttribute('data-rows'), '256');
        assert.match(await w.locator('[data-testid=tv-window]').innerText(), /d_vocab 0–255 of 50257/);
        await w.locator('[data-testid=tv-rank-index-1]').fill('5');
        await w.locator('[data-testid=tv-rank-run]').click();
        const results = w.locator('[data-testid=tv-rank-results]');
        await results.locator('table').first().waitFor({ timeout: 30000 });
        assert.match(await results.innerText(), /embed\.W_E\[:, 5\]/);
        assert.equal(await results.locator('table').first().locator('tr').count(), 20);
        await results.scrollIntoViewIfNeeded();
        await s.screenshot('tensor-view-weight-light');
        await setTheme(s, 'Default Dark Modern');
        await s.screenshot('tensor-view-weight-dark');
      },
    },
    {
      name: "a token chip's context menu offers Nearest Tokens, which lists neighbours in W_E and W_U",
      timeoutMs: 90000,
      async fn(s) {
        await s.openFile('notes.txt');
        await s.selectAll();
        await s.runCommand('Model Lens: Tokenize Selection');
        const w = await s.webview('Tokens');
        const chip = w.locator('.chips .chip').nth(1);
        await chip.waitFor({ timeout: 30000 });
        await chip.click({ button: 'right' });
        const item = s.page.locator('.context-view .action-label', { hasText: 'Nearest Tokens' }).first();
        await item.waitFor({ timeout: 10000 });
        await item.click();
        const title = s.page.locator('.quick-input-widget .quick-input-title', { hasText: 'Nearest tokens to' });
        // Under load a click on the webview's context menu can be lost while the menu stays open
        // with the item highlighted: Enter then runs it, as a keyboard user would.
        const end = Date.now() + 30000;
        while (!(await title.isVisible()) && Date.now() < end) {
          await s.page.waitForTimeout(2000);
          if (!(await title.isVisible()) && (await item.isVisible())) await s.page.keyboard.press('Enter');
        }
        await title.waitFor({ timeout: 5000 });
        const rows = s.page.locator('.quick-input-widget .monaco-list-row');
        await rows.filter({ hasText: 'cos ' }).first().waitFor({ timeout: 10000 });
        await s.screenshot('nearest-tokens');
        await s.page.keyboard.press('Escape');
      },
    },
    {
      name: "a head's OV circuit from the Weights tree lists its singular directions with input and output tokens",
      timeoutMs: 120000,
      async fn(s) {
        // The circuits come last in the Weights tree: focus it, go to the end, expand, open head 2 of layer 1.
        await s.runCommand('Focus on Weights View');
        // Rows: … Factored circuits ▸ blocks.0.attn.OV, blocks.0.attn.QK, blocks.1.attn.OV ▸ head 0–3, blocks.1.attn.QK.
        for (const key of ['End', 'ArrowRight', 'End', 'ArrowUp', 'ArrowRight', 'End', 'ArrowUp', 'ArrowUp']) {
          await s.page.keyboard.press(key);
          await s.page.waitForTimeout(150);
        }
        await s.page.locator('.monaco-list-row.focused', { hasText: /^head 2/ }).click();
        const w = await s.webview('blocks.1.attn.OV[2]');
        const section = w.locator('[data-testid=tv-directions]');
        await w.locator('[data-testid=tv-dir-7]').waitFor({ timeout: 60000 });
        assert.equal(await w.locator('[data-testid^=tv-dir-]').filter({ hasText: 'σ' }).count(), 8);
        const dir0 = w.locator('[data-testid=tv-dir-0]');
        assert.match(await dir0.innerText(), /σ1 = \d/);
        // Four lists per direction (both ends of the input and output sides), 8 tokens each.
        assert.equal(await dir0.locator('table').count(), 4);
        assert.equal(await dir0.locator('table').first().locator('tr').count(), 8);
        assert.match(await dir0.innerText(), /input tokens \(W_E · u\)[\s\S]*output logits \(v · W_U\)/);
        await section.locator('h2').scrollIntoViewIfNeeded();
        await s.screenshot('tensor-view-ov-directions-dark');
        await setTheme(s, 'Default High Contrast');
        await s.screenshot('tensor-view-ov-directions-hc');
        await setTheme(s, 'Default Dark Modern');
        await closeAll(s);
      },
    },
  ],
};
