/**
 * The activation panel in a real VS Code (code-server) with a tiny generated GPT-2 in a local
 * folder (modelLens.model; no network): open it on a selection, switch to every view and check
 * what is drawn (token labels, a layer × head grid the size of the model, a loss equal to
 * HookedGPT2's own), ablate a head and see the loss change, inline hints appear and go away.
 * Screenshots of every view land in test-results/screenshots/. activation-light.e2e.ts runs the
 * same steps in the light theme.
 */
import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HookedGPT2 } from '../../src/engine/model';
import { generateTinyGpt2 } from '../../src/engine/tinyGpt2';
import { ACTIVATION_VIEW_TYPE } from '../../src/protocol/activation';
import { tokenDisplay } from '../../src/tokenizer';
import type { E2ESuite, Theme, VSCodeSession } from './harness';
import { inlineHint } from './inlineHint';

const SENTENCE = 'The quick brown fox jumps over the lazy dog.';
/** The workspaceState key where activationPanel.ts keeps the panel's last input (that module imports vscode). */
const LAST_INPUT_KEY = 'modelLens.activation.lastInput';

/** Runs `fn`, naming `what` in its error: several steps of one test wait on the same kind of locator. */
async function step<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    throw new Error(`${what}: ${(e as Error)?.message ?? String(e)}`, { cause: e });
  }
}
const VIEWS = ['attention', 'neurons', 'logitLens', 'residual', 'loss'] as const;

