/**
 * Continue Text in a real VS Code (code-server) with the tiny generated GPT-2 (no network): run
 * from the palette at the end of a file, the greedy continuation HookedGPT2 gives lands in the
 * editor, a generated token's hover shows its probability and rank, and one Ctrl+Z removes it all.
 */
import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generate } from '../../src/engine/generate';
import { HookedGPT2 } from '../../src/engine/model';
import { generateTinyGpt2 } from '../../src/engine/tinyGpt2';
import { decode, encode } from '../../src/tokenizer';
import type { E2ESuite, VSCodeSession } from './harness';

const SEED = 'The quick brown fox jumps over the lazy dog';
const NEW_TOKENS = 12;
let dir = '';
let workspace = '';
let expected = '';
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
      const r = await generate(model, [50256, ...encode(SEED)], { temperature: 0, maxNewTokens: NEW_TOKENS });
      const ids = r.tokens.map((t) => t.id);
      expected = decode(ids);
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
  ],
};
