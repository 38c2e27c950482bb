// The .safetensors editor's data: a header summary grouped by module, from the checked header only.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile, truncate, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeSafetensors } from '../../src/engine/safetensors/write';
import { moduleOf, summarizeSafetensorsFile } from '../../src/engine/safetensors/summary';
import { SafetensorsError } from '../../src/engine/safetensors/read';
import { safetensorsHostSchemas } from '../../src/protocol/safetensors';
import { validateEnvelope } from '../../src/protocol/envelope';

let dir = '';
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ml-st-summary-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

test('groups TransformerLens names by module in file order, with dtype, shape, bytes and metadata', async () => {
  const path = join(dir, 'cache.safetensors');
  const f = (n: number): Float32Array => new Float32Array(n).fill(0.5);
  await writeSafetensors(
    path,
    [
      { name: 'hook_embed', dims: [1, 3, 8], dtype: 'F32', data: f(24) },
      { name: 'blocks.0.attn.hook_pattern', dims: [1, 2, 3, 3], dtype: 'F32', data: f(18) },
      { name: 'blocks.0.attn.hook_z', dims: [1, 3, 2, 4], dtype: 'F16', data: f(24) },
      { name: 'blocks.0.hook_resid_post', dims: [1, 3, 8], dtype: 'BF16', data: f(24) },
      { name: 'logits', dims: [1, 3, 5], dtype: 'F32', data: f(15) },
    ],
    { format: 'pt', model: 'tiny' },
  );
  const s = await summarizeSafetensorsFile(path);
  assert.equal(s.tensorCount, 5);
  assert.equal(s.fileBytes, (await stat(path)).size);
  assert.equal(s.dataBytes, 24 * 4 + 18 * 4 + 24 * 2 + 24 * 2 + 15 * 4);
  assert.deepEqual(s.metadata, [
    ['format', 'pt'],
    ['model', 'tiny'],
  ]);
  assert.deepEqual(
    s.groups.map((g) => [g.module, g.tensors.map((t) => t.name)]),
    [
      ['', ['hook_embed', 'logits']],
      ['blocks.0.attn', ['blocks.0.attn.hook_pattern', 'blocks.0.attn.hook_z']],
      ['blocks.0', ['blocks.0.hook_resid_post']],
    ],
  );
  const z = s.groups[1]!.tensors[1]!;
  assert.deepEqual([z.dtype, z.shape, z.bytes], ['F16', [1, 3, 2, 4], 48]);
  // What the host posts passes the webview's own validation.
  assert.doesNotThrow(() =>
    validateEnvelope({ id: 1, body: { type: 'st/header', fileName: 'cache.safetensors', summary: s } }, safetensorsHostSchemas),
  );
  assert.throws(
    () =>
      validateEnvelope(
        { id: 1, body: { type: 'st/header', fileName: 'x', summary: { ...s, groups: [{ module: 1 }] } } },
        safetensorsHostSchemas,
      ),
    /field summary/,
  );
  assert.equal(moduleOf('blocks.11.mlp.hook_post'), 'blocks.11.mlp');
});

test('a truncated file or a bad header is refused with the file named', async () => {
  const path = join(dir, 'cut.safetensors');
  await writeSafetensors(path, [{ name: 'w', dims: [64], dtype: 'F32', data: new Float32Array(64) }]);
  await truncate(path, (await stat(path)).size - 10);
  await assert.rejects(summarizeSafetensorsFile(path), (e: unknown) => e instanceof SafetensorsError && e.message.startsWith(path));
  const junk = join(dir, 'junk.safetensors');
  await writeFile(junk, Buffer.from([5, 0, 0, 0, 0, 0, 0, 0, 0x7b, 0x7b, 0x7b, 0x7b, 0x7b]));
  await assert.rejects(summarizeSafetensorsFile(junk), (e: unknown) => e instanceof SafetensorsError && e.message.startsWith(junk));
});
