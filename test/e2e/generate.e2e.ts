/**
 * Continue Text in a real VS Code (code-server) with the tiny generated GPT-2 (no network): run
 * from the palette at the end of a file, the greedy continuation HookedGPT2 gives lands in the
 * editor, a generated token's hover shows its probability and rank, and one Ctrl+Z removes it all;
 * a long continuation cancelled from its notification keeps what streamed before, and nothing after.
 */
import { strict as assert } from 'node:assert';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generate } from '../../src/engine/generate';
import { HookedGPT2 } from '../../src/engine/model';
import { generateTinyGpt2 } from '../../src/engine/tinyGpt2';
import { decode, encode } from '../../src/tokenizer';
import type { Locator } from 'playwright-core';
import type { E2ESuite, VSCodeSession } from './harness';

const SEED = 'The quick brown fox jumps over the lazy dog';
const NEW_TOKENS = 12;
/** The cancel test's budget: far more than streams before its Cancel lands. */
const LONG_TOKENS = 1000;
/** Greedy tokens computed ahead for the cancel test's check (it cancels after the first few). */
const AHEAD_TOKENS = 300;
let dir = '';
let workspace = '';
let expected = '';
let expectedLong = '';
let firstWord = '';

/** Editor text with whitespace runs as one space: the view's innerText wraps and pads lines. */
const squash = (t: string): string => t.replace(/\s+/g, ' ').trim();

