/**
 * What the user sees while the model works, in a real VS Code (code-server) on a long-line
 * document (12 lines of about 80 words): a generated GPT-2 large enough that loading and running
 * take seconds on a CPU (4 layers, 12 heads, d_model 384; random weights, no network).
 * - the panel shows the work moving (a bar, the label, elapsed seconds that change; while loading,
 *   the engine's stage, "reading weights N / M MB", with a bar that fills and never goes back), the header
 *   holds no empty pill, and the actions that need a run are disabled until there is one;
 * - Cancel stops the run and leaves the panel usable ("Run again" gives the full result);
 * - the attention grid fits a narrow panel (no horizontal overflow);
 * - no Content-Security-Policy violation in any frame's console.
 * Screenshots of the waiting states land in test-results/screenshots/.
 */
import { strict as assert } from 'node:assert';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateTinyGpt2 } from '../../src/engine/tinyGpt2';
import { waitFor, waitUntil } from '../support/waitUntil';
import type { FrameLocator } from 'playwright-core';
import type { E2ESuite } from './harness';
import { inlineHint, inView, type HintBox } from './inlineHint';

const WORDS = 'the model reads every token of this long line and the panel shows what it does while it works'.split(' ');

/** 12 lines of 80 words each (no wrap points but spaces): about 1,000 GPT-2 tokens. */
function longDocument(): string {
  const lines: string[] = [];
  for (let l = 0; l < 12; l++) lines.push(Array.from({ length: 80 }, (_, i) => WORDS[(i * 7 + l) % WORDS.length]).join(' '));
  return `${lines.join('\n')}\n`;
}

let root = '';
let workspace = '';

async function elapsedOf(w: FrameLocator): Promise<string> {
  return (await w.locator('[data-testid=busy-elapsed]').textContent()) ?? '';
}

