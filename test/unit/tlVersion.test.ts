// TransformerLens 3.x vs 2.x hook meanings (docs/HOOKS.md) through the CLI: `run --tl-version`
// selects them, the export says which it followed, and a bad value is refused by name.
import { strict as assert } from 'node:assert';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { UsageError } from '../../src/cli/command';
import { runCommand } from '../../src/cli/runCommand';
import { generateTinyGpt2 } from '../../src/engine/tinyGpt2';

/** A safetensors file's header: tensor names (metadata aside) and the __metadata__ strings. */
function header(path: string): { names: string[]; metadata: Record<string, string> } {
  const bytes = readFileSync(path);
  const len = Number(bytes.readBigUInt64LE(0));
  const json = JSON.parse(bytes.subarray(8, 8 + len).toString('utf8')) as Record<string, unknown>;
  const { __metadata__: metadata, ...tensors } = json;
  return { names: Object.keys(tensors), metadata: (metadata ?? {}) as Record<string, string> };
}

describe('model-lens run --tl-version', { timeout: 120_000 }, () => {
  let dir: string;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'modellens-tlv-'));
    await generateTinyGpt2(join(dir, 'model'), { seed: 5 });
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  async function exportWith(extra: string[]): Promise<{ names: string[]; metadata: Record<string, string> }> {
    const out = join(dir, `${extra.join('_') || 'default'}.safetensors`);
    let err = '';
    const code = await runCommand.run(['--model', join(dir, 'model'), '--tokens', '50256,464,3290', '--out', out, ...extra], {
      stdout: () => undefined,
      stderr: (t) => (err += t),
    });
    assert.equal(code, 0, err);
    return header(out);
  }

  it('defaults to 3.x: unembed.hook_in and unembed.hook_out are exported, and the file says 3.x', async () => {
    const { names, metadata } = await exportWith([]);
    assert.ok(names.includes('unembed.hook_in') && names.includes('unembed.hook_out'));
    assert.equal(metadata.transformer_lens_version, '3.x');
    assert.equal(
      metadata.processing,
      'from_pretrained(fold_ln=True, center_writing_weights=True, center_unembed=True, fold_value_biases=True)',
    );
  });

  it('--tl-version 2 follows 2.x: no unembed hooks, otherwise the same names', async () => {
    const three = await exportWith(['--no-processing']);
    const two = await exportWith(['--no-processing', '--tl-version', '2']);
    assert.deepEqual(three.names.filter((n) => !n.startsWith('unembed.')).sort(), [...two.names].sort());
    assert.equal(two.metadata.transformer_lens_version, '2.x');
    assert.equal(two.metadata.processing, 'from_pretrained_no_processing');
    for (const v of ['2.x', '2.9.1', '3', '3.5']) await exportWith(['--tl-version', v]); // accepted spellings
  });

  it('refuses other versions with a message naming the flag', async () => {
    await assert.rejects(
      runCommand.run(['--model', join(dir, 'model'), '--tokens', '1', '--tl-version', '1'], {
        stdout: () => undefined,
        stderr: () => undefined,
      }),
      (e: unknown) => e instanceof UsageError && /--tl-version must be 2 or 3/.test(e.message),
    );
  });
});