async function waitForText(s: VSCodeSession, want: (t: string) => boolean, what: string): Promise<string> {
  const end = Date.now() + 60000;
  for (;;) {
    const t = await s.editorText();
    if (want(t)) return t;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}; editor shows ${JSON.stringify(t.slice(0, 300))}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

export const suite: E2ESuite = {
  name: 'generate',
  async before() {
    dir = mkdtempSync(join(tmpdir(), 'model-lens-gen-e2e-'));
    workspace = mkdtempSync(join(tmpdir(), 'model-lens-gen-ws-'));
    writeFileSync(join(workspace, 'seed.txt'), SEED);
    await generateTinyGpt2(dir, { seed: 9 });
    const model = await HookedGPT2.fromPretrained(dir, { threads: 1 });
    try {
      const r = await generate(model, [50256, ...encode(SEED)], { temperature: 0, maxNewTokens: AHEAD_TOKENS });
      const ids = r.tokens.slice(0, NEW_TOKENS).map((t) => t.id);
      expected = decode(ids);
      expectedLong = decode(r.tokens.map((t) => t.id));
      // A generated token of 4+ letters that the seed does not contain, to hover (each token is its own decorated span).
      firstWord =
        ids.map((id) => decode([id]).trim()).find((w) => /^[A-Za-z]{4,}$/.test(w) && !SEED.includes(w) && expected.split(w).length === 2) ??
        '';
    } finally {
      await model.dispose();
    }
    return {
      workspace,
      settings: {
        'modelLens.model': dir,
        'modelLens.generate.temperature': 0,
        'modelLens.generate.maxNewTokens': NEW_TOKENS,
        'git.openRepositoryInParentFolders': 'never',
      },
    };
  },
  async after() {
    for (const d of [dir, workspace]) if (d) rmSync(d, { recursive: true, force: true });
  },
  tests: [
    {
      name: 'the greedy continuation streams in at the cursor, has a hover, and one undo removes it',
      timeoutMs: 120000,
      async fn(s) {
        await s.openFile('seed.txt');
        await s.page.keyboard.press('Control+End');
        await s.runCommand('Model Lens: Continue Text');
        const want = squash(SEED + expected);
        await waitForText(s, (t) => squash(t) === want, 'the continuation');
        assert.notEqual(firstWord, '', 'the seed and model give a generated word to hover');
        const hover = await s.hoverText(firstWord);
        assert.match(hover, /Model Lens generated/);
        assert.match(hover, /rank \d+/);
        await s.page.keyboard.press('Escape');
        await s.page.locator('.editor-instance .view-lines').first().click();
        await s.page.keyboard.press('Control+Z');
        await waitForText(s, (t) => squash(t) === squash(SEED), 'one undo to remove the whole continuation');
      },
    },
    {
      name: "a long continuation cancelled from the notification's Cancel keeps only what streamed before; one undo removes it",
      timeoutMs: 180000,
      async fn(s) {
        // A workspace setting over the suite's user setting; the window picks the file up by itself.
        mkdirSync(join(workspace, '.vscode'), { recursive: true });
        writeFileSync(
          join(workspace, '.vscode', 'settings.json'),
          JSON.stringify({ 'modelLens.generate.maxNewTokens': LONG_TOKENS, 'modelLens.generate.temperature': 0 }),
        );
        await s.openFile('seed.txt');
        const toast = s.page.locator('.notifications-toasts .notification-toast', { hasText: 'continuing text' });
        // Until the new budget is in force: a run still on the old one ends by itself and is undone.
        for (let attempt = 0; ; attempt++) {
          await s.page.locator('.editor-instance .view-lines').first().click();
          await s.page.keyboard.press('Control+End');
          await s.runCommand('Model Lens: Continue Text');
          await toast.waitFor({ state: 'visible', timeout: 60000 }).catch(() => undefined);
          const budget = await waitForBudget(toast);
          if (budget === LONG_TOKENS) break;
          assert.ok(attempt < 5, `the workspace setting maxNewTokens ${LONG_TOKENS} never took effect (runs still say ${budget})`);
          await toast.waitFor({ state: 'hidden', timeout: 60000 });
          await s.page.keyboard.press('Control+Z');
          await waitForText(s, (t) => squash(t) === squash(SEED), 'the short run undone');
          await new Promise((r) => setTimeout(r, 1000));
        }
        // Some tokens first, then the notification's own Cancel button.
        await waitForText(s, (t) => squash(t).length > squash(SEED).length, 'the first streamed tokens');
        await toast.locator('.monaco-button', { hasText: 'Cancel' }).click();
        await toast.waitFor({ state: 'hidden', timeout: 30000 });
        const atCancel = await settledText(s);
        await new Promise((r) => setTimeout(r, 1500));
        const later = await s.editorText();
        assert.equal(squash(later), squash(atCancel), 'text landed after the cancel');
        const streamed = squash(later);
        assert.ok(
          streamed.startsWith(squash(SEED)) && streamed.length > squash(SEED).length,
          `nothing streamed: ${streamed.slice(0, 200)}`,
        );
        // What streamed is the greedy continuation's beginning, cut at a token: not all of it (cancelled).
        const full = squash(SEED + expectedLong);
        assert.ok(full.startsWith(streamed) || streamed.startsWith(full), `not the greedy continuation: ${streamed.slice(0, 300)}`);
        await s.page.locator('.editor-instance .view-lines').first().click();
        await s.page.keyboard.press('Control+Z');
        await waitForText(s, (t) => squash(t) === squash(SEED), 'one undo to remove the cancelled continuation');
      },
    },
  ],
};

/**
 * The N of the progress notification's "n / N tokens": the token budget in force; null when the
 * notification went before it could be read (a short run on the old budget ends that fast).
 */
async function waitForBudget(toast: Locator): Promise<number | null> {
  const end = Date.now() + 60000;
  for (;;) {
    const m = /\d+ \/ (\d+) tokens/.exec(await toast.innerText({ timeout: 1000 }).catch(() => ''));
    if (m) return Number(m[1]);
    if (!(await toast.isVisible())) return null;
    if (Date.now() > end) throw new Error('the Continue Text notification never reported its progress');
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The editor's text once it has stayed the same for a second. */
async function settledText(s: VSCodeSession): Promise<string> {
  let last = await s.editorText();
  for (let i = 0; i < 30; i++) {
    await new Promise((r) => setTimeout(r, 1000));
    const now = await s.editorText();
    if (now === last) return now;
    last = now;
  }
  throw new Error('the editor text kept changing after the cancel');
}
