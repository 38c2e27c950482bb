/**
 * Activation patching and head detection from the palette in a real VS Code (code-server) with
 * a tiny generated GPT-2: the two prompts of samples/ioi.txt (the selection is the clean prompt,
 * the corrupted one typed in the input box), the answers " Mary| John", the resid_pre sweep; the
 * Experiment view draws the heatmap, a hover names a cell's value, a click lists that patch's
 * top next tokens. Then Detect Heads on the repeated random sequence draws three heatmaps.
 * In the dark theme also: a long sweep cancelled from its notification; a .prompts file's two
 * lines as the prompts; a steering vector from the palette that the inline logits then show
 * ("with steering"), the panel's Steering view (with and without) and its Compare view.
 * patching-light.e2e.ts runs the first two in the light theme. Screenshots land in
 * test-results/screenshots/.
 */
import { strict as assert } from 'node:assert';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateTinyGpt2 } from '../../src/engine/tinyGpt2';
import type { E2ESuite, E2ETest, Theme, VSCodeSession } from './harness';
import { inlineHint } from './inlineHint';

const [CLEAN, CORRUPTED] = readFileSync(join(__dirname, '../../samples/ioi.txt'), 'utf8').split('\n') as [string, string];

/** Answers a palette command's input boxes in order; each waits for its own prompt text, so a keystroke never lands in the previous box. */
async function answerInputs(s: VSCodeSession, answers: readonly { readonly prompt: string; readonly value: string }[]): Promise<void> {
  const input = s.page.locator('.quick-input-widget .quick-input-box input');
  for (const a of answers) {
    await s.page.locator('.quick-input-widget', { hasText: a.prompt }).waitFor();
    await input.fill(a.value);
    await s.page.keyboard.press('Enter');
  }
}

/**
 * Runs a palette command that asks for input at once: the harness's runCommand waits for the
 * quick input to close, which such a command keeps open (its first box replaces the palette).
 */
async function step<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    throw new Error(`${what}: ${(e as Error)?.message ?? String(e)}`, { cause: e });
  }
}

async function startCommand(s: VSCodeSession, title: string): Promise<void> {
  const input = s.page.locator('.quick-input-widget .quick-input-box input');
  await s.page.keyboard.press('F1');
  await input.waitFor({ state: 'visible' });
  await input.fill(`>${title}`);
  await s.page.locator('.quick-input-widget .quick-input-list .monaco-list-row', { hasText: title }).first().click();
}

// The steered next token is a second inlay hint at the cursor, e.g. steered 12.3% " x" (in the page: a string, these tests compile without DOM types).
const FIND_STEERED = `(() => {
  for (const e of document.querySelectorAll('.editor-instance .view-lines span')) {
    if (e.children.length > 0) continue;
    const t = (e.textContent || '').replace(/\u00a0/g, ' ').trim();
    const pseudo = [getComputedStyle(e, '::before').content, getComputedStyle(e, '::after').content].find((c) => c && c.includes('steered '));
    if (t.includes('steered ')) return t;
    if (pseudo) return pseudo;
  }
  return '';
})()`;

async function waitForSteeredHint(s: VSCodeSession, present: boolean, timeoutMs = 60000): Promise<string> {
  const end = Date.now() + timeoutMs;
  let text = '';
  while (Date.now() < end) {
    text = await s.page.evaluate<string>(FIND_STEERED);
    if ((text !== '') === present && !text.startsWith('⋯')) return text;
    await s.page.waitForTimeout(200);
  }
  throw new Error(`the steered hint is ${JSON.stringify(text)}, expected ${present ? 'one' : 'none'}`);
}

async function waitForHint(s: VSCodeSession, pattern: RegExp, what: string, timeoutMs = 60000): Promise<string> {
  const end = Date.now() + timeoutMs;
  let text = '';
  while (Date.now() < end) {
    text = (await inlineHint(s.page))?.text ?? '';
    if (pattern.test(text)) return text;
    await s.page.waitForTimeout(200);
  }
  throw new Error(`${what}: the inline hint is ${JSON.stringify(text)}`);
}

