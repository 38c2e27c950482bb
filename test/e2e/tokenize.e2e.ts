/**
 * Tokenize Selection in a real VS Code: the panel's chips and ids equal the tokenizer's for
 * the seed sentence, byte pieces of split characters show as <xx>, the BOS toggle and the
 * copy button work, chips and editor highlight each other; screenshots in dark and light.
 */
import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FrameLocator } from 'playwright-core';
import { type E2ESuite, type VSCodeSession } from './harness';
import { tokenDisplay, tokenizePacked } from '../../src/tokenizer';

export const SEED = 'Whether a word begings with a capital or space matters!';
const SECOND = 'Emoji 🙂 🤗 and\ttabs.';
let workspace = '';

/**
 * Switches the colour theme through the theme picker (Ctrl+K Ctrl+T). Call it while the
 * workbench, not a webview, has focus (e.g. right after openFile).
 */
export async function setTheme(
  s: VSCodeSession,
  theme: 'Default Dark Modern' | 'Default Light Modern' | 'Default High Contrast',
): Promise<void> {
  await s.page.keyboard.press('Control+K');
  await s.page.keyboard.press('Control+T');
  const input = s.page.locator('.quick-input-widget .quick-input-box input');
  await input.waitFor({ state: 'visible' });
  await input.fill(theme);
  // Click the theme's row: Enter could pick "Browse Additional Color Themes…" before the filter applies.
  const row = s.page.locator('.quick-input-widget .quick-input-list .monaco-list-row', { hasText: theme }).first();
  await row.waitFor({ timeout: 40000 });
  await row.click();
  const cls = theme.includes('High Contrast') ? 'hc-black' : theme.includes('Dark') ? 'vs-dark' : 'vs';
  // A string expression: this project compiles tests without the DOM lib.
  await s.page.waitForFunction(`document.querySelector('.monaco-workbench')?.classList.contains('${cls}')`, undefined, {
    timeout: 15000,
  });
  await s.page.waitForTimeout(300);
}

/** Back to one editor group with nothing open, so Quick Open lands in the first group. */
export async function closeAll(s: VSCodeSession): Promise<void> {
  await s.runCommand('View: Close All Editors');
}

async function chipIds(frame: FrameLocator): Promise<number[]> {
  return (await frame.locator('.chips .chip .chip-id').allInnerTexts()).map(Number);
}

async function tokenizePanel(s: VSCodeSession): Promise<FrameLocator> {
  await s.runCommand('Model Lens: Tokenize Selection');
  const frame = await s.webview('Tokens: seed.txt');
  await frame.locator('.chips .chip').first().waitFor({ timeout: 20000 });
  return frame;
}