export const suite: E2ESuite = {
  name: 'waiting',
  async before() {
    root = mkdtempSync(join(tmpdir(), 'model-lens-wait-e2e-'));
    const model = join(root, 'model');
    workspace = join(root, 'ws');
    await generateTinyGpt2(model, { n_layer: 4, n_embd: 384, n_head: 12, seed: 5 });
    mkdirSync(workspace);
    writeFileSync(join(workspace, 'long.txt'), longDocument());
    return {
      workspace,
      settings: { 'modelLens.model': model, 'git.openRepositoryInParentFolders': 'never' },
      viewport: { width: 1280, height: 900 },
    };
  },
  async after() {
    rmSync(root, { recursive: true, force: true });
  },
  tests: [
    {
      name: 'progress moves while loading and running; Cancel stops the run; the panel stays usable',
      timeoutMs: 240000,
      fn: async (s) => {
        await s.openFile('long.txt');
        await s.runCommand('Model Lens: Open Activation Panel');
        const w = await s.webview('Activations');
        const busy = w.locator('[data-testid=busy]');
        await busy.waitFor({ state: 'visible', timeout: 60000 });
        // Honest header while nothing has run: no empty model pill, run actions disabled.
        assert.equal(await w.locator('[data-testid=model-label]').isVisible(), false, 'an empty model pill shows while loading');
        for (const id of ['reset', 'export-cache', 'export-png']) {
          assert.notEqual(await w.locator(`[data-testid=${id}]`).getAttribute('disabled'), null, `${id} is enabled before a run`);
        }
        // Every label and bar position seen until the run starts, to check the load's steps below.
        const label = w.locator('[data-testid=busy-label]');
        const bar = w.locator('.busy-bar');
        const seen: { label: string; percent: string | null }[] = [];
        const sample = async (): Promise<string> => {
          const [t, percent] = await Promise.all([label.textContent(), bar.getAttribute('aria-valuenow')]);
          seen.push({ label: t ?? '', percent });
          return t ?? '';
        };
        // The elapsed time moves.
        const first = await elapsedOf(w);
        await waitFor(
          'the elapsed time to change',
          async () => {
            await sample();
            return (await elapsedOf(w)) !== first && (await busy.isVisible());
          },
          { timeoutMs: 30000 },
        );
        await s.screenshot('waiting-panel-loading');
        // Running: the label says how many tokens of the text, + BOS; cancel then.
        const running = await waitUntil(
          'the running label',
          async () => {
            const t = await sample();
            return /^Running/.test(t) ? t : undefined;
          },
          { timeoutMs: 90000 },
        );
        assert.match(running, /on [\d.,\s\u202f]+ tokens \+ BOS/);
        // While loading, the label said the engine's stage (bytes read, for the reading) and the bar
        // filled, never going back.
        const stages = seen.filter((x) => x.label.startsWith('Loading the model: '));
        // Which stages show depends on how soon the webview is up (with the file in the page cache
        // the reading can be over by then), so any stage counts; a reading shown must give bytes.
        assert.ok(stages.length > 0, `no load stage was shown: ${JSON.stringify(seen.map((x) => x.label))}`);
        for (const x of stages) {
          assert.match(
            x.label,
            /^Loading the model: (reading weights [\d.,\u202f]+ \/ [\d.,\u202f]+ MB|processing weights|building sessions)…$/,
          );
          assert.ok(x.percent !== null && Number(x.percent) >= 0 && Number(x.percent) <= 100, `bar at ${x.percent} for ${x.label}`);
        }
        const percents = stages.map((x) => Number(x.percent));
        for (let i = 1; i < percents.length; i++) assert.ok(percents[i]! >= percents[i - 1]!, `the bar went back: ${percents.join(', ')}`);
        await s.screenshot('waiting-panel-running');
        await w.locator('[data-testid=busy-cancel]').click();
        await w.locator('[data-testid=cancelled]').waitFor({ state: 'visible', timeout: 10000 });
        assert.equal(await busy.isVisible(), false, 'the progress stayed after Cancel');
        assert.equal(((await w.locator('[data-testid=mean-loss]').textContent()) ?? '').trim(), '', 'a run result arrived before Cancel');
        await s.screenshot('waiting-panel-cancelled');
        // The engine is free again: Run again gives the whole result.
        await w.locator('[data-testid=rerun]').click();
        await w.locator('[data-testid=mean-loss]').filter({ hasText: 'mean loss' }).waitFor({ timeout: 180000 });
        assert.ok((await w.locator('[data-testid=tokens] .tok').count()) > 900, 'the long document did not reach the panel');
        for (const id of ['reset', 'export-cache', 'export-png']) {
          assert.equal(await w.locator(`[data-testid=${id}]`).getAttribute('disabled'), null, `${id} is disabled after a run`);
        }
        assert.equal(await w.locator('[data-testid=model-label]').isVisible(), true, 'no model label after the run');
      },
    },
    {
      name: 'the attention grid fits a narrow panel',
      timeoutMs: 60000,
      fn: async (s) => {
        // The panel sits beside the editor: with the side bar closed, at 900 px the panel is about 420 px wide.
        await s.runCommand('View: Close Primary Side Bar');
        await s.page.setViewportSize({ width: 900, height: 900 });
        const w = await s.webview('Activations');
        await w.locator('[data-testid=tab-attention]').click();
        const grid = w.locator('[data-testid=head-grid]');
        await grid.waitFor();
        const fit = await waitUntil('the grid laid out', async () => {
          const m = await grid.evaluate((g) => ({
            grid: g.scrollWidth,
            view: g.parentElement!.clientWidth,
            page: g.ownerDocument.documentElement.clientWidth,
            lastRight: g.lastElementChild!.getBoundingClientRect().right,
          }));
          return m.view > 0 ? m : undefined;
        });
        assert.ok(fit.page >= 380 && fit.page <= 520, `the panel is ${fit.page} px wide, not about 400 px`);
        assert.ok(fit.grid <= fit.view, `the grid is ${fit.grid} px wide in a ${fit.view} px view`);
        assert.ok(fit.lastRight <= fit.page, `the last head's thumbnail ends at ${fit.lastRight} px, past the panel's ${fit.page} px`);
        await s.screenshot('attention-grid-narrow');
        await s.page.setViewportSize({ width: 1280, height: 900 });
      },
    },
    {
      name: 'the inline hint is at the cursor, in view, on a long line with word wrap off and on; stale while updating',
      timeoutMs: 240000,
      fn: async (s) => {
        await s.runCommand('View: Close All Editors');
        await s.openFile('long.txt');
        // The end of line 6: far right of the viewport with word wrap off.
        const line6 = longDocument().split('\n')[5]!;
        await s.selectRange({ line: 6, column: line6.length + 1 }, { line: 6, column: line6.length + 1 });
        await s.runCommand('Model Lens: Toggle Inline Logits');
        const fresh = (what: string): Promise<HintBox> =>
          waitUntil(
            what,
            async () => {
              const h = await inlineHint(s.page);
              return h && h.text.startsWith('next:') ? h : undefined;
            },
            { timeoutMs: 120000 },
          );
        await fresh('the inline hint (word wrap off)');
        // The editor scrolls to make room once the hint is laid out.
        const off = await waitUntil(
          'the hint in view (word wrap off)',
          async () => {
            const h = await inlineHint(s.page);
            return h && inView(h) ? h : undefined;
          },
          { timeoutMs: 5000 },
        ).catch(async (e: unknown) => {
          throw new Error(`${(e as Error).message}: ${JSON.stringify(await inlineHint(s.page))}`);
        });
        assert.ok(off.text.startsWith('next:'));
        await s.screenshot('inline-hint-long-line');
        // Typing: the previous hint stays (marked stale) until the new one comes; it never vanishes.
        await s.page.keyboard.type(' the');
        assert.ok((await inlineHint(s.page)) !== undefined, 'the hint vanished at the keystroke');
        const during = await waitUntil(
          'a hint in view right after typing',
          async () => {
            const h = await inlineHint(s.page);
            return h && inView(h) ? h : undefined;
          },
          { timeoutMs: 5000 },
        );
        if (during.text.startsWith('⋯')) await s.screenshot('inline-hint-stale');
        await fresh('the new hint after typing');
        await waitFor(
          'the new hint in view',
          async () => {
            const h = await inlineHint(s.page);
            return h !== undefined && inView(h);
          },
          { timeoutMs: 5000 },
        );
        await s.runCommand('View: Toggle Word Wrap');
        const on = await waitUntil(
          'the hint laid out with word wrap on',
          async () => {
            const h = await inlineHint(s.page);
            return h && h.text.startsWith('next:') && inView(h) ? h : undefined;
          },
          { timeoutMs: 30000 },
        );
        assert.ok(inView(on));
        await s.screenshot('inline-hint-word-wrap');
        await s.runCommand('View: Toggle Word Wrap');
        await s.runCommand('Model Lens: Toggle Inline Logits');
        await waitFor('the hint gone', async () => (await inlineHint(s.page)) === undefined, { timeoutMs: 10000 });
      },
    },
    {
      name: 'no Content-Security-Policy violation in any frame',
      fn: async (s) => {
        assert.deepEqual(s.cspViolations, []);
      },
    },
  ],
};