export function patchingSuite(theme: Theme): E2ESuite {
  let dir = '';
  const tests: E2ETest[] = [
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
        await s.screenshot(`patching-resid_pre-${theme}`);
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
        await s.screenshot(`head-detection-${theme}`);
      },
    },
  ];
  if (theme === 'dark') tests.push(...darkOnly());
  return {
    name: theme === 'dark' ? 'patching' : `patching-${theme}`,
    async before() {
      dir = mkdtempSync(join(tmpdir(), 'model-lens-patching-e2e-'));
      await generateTinyGpt2(dir, { seed: 3 });
      return {
        theme,
        settings: { 'modelLens.model': dir, 'git.openRepositoryInParentFolders': 'never' },
        viewport: { width: 1500, height: 1000 },
      };
    },
    async after() {
      rmSync(dir, { recursive: true, force: true });
    },
    tests,
  };
}

function darkOnly(): E2ETest[] {
  return [
    {
      name: 'a long sweep is cancelled from its notification',
      timeoutMs: 180000,
      fn: async (s: VSCodeSession) => {
        await s.runCommand('View: Close All Editors');
        // About 300 tokens, twice, one name swapped: a 2 × 300 sweep takes tens of seconds here.
        const long = 'When Mary and John went to the store, John gave a drink to Mary. '.repeat(19);
        const corrupted = long.replace('John gave', 'Mary gave');
        await startCommand(s, 'Model Lens: Activation Patching…');
        await answerInputs(s, [
          { prompt: 'Clean prompt', value: long },
          { prompt: 'Corrupted prompt', value: corrupted },
          { prompt: 'wrong answer', value: ' Mary| John' },
        ]);
        const row = s.page.locator('.quick-input-widget .quick-input-list .monaco-list-row', { hasText: 'Residual stream' }).first();
        await row.waitFor();
        await row.click();
        const toast = s.page.locator('.notifications-toasts .notification-toast', { hasText: 'patching' });
        await toast.waitFor({ timeout: 30000 });
        await s.screenshot('patching-long-sweep-running');
        await toast.locator('.monaco-button', { hasText: 'Cancel' }).click();
        await s.page.locator('.notifications-toasts .notification-toast', { hasText: 'experiment cancelled' }).waitFor({ timeout: 60000 });
        assert.equal(await toast.count(), 0, 'the progress notification stayed after Cancel');
      },
    },
    {
      name: 'two lines of a .prompts file are the clean and corrupted prompts',
      timeoutMs: 120000,
      fn: async (s: VSCodeSession) => {
        await s.runCommand('View: Close All Editors');
        await s.openFile('ioi.prompts');
        await s.selectText('When Mary and John went to the store, John');
        await startCommand(s, 'Model Lens: Activation Patching…');
        // The file gives the prompts and the answers: only the sweep is asked for.
        const row = s.page.locator('.quick-input-widget .quick-input-list .monaco-list-row', { hasText: "Every head's output" }).first();
        await row.waitFor();
        await row.click();
        const w = await s.webview('Activations');
        await w
          .locator('[data-testid=experiment-subtitle]')
          .filter({ hasText: /John gave.*Mary gave.*logit\(" Mary"\)/ })
          .waitFor({ timeout: 60000 });
        assert.equal(await w.locator('[data-testid=experiment-map]').count(), 1);
      },
    },
    {
      name: 'mean ablation from the panel: the method chosen in the action bar, the head ablated with it',
      timeoutMs: 180000,
      fn: async (s: VSCodeSession) => {
        await s.runCommand('View: Close All Editors');
        await s.openFile('hello.txt');
        await s.selectText('The quick brown fox jumps over the lazy dog.');
        await s.runCommand('Model Lens: Open Activation Panel');
        const w = await s.webview('Activations');
        const loss = w.locator('[data-testid=mean-loss]');
        await step('the first run', () => loss.filter({ hasText: 'mean loss' }).waitFor({ timeout: 60000 }));
        const before = await loss.textContent();
        await w.locator('[data-testid=ablation-method]').click();
        await w.locator('vscode-option', { hasText: 'Ablate: mean' }).click();
        await step('the mean source', () =>
          w.locator('[data-testid=mean-source]').filter({ hasText: "this prompt's positions" }).waitFor(),
        );
        await w.locator('[data-testid=tab-attention]').click();
        await w.locator('[data-testid=head-cell]').nth(1).click();
        await w.locator('[data-testid=ablate-head]').click();
        await step('the mean-ablated run', () =>
          w.locator('[data-testid=ablations]').filter({ hasText: 'L0H1 (mean)' }).waitFor({ timeout: 60000 }),
        );
        assert.notEqual(await loss.textContent(), before, 'the mean ablation did not change the loss');
        await s.screenshot('activation-ablation-mean');
        await w.locator('[data-testid=reset]').click();
        await step('the run without ablations', () =>
          w.locator('[data-testid=ablations]').filter({ hasNotText: 'L0H1' }).waitFor({ state: 'attached', timeout: 60000 }),
        );
      },
    },
    {
      name: 'a steering vector changes the inline logits; the Steering and Compare views show it',
      timeoutMs: 240000,
      fn: async (s: VSCodeSession) => {
        await s.runCommand('View: Close All Editors');
        // The cancel test's toast would sit on the screenshots.
        await s.runCommand('Notifications: Clear All Notifications');
        // A retry starts without the first attempt's vector.
        await s.runCommand('Model Lens: Remove Steering Vector');
        await s.openFile('hello.txt');
        await s.selectText('lazy dog');
        // A retry may find them on still (the setting is the user's): toggle only when no hint shows.
        await s.page.waitForTimeout(3000);
        if ((await inlineHint(s.page)) === undefined) await s.runCommand('Model Lens: Toggle Inline Logits');
        const plain = await waitForHint(s, /next: .*%/, 'no inline hint');
        await waitForSteeredHint(s, false, 5000);
        await startCommand(s, 'Model Lens: Add Steering Vector…');
        await step('the steering inputs', () =>
          answerInputs(s, [
            { prompt: 'Steer towards', value: ' Love' },
            { prompt: 'Steer away from', value: ' Hate' },
            { prompt: 'Layer whose resid_pre', value: '1' },
            { prompt: 'Coefficient', value: '40' },
          ]),
        );
        const steered = await waitForSteeredHint(s, true);
        assert.match(steered, /steered \d+(\.\d)?% "/);
        // The normal hint beside it is the same prediction as before (without its "…": the line's hints share a length budget).
        const normal = await waitForHint(s, /next: .*%/, 'no inline hint');
        assert.equal(normal.replace(/ …$/, ''), plain.replace(/ …$/, ''));
        await s.screenshot('inline-logits-steering');

        await s.runCommand('Model Lens: Open Activation Panel');
        const w = await s.webview('Activations');
        await step("the panel's run with the vector", () =>
          w.locator('[data-testid=ablations]').filter({ hasText: 'Steering: 40' }).waitFor({ timeout: 60000 }),
        );
        await w.locator('[data-testid=tab-steering]').click();
        await step("the steering view's tables", () => w.locator('[data-testid=steer-with] tr').nth(10).waitFor({ timeout: 60000 }));
        await w.locator('[data-testid=steer-without] tr').nth(10).waitFor({ timeout: 60000 });
        const cells = async (which: string): Promise<string[]> => w.locator(`[data-testid=steer-${which}] td.num`).allTextContents();
        assert.notDeepEqual(await cells('with'), await cells('without'), 'the two distributions are the same');
        await s.screenshot('steering-dark');

        await w.locator('[data-testid=tab-compare]').click();
        await w.locator('[data-testid=compare-run]').click();
        await step("the compare view's lens map", () => w.locator('[data-testid=compare-lens]').waitFor({ timeout: 60000 }));
        await w.locator('[data-testid=compare-pattern]').waitFor({ timeout: 60000 });
        await s.screenshot('compare-dark');

        await s.runCommand('Model Lens: Remove Steering Vector');
        await step("the panel's run without the vector", () =>
          w.locator('[data-testid=ablations]').filter({ hasNotText: 'Steering' }).waitFor({ state: 'attached', timeout: 60000 }),
        );
        await s.runCommand('Model Lens: Toggle Inline Logits');
        assert.match(plain, /^next: /);
      },
    },
  ];
}

export const suite = patchingSuite('dark');
