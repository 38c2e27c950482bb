/**
 * The model tour in a real VS Code: a cache exported with TransformerLens names opens as the
 * .safetensors header view (one row per tensor, grouped by module, metadata shown), and the
 * Model Lens activity-bar container shows its three views with the Load action; screenshots.
 */
import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { E2ESuite } from './harness';
import { writeSafetensors } from '../../src/engine/safetensors/write';
import { setTheme } from './tokenize.e2e';

let workspace = '';
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
    writeFileSync(join(workspace, 'notes.txt'), 'The model as the notebook tours it.\n');
    await writeSafetensors(
      join(workspace, 'cache.safetensors'),
      TENSORS.map((t) => ({ ...t, dtype: 'F32' as const, data: new Float32Array(t.dims.reduce((a, b) => a * b, 1)) })),
      { format: 'pt', model: 'tiny', tokens: '50256,464,2068', processing: 'from_pretrained' },
    );
    return { workspace, viewport: { width: 1400, height: 900 } };
  },
  async after() {
    if (workspace) rmSync(workspace, { recursive: true, force: true });
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
  ],
};
