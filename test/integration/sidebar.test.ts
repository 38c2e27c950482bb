// In-host tests of the Model Lens sidebar with the tiny generated GPT-2 as the extension's
// model: before loading, the Model view offers Load; after, it shows the config and the
// parameter count (checked against the weights the engine holds for that folder), the Modules
// view nests hooks as TransformerLens does with shapes for the selection's length, Copy Name
// puts a hook's name on the clipboard, and the Weights view lists every parameter with its shape.
import assert from 'node:assert/strict';
import * as vscode from 'vscode';
import { loadCheckpoint } from '../../src/engine/checkpoint/load';
import { namedWeights } from '../../src/engine/modelInfo';
import { processWeights } from '../../src/engine/processing';
import { DEFAULT_PROCESSING } from '../../src/engine/types';
import { tokenize } from '../../src/tokenizer';
import { SIDEBAR_COMMANDS, type SidebarState } from '../../src/extension/sidebar/sidebar';
import type { SidebarNode } from '../../src/extension/sidebar/sidebarNodes';
import { openText, useTinyModel, type TinyModel } from '../support/inHostModel';
import { waitUntil as until } from '../support/waitUntil';

const TEXT = 'Hook shapes follow the selection.';

const state = async (): Promise<SidebarState> => (await vscode.commands.executeCommand<SidebarState>(SIDEBAR_COMMANDS.state))!;

function find(nodes: readonly SidebarNode[], ...path: string[]): SidebarNode {
  let here: readonly SidebarNode[] = nodes;
  let found: SidebarNode | undefined;
  for (const label of path) {
    found = here.find((n) => n.label === label);
    assert.ok(found, `no node '${label}' (path ${path.join(' > ')}); have ${here.map((n) => n.label).join(', ')}`);
    here = found.children ?? [];
  }
  return found!;
}

describe('Model Lens sidebar', function () {
  this.timeout(120000);
  let tiny: TinyModel;

  before(async () => {
    tiny = await useTinyModel(11);
  });

  after(async () => {
    await tiny.dispose();
  });

  it('offers Load for the configured model, then shows config, parameter count, hooks with shapes and weights', async () => {
    // Pointing modelLens.model at the folder unloads any model an earlier suite loaded.
    const before = await until('the Model view to show the configured model, not loaded', async () => {
      const s = await state();
      return s.model[0]?.description === 'configured, not loaded' ? s : undefined;
    });
    assert.equal(before.model[0]!.label, tiny.dir);
    assert.equal(find(before.model, 'Load model').command, SIDEBAR_COMMANDS.load);
    assert.deepEqual(before.modules, []);
    assert.deepEqual(before.weights, []);

    await vscode.commands.executeCommand(SIDEBAR_COMMANDS.load);
    const s = await until('the model to load', async () => {
      const st = await state();
      return st.weights.length > 0 ? st : undefined;
    });

    // The count is what the engine holds for this folder after from_pretrained's processing.
    const ckpt = await loadCheckpoint(tiny.dir);
    const { weights } = processWeights(ckpt.cfg, ckpt.weights, DEFAULT_PROCESSING);
    const held = namedWeights(weights);
    const total = held.reduce((sum, [, t]) => sum + t.data.length, 0);
    assert.equal(find(s.model, 'Parameters').description, total.toLocaleString('en-US'));
    assert.equal(find(s.model, 'Config', 'normalization_type').description, "'LNPre'");
    assert.equal(find(s.model, 'Config', 'act_fn').description, "'gelu_new'");
    assert.equal(find(s.model, 'Config', 'n_params').description, String(2 * (64 * 64 * 4) + 2 * 64 * 256 * 2));
    assert.equal(find(s.model, 'Processing').description, 'from_pretrained');
    // modelLens.dtype is fp32 here: the row and the config say the same.
    assert.equal(find(s.model, 'dtype').description, 'float32');
    assert.equal(find(s.model, 'Config', 'dtype').description, 'torch.float32');
    assert.match(find(s.model, 'Provider').description ?? '', /^(cpu|webgpu|cuda)/);

    // Modules: TransformerLens's nesting, symbolic shapes with no selection.
    assert.deepEqual(
      s.modules.map((n) => n.label),
      ['embed', 'hook_embed', 'pos_embed', 'hook_pos_embed', 'blocks', 'ln_final', 'unembed'],
    );
    assert.equal(find(s.modules, 'blocks', '1', 'ln1').description, 'LayerNormPre');
    const pattern = find(s.modules, 'blocks', '0', 'attn', 'hook_pattern');
    assert.equal(pattern.name, 'blocks.0.attn.hook_pattern');
    assert.equal(pattern.description, '[batch, 4, pos, pos]');
    assert.match(find(s.modules, 'blocks', '0', 'attn', 'hook_result').description ?? '', /flag-gated, off/);
    assert.equal(find(s.modules, 'blocks', '0', 'attn', 'W_Q').description, '[4, 64, 16]');

    // Weights: every parameter the engine holds, by name, with its shape.
    assert.deepEqual(
      s.weights.filter((n) => n.contextValue === 'modelLens.weight').map((n) => [n.name, n.description]),
      held.map(([name, t]) => [name, `[${t.dims.join(', ')}]`]),
    );
    assert.equal(find(s.weights, 'Factored circuits', 'blocks.1.attn.OV').description, '[4, 64, 64] = W_V @ W_O');
    assert.equal(find(s.weights, 'Factored circuits', 'blocks.0.attn.QK').description, '[4, 64, 64] = W_Q @ W_K^T');

    // Copy Name from the context menu.
    const copied = await vscode.commands.executeCommand<string>(SIDEBAR_COMMANDS.copyName, pattern);
    assert.equal(copied, 'blocks.0.attn.hook_pattern');
    assert.equal(await vscode.env.clipboard.readText(), 'blocks.0.attn.hook_pattern');
  });

  it("shows hook shapes for the selection's token count, BOS included", async () => {
    const editor = await openText(TEXT);
    editor.selection = new vscode.Selection(0, 0, 0, TEXT.length);
    const pos = tokenize(TEXT).length + 1;
    const s = await state();
    assert.equal(s.pos, pos);
    assert.equal(find(s.modules, 'blocks', '0', 'attn', 'hook_pattern').description, `[1, 4, ${pos}, ${pos}]`);
    assert.equal(find(s.modules, 'blocks', '1', 'mlp', 'hook_post').description, `[1, ${pos}, 256]`);
    assert.equal(find(s.modules, 'hook_embed').description, `[1, ${pos}, 64]`);
  });
});
