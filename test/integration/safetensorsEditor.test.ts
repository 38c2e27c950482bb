// In-host test of the .safetensors custom editor: an activation cache exported as `model-lens run
// --out` writes it (TransformerLens names, the tiny model's real activations) opens as the
// read-only header view, which draws one row per tensor; a broken file shows its error.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as vscode from 'vscode';
import { HookedGPT2 } from '../../src/engine/model';
import { writeSafetensors } from '../../src/engine/safetensors/write';
import { generateTinyGpt2 } from '../../src/engine/tinyGpt2';
import { SAFETENSORS_VIEW_TYPE } from '../../src/protocol/safetensors';
import { SAFETENSORS_STATE_COMMAND, type SafetensorsEditorState } from '../../src/extension/safetensorsEditor/safetensorsEditor';
import { EXTENSION_ID } from '../support/inHostModel';
import { waitUntil as until } from '../support/waitUntil';

const editorState = async (uri: vscode.Uri): Promise<SafetensorsEditorState | undefined> =>
  (await vscode.commands.executeCommand<SafetensorsEditorState[]>(SAFETENSORS_STATE_COMMAND))?.find((s) => s.uri === uri.toString());

describe('Model Lens .safetensors editor', function () {
  this.timeout(120000);
  const dir = mkdtempSync(join(tmpdir(), 'model-lens-st-'));
  const cache = join(dir, 'cache.safetensors');
  let tensorCount = 0;
  let groupCount = 0;

  before(async () => {
    await vscode.extensions.getExtension(EXTENSION_ID)!.activate();
    await generateTinyGpt2(join(dir, 'tiny'), { seed: 2 });
    const model = await HookedGPT2.fromPretrained(join(dir, 'tiny'), { threads: 1 });
    try {
      const { logits, activations } = await model.forward(Int32Array.from([50256, 464, 2068]), { names: 'blocks.*' });
      const tensors = [...activations].map(([name, t]) => ({ name, dims: t.dims, dtype: 'F32' as const, data: t.data }));
      tensors.push({ name: 'logits', dims: logits.dims, dtype: 'F32', data: logits.data });
      await writeSafetensors(cache, tensors, { format: 'pt', model: model.cfg.model_name });
      tensorCount = tensors.length;
      groupCount = new Set(tensors.map((t) => (t.name.includes('.') ? t.name.slice(0, t.name.lastIndexOf('.')) : ''))).size;
    } finally {
      await model.dispose();
    }
  });

  after(async () => {
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
    rmSync(dir, { recursive: true, force: true });
  });

  it('opens an exported cache as its header: one drawn row per tensor, grouped by module', async () => {
    const uri = vscode.Uri.file(cache);
    await vscode.commands.executeCommand('vscode.openWith', uri, SAFETENSORS_VIEW_TYPE);
    const s = await until('the editor to draw the header', async () => {
      const st = await editorState(uri);
      return st?.rendered ? st : undefined;
    });
    assert.equal(s.error, undefined);
    assert.equal(s.tensors, tensorCount);
    assert.deepEqual(s.rendered, { rows: tensorCount, groups: groupCount });
    assert.ok(tensorCount > 20, `expected every block hook, got ${tensorCount}`);
  });

  it('shows a broken file as an error naming it, and draws nothing', async () => {
    const bad = join(dir, 'broken.safetensors');
    writeFileSync(bad, Buffer.from([200, 0, 0, 0, 0, 0, 0, 0, 0x7b]));
    const uri = vscode.Uri.file(bad);
    await vscode.commands.executeCommand('vscode.openWith', uri, SAFETENSORS_VIEW_TYPE);
    const s = await until('the editor to report the error', async () => {
      const st = await editorState(uri);
      return st?.rendered ? st : undefined;
    });
    assert.match(s.error ?? '', /broken\.safetensors: header length 200 runs past the end of the file/);
    assert.deepEqual(s.rendered, { rows: 0, groups: 0 });
  });
});
