/** The token hover in a real VS Code: hovering a word shows its GPT-2 tokens with ids and indices. */
import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { E2ESuite } from './harness';
import { tokenDisplay, tokenizePacked } from '../../src/tokenizer';

const SEED = 'Whether a word begings with a capital or space matters!';
let workspace = '';

export const suite: E2ESuite = {
  name: 'hover',
  async before() {
    workspace = mkdtempSync(join(tmpdir(), 'model-lens-hover-'));
    writeFileSync(join(workspace, 'seed.txt'), `${SEED}\n`);
    return { workspace };
  },
  async after() {
    if (workspace) rmSync(workspace, { recursive: true, force: true });
  },
  tests: [
    {
      name: 'hovering "begings" shows its tokens, ids and document indices',
      async fn(s) {
        await s.openFile('seed.txt');
        const text = await s.hoverText('begings');
        const packed = tokenizePacked(`${SEED}\n`);
        const at = SEED.indexOf('begings');
        const expected: { id: number; index: number }[] = [];
        for (let i = 0; i < packed.length; i++) {
          if (packed.ends[i]! > at && packed.starts[i]! < at + 'begings'.length) expected.push({ id: packed.ids[i]!, index: i });
        }
        assert.ok(expected.length >= 2);
        assert.match(text, new RegExp(`GPT-2: ${expected.length} tokens`));
        for (const { id, index } of expected) {
          assert.ok(text.includes(tokenDisplay(id)), `${tokenDisplay(id)} missing from ${text}`);
          assert.match(text, new RegExp(`\\b${id}\\b[\\s\\S]*?\\b${index}\\b`), `id ${id} / index ${index} missing from ${text}`);
        }
      },
    },
    {
      name: 'hovering the first word shows id 15354 at index 0',
      async fn(s) {
        await s.page.keyboard.press('Escape');
        const text = await s.hoverText('Whether');
        assert.match(text, /GPT-2: 1 token\b/);
        assert.match(text, /Whether\s*15354\s*0/);
      },
    },
  ],
};