export const suite: E2ESuite = {
  name: 'tokenize',
  async before() {
    workspace = mkdtempSync(join(tmpdir(), 'model-lens-tokenize-'));
    writeFileSync(join(workspace, 'seed.txt'), `${SEED}\n${SECOND}\n`);
    return { workspace, theme: 'dark', viewport: { width: 1400, height: 900 } };
  },
  async after() {
    if (workspace) rmSync(workspace, { recursive: true, force: true });
  },
  tests: [
    {
      name: 'the seed sentence shows as chips with the tokenizer ids, text and counts',
      timeoutMs: 90000,
      async fn(s) {
        await s.openFile('seed.txt');
        await setTheme(s, 'Default Dark Modern');
        await s.selectText(SEED);
        const frame = await tokenizePanel(s);
        const expected = Array.from(tokenizePacked(SEED).ids);
        assert.deepEqual(expected.slice(0, 3), [15354, 257, 1573]);
        await frame
          .locator('.chips .chip')
          .nth(expected.length - 1)
          .waitFor();
        assert.deepEqual(await chipIds(frame), expected);
        const texts = await frame.locator('.chips .chip .chip-text').allInnerTexts();
        assert.deepEqual(texts, expected.map(tokenDisplay));
        assert.equal(texts[1], '·a');
        assert.equal(await frame.locator('[data-testid="count-tokens"]').innerText(), String(expected.length));
        assert.equal(await frame.locator('[data-testid="count-chars"]').innerText(), String(SEED.length));
        await s.screenshot('tokenize-dark');
      },
    },
    {
      name: 'the whole document: visible whitespace and byte pieces of a split emoji',
      async fn(s) {
        await closeAll(s);
        await s.openFile('seed.txt');
        await s.page.keyboard.press('Control+Home');
        const frame = await tokenizePanel(s);
        const text = `${SEED}\n${SECOND}\n`;
        const packed = tokenizePacked(text);
        await frame
          .locator('.chips .chip')
          .nth(packed.length - 1)
          .waitFor();
        assert.deepEqual(await chipIds(frame), Array.from(packed.ids));
        const texts = await frame.locator('.chips .chip .chip-text').allInnerTexts();
        assert.ok(
          texts.some((t) => /^(<[0-9a-f]{2}>)+$/.test(t.replace(/^·/, ''))),
          `no byte-piece chip in ${JSON.stringify(texts)}`,
        );
        assert.ok(
          texts.some((t) => t.includes('↵')),
          'newline not shown as ↵',
        );
        assert.ok(
          texts.some((t) => t.includes('→')),
          'tab not shown as →',
        );
        await s.screenshot('tokenize-document-dark');
      },
    },
    {
      name: 'BOS toggle prepends <|endoftext|> 50256 and copy puts the ids on the clipboard',
      async fn(s) {
        await closeAll(s);
        await s.openFile('seed.txt');
        await s.selectText(SEED);
        const frame = await tokenizePanel(s);
        const n = tokenizePacked(SEED).length;
        await frame.locator('[data-testid="bos-toggle"]').click();
        const bos = frame.locator('[data-testid="bos-chip"]');
        await bos.waitFor({ state: 'visible' });
        assert.equal(await bos.locator('.chip-id').innerText(), '50256');
        assert.equal(await bos.locator('.chip-text').innerText(), '<|endoftext|>');
        // The text's tokens, and + BOS said where it is added.
        assert.match(await frame.locator('[data-testid="count-tokens"]').innerText(), new RegExp(`^${n} \\+ BOS$`));
        await frame.locator('[data-testid="copy-ids"]').click();
        const status = frame.locator('[data-testid="status"]');
        await status.filter({ hasText: 'Copied' }).waitFor({ timeout: 10000 });
        assert.match(await status.innerText(), new RegExp(`Copied ${n + 1} token ids`));
        await frame.locator('[data-testid="bos-toggle"]').click();
        await bos.waitFor({ state: 'hidden' });
      },
    },
    {
      name: 'hovering a chip highlights its span in the editor; the cursor highlights a chip',
      async fn(s) {
        await closeAll(s);
        await s.openFile('seed.txt');
        await s.selectText(SEED);
        const frame = await tokenizePanel(s);
        const decorations = s.page.locator('.editor-instance .view-overlays [class*="ced-"]');
        assert.equal(await decorations.count(), 0);
        await frame.locator('.chips .chip').nth(3).hover();
        await decorations.first().waitFor({ timeout: 10000 });
        // Moving the editor cursor to the end of "capital" focuses the chip of the token there.
        await s.selectText('capital');
        const focused = frame.locator('.chip.focused');
        await focused.waitFor({ timeout: 10000 });
        const spans = tokenizePacked(SEED);
        const at = SEED.indexOf('capital') + 'capital'.length;
        let index = 0;
        while (index + 1 < spans.length && spans.starts[index + 1]! <= at) index++;
        assert.equal(await focused.getAttribute('data-index'), String(index));
      },
    },
    {
      name: 'light theme screenshot',
      async fn(s) {
        await closeAll(s);
        await s.openFile('seed.txt');
        await setTheme(s, 'Default Light Modern');
        await s.page.keyboard.press('Control+Home');
        await tokenizePanel(s);
        await s.screenshot('tokenize-light');
      },
    },
  ],
};