export function activationSuite(theme: Theme): E2ESuite {
  let dir = '';
  let expectedLoss = 0;
  let ids: number[] = [];
  let cfg = { n_layers: 0, n_heads: 0 };
  return {
    name: `activation-${theme}`,
    async before() {
      dir = mkdtempSync(join(tmpdir(), 'model-lens-act-e2e-'));
      await generateTinyGpt2(dir, { seed: 7 });
      const model = await HookedGPT2.fromPretrained(dir, { threads: 1 });
      try {
        ids = model.toTokens(SENTENCE).tokens;
        cfg = model.cfg;
        const logits = await model.run(ids);
        const V = logits.dims[2]!;
        let total = 0;
        for (let p = 0; p + 1 < ids.length; p++) {
          let max = -Infinity;
          for (let v = 0; v < V; v++) max = Math.max(max, logits.data[p * V + v]!);
          let s = 0;
          for (let v = 0; v < V; v++) s += Math.exp(logits.data[p * V + v]! - max);
          total += max + Math.log(s) - logits.data[p * V + ids[p + 1]!]!;
        }
        expectedLoss = total / (ids.length - 1);
      } finally {
        await model.dispose();
      }
      return {
        theme,
        settings: { 'modelLens.model': dir, 'git.openRepositoryInParentFolders': 'never' },
        viewport: { width: 1500, height: 1000 },
      };
    },
    async after() {
      rmSync(dir, { recursive: true, force: true });
    },
    tests: [
      {
        name: 'panel views, values and ablation',
        timeoutMs: 120000,
        fn: async (s: VSCodeSession) => {
          await s.openFile('hello.txt');
          await s.selectText(SENTENCE);
          await s.runCommand('Model Lens: Open Activation Panel');
          const w = await s.webview('Activations');
          const loss = w.locator('[data-testid=mean-loss]');
          await loss.filter({ hasText: 'mean loss' }).waitFor({ timeout: 60000 });
          // Tokens along the top: BOS plus the sentence's tokens, with their display text.
          const tokens = w.locator('[data-testid=tokens] .tok');
          assert.equal(await tokens.count(), ids.length);
          assert.equal(await tokens.nth(2).textContent(), tokenDisplay(ids[2]!));
          const shown = Number(/mean loss ([\d.]+)/.exec((await loss.textContent()) ?? '')?.[1]);
          assert.ok(Math.abs(shown - expectedLoss) < 1e-3, `panel shows ${shown}, HookedGPT2 gives ${expectedLoss}`);
          assert.equal(await w.locator('[data-testid=head-cell]').count(), cfg.n_layers * cfg.n_heads);

          for (const v of VIEWS) {
            await w.locator(`[data-testid=tab-${v}]`).click();
            const canvas = {
              attention: 'head-cell',
              neurons: 'neuron-canvas',
              logitLens: 'lens-canvas',
              residual: 'resid-canvas',
              loss: 'loss-canvas',
            }[v];
            await w.locator(`[data-testid=${canvas}]`).first().waitFor({ timeout: 60000 });
            if (v === 'attention') {
              await w.locator('[data-testid=head-cell]').nth(1).click();
              await w.locator('[data-testid=pattern-canvas]').waitFor();
              await w.locator('[data-testid=tokens] .tok').nth(3).hover();
              assert.match((await w.locator('[data-testid=attn-info]').textContent()) ?? '', /attends most to/);
            }
            if (v === 'logitLens') {
              const c = w.locator('[data-testid=lens-canvas]');
              assert.equal(await c.getAttribute('data-rows'), String(cfg.n_layers + 1));
              assert.equal(await c.getAttribute('data-cols'), String(ids.length));
              await c.focus();
              await c.press('ArrowRight');
              assert.match((await w.locator('[data-testid=lens-canvas-readout]').textContent()) ?? '', /0_pre at 1 .*top/);
            }
            if (v === 'residual') await w.locator('[data-testid=dla-list] li').first().waitFor({ timeout: 30000 });
            if (v === 'loss') assert.equal(await w.locator('[data-testid=topk-table] tr').count(), 11);
            await s.screenshot(`activation-${v}-${theme}`);
          }

          // Ablate the open head: the loss numbers change.
          await w.locator('[data-testid=tab-attention]').click();
          await w.locator('[data-testid=head-cell]').nth(1).click();
          await w.locator('[data-testid=ablate-head]').click();
          await w.locator('[data-testid=ablations]').filter({ hasText: 'L0H1' }).waitFor({ timeout: 60000 });
          const after = Number(/mean loss ([\d.]+)/.exec((await loss.textContent()) ?? '')?.[1]);
          assert.ok(Math.abs(after - shown) > 1e-4, `loss did not change after ablation (${after})`);
          await s.screenshot(`activation-ablated-${theme}`);
        },
      },
      {
        name: 'inline logits appear and go away',
        timeoutMs: 60000,
        fn: async (s: VSCodeSession) => {
          await s.runCommand('View: Close All Editors');
          await s.openFile('hello.txt');
          await s.selectText('lazy dog');
          await s.runCommand('Model Lens: Toggle Inline Logits');
          // The hint is an inlay hint at the cursor: text the editor lays out with the line.
          const hintText = async (): Promise<string> => (await inlineHint(s.page))?.text ?? '';
          const end = Date.now() + 30000;
          let text = await hintText();
          while (!text && Date.now() < end) {
            await s.page.waitForTimeout(200);
            text = await hintText();
          }
          assert.match(text, /next: .*%/, 'no inline next-token hint appeared');
          await s.screenshot(`inline-logits-${theme}`);
          await s.runCommand('Model Lens: Toggle Inline Logits');
          const gone = Date.now() + 10000;
          while ((await hintText()) && Date.now() < gone) await s.page.waitForTimeout(200);
          assert.equal(await hintText(), '', 'the inline hint stayed after toggling off');
        },
      },
      {
        name: 'the panel survives a window reload (re-runs the saved text)',
        timeoutMs: 150000,
        // Runs in CI. It failed there for two reasons, both in the test's setup: modelLens.model
        // sat in the User settings, which a remote window (code-server) stops honouring for a
        // machine-scoped setting after the inline-logits test writes a setting, so the revived
        // host asked for the default model (no network: a download error and a waiting prompt);
        // the harness now writes it to the remote machine's settings. And the storage probe
        // matched the extension's workspaceState from the first test (it holds the view type and
        // the sentence), so the reload came before the layout with the panel was stored.
        fn: async (s: VSCodeSession) => {
          // The inline-logits test closed every editor: open the panel on the sentence again.
          await s.openFile('hello.txt');
          await s.selectText(SENTENCE);
          await s.runCommand('Model Lens: Open Activation Panel');
          const before = await step('the panel before the reload', () => s.webview('Activations'));
          await step('the loss before the reload', () =>
            before.locator('[data-testid=mean-loss]').filter({ hasText: 'mean loss' }).waitFor({ timeout: 60000 }),
          );
          // VS Code in the browser writes its open editors, with each webview's setState, to
          // IndexedDB on a 5 s timer when the page is idle; a reload before that write restores an
          // older layout (no panel, or a panel with no saved text). A fixed 3 s pause here made the
          // test flaky on a loaded machine: wait until the layout holds the panel (VS Code stores a
          // webview editor's view type as mainThreadWebview-<viewType>) and the extension's
          // workspaceState holds its text (revive() falls back to it: in every run seen here the
          // stored layout carried no webview state).
          await s.waitForStoredState([`mainThreadWebview-${ACTIVATION_VIEW_TYPE}`]);
          await s.waitForStoredState([LAST_INPUT_KEY, SENTENCE]);
          await s.page.reload();
          await step('the workbench after the reload', () => s.page.locator('.monaco-workbench').waitFor({ timeout: 60000 }));
          const w = await step('the revived panel', () => s.webview('Activations'));
          await step("the revived panel's loss", () =>
            w.locator('[data-testid=mean-loss]').filter({ hasText: 'mean loss' }).waitFor({ timeout: 60000 }),
          );
          assert.equal(await w.locator('[data-testid=tokens] .tok').count(), ids.length);
        },
      },
    ],
  };
}

export const suite = activationSuite('dark');
