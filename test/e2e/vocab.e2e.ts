/**
 * Search Vocabulary in a real VS Code: a search shows the tokenizer's matches with their ids,
 * the list is virtual (a few dozen rows in the DOM for thousands of matches), id mode finds
 * <|endoftext|>, a bad regex says why, clicking a row copies its id; dark and light screenshots.
 */
import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FrameLocator } from 'playwright-core';
import type { E2ESuite, VSCodeSession } from './harness';
import { Vocabulary } from '../../src/tokenizer';
import { setTheme } from './tokenize.e2e';

let workspace = '';

async function openVocab(s: VSCodeSession): Promise<FrameLocator> {
  await s.runCommand('Model Lens: Search Vocabulary');
  const frame = await s.webview('GPT-2 Vocabulary');
  await frame.locator('[data-testid="vocab-summary"]', { hasText: 'matches' }).waitFor({ timeout: 20000 });
  return frame;
}

async function search(frame: FrameLocator, query: string, expectedTotal: number): Promise<void> {
  await frame.locator('[data-testid="vocab-query"] input').fill(query);
  const summary = expectedTotal === 1 ? '1 match' : `${expectedTotal.toLocaleString('en-US')} matches`;
  await frame.locator('[data-testid="vocab-summary"]', { hasText: summary }).waitFor({ timeout: 10000 });
}

export const suite: E2ESuite = {
  name: 'vocab',
  async before() {
    workspace = mkdtempSync(join(tmpdir(), 'model-lens-vocab-'));
    writeFileSync(join(workspace, 'notes.txt'), 'vocabulary\n');
    return { workspace, viewport: { width: 1400, height: 900 } };
  },
  async after() {
    if (workspace) rmSync(workspace, { recursive: true, force: true });
  },
  tests: [
    {
      name: 'all 50,257 tokens, virtualised; a substring search shows the matches with their ids',
      timeoutMs: 90000,
      async fn(s) {
        await s.openFile('notes.txt');
        await setTheme(s, 'Default Dark Modern');
        const frame = await openVocab(s);
        assert.match(await frame.locator('[data-testid="vocab-summary"]').innerText(), /^50,257 matches/);
        const rows = await frame.locator('.virtual-row').count();
        assert.ok(rows > 5 && rows < 120, `${rows} rows in the DOM for 50,257 tokens`);
        const found = Vocabulary.shared().search('capital', 'substring', 60000);
        assert.ok(found.ok);
        await search(frame, 'capital', found.total);
        const first = found.entries.slice(0, 5);
        const shown = frame.locator('.virtual-row');
        for (let i = 0; i < first.length; i++) {
          assert.equal(await shown.nth(i).locator('.vocab-id').innerText(), String(first[i]!.id));
          assert.equal(await shown.nth(i).locator('.vocab-display').innerText(), first[i]!.display);
        }
        assert.ok(found.entries.some((e) => e.id === 3139 && e.display === '·capital'));
        await frame.locator('.virtual-row[data-id="3139"]').waitFor();
        await s.screenshot('vocab-dark');
      },
    },
    {
      name: 'clicking a token copies its id and says so',
      async fn(s) {
        const frame = await s.webview('GPT-2 Vocabulary');
        await frame.locator('.virtual-row[data-id="3139"]').click();
        await frame.locator('[data-testid="status"]', { hasText: 'Copied token id 3139' }).waitFor({ timeout: 10000 });
      },
    },
    {
      name: 'id mode finds <|endoftext|>; a bad regex explains itself',
      async fn(s) {
        const frame = await s.webview('GPT-2 Vocabulary');
        await frame.locator('[data-testid="vocab-mode"]').click();
        await frame.locator('vscode-option', { hasText: 'Token id' }).click();
        await search(frame, '50256', 1);
        assert.equal(await frame.locator('.virtual-row .vocab-display').first().innerText(), '<|endoftext|>');
        await frame.locator('[data-testid="vocab-mode"]').click();
        await frame.locator('vscode-option', { hasText: 'Regex' }).click();
        await frame.locator('[data-testid="vocab-query"] input').fill('(unclosed');
        await frame.locator('[data-testid="vocab-summary"].error', { hasText: 'invalid regular expression' }).waitFor({ timeout: 10000 });
        assert.equal(await frame.locator('.virtual-row').count(), 0);
      },
    },
    {
      name: 'light theme screenshot',
      async fn(s) {
        await s.runCommand('View: Close All Editors');
        await s.openFile('notes.txt');
        await setTheme(s, 'Default Light Modern');
        const frame = await openVocab(s);
        const found = Vocabulary.shared().search('token', 'prefix', 60000);
        assert.ok(found.ok);
        await frame.locator('[data-testid="vocab-mode"]').click();
        await frame.locator('vscode-option', { hasText: 'Starts with' }).click();
        await search(frame, 'token', found.total);
        await s.screenshot('vocab-light');
      },
    },
  ],
};
