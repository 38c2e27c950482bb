// In-host tests of the tensor view and the sidebar's tree actions with the tiny generated GPT-2:
// a weight and one head's OV circuit open from the Weights tree's command with TransformerLens's
// axis names and are drawn; a hook opens and exports for the selection (shape from the
// selection's token count), the exported file's tensor opens in the tensor view through the
// .safetensors editor's command with the same statistics; Nearest Tokens equals a direct float64
// cosine over the weights the engine holds; the Model view shows memory.
import assert from 'node:assert/strict';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import * as vscode from 'vscode';
import { loadCheckpoint } from '../../src/engine/checkpoint/load';
import { processWeights } from '../../src/engine/processing';
import { readSafetensors } from '../../src/engine/safetensors/read';
import { DEFAULT_PROCESSING, type GPT2Weights } from '../../src/engine/types';
import { tokenize } from '../../src/tokenizer';
import { SIDEBAR_COMMANDS, type SidebarState } from '../../src/extension/sidebar/sidebar';
import { TENSOR_COMMANDS } from '../../src/extension/tensorView/commandIds';
import type { NearestResult } from '../../src/extension/tensorView/nearestTokens';
import type { TensorViewState } from '../../src/extension/tensorView/tensorView';
import { openText, useTinyModel, type TinyModel } from '../support/inHostModel';
import { waitUntil as until } from '../support/waitUntil';

const TEXT = 'The tensor view reads this selection.';

const views = async (): Promise<TensorViewState[]> =>
  (await vscode.commands.executeCommand<TensorViewState[]>(TENSOR_COMMANDS.state)) ?? [];

/** Waits until the view titled `title` has drawn its heatmap window. */
const drawn = (title: string): Promise<TensorViewState> =>
  until(`the tensor view of ${title} to draw`, async () => (await views()).find((v) => v.title === title && v.rendered !== undefined));

describe('tensor view and tree actions', function () {
  this.timeout(180000);
  let tiny: TinyModel;
  let weights: GPT2Weights;

  before(async () => {
    tiny = await useTinyModel(13);
    const ckpt = await loadCheckpoint(tiny.dir);
    weights = processWeights(ckpt.cfg, ckpt.weights, DEFAULT_PROCESSING).weights;
    await vscode.commands.executeCommand(SIDEBAR_COMMANDS.load);
  });

  after(async () => {
    await tiny.dispose();
  });

  it('the Weights tree opens a weight and a head circuit in the tensor view, drawn, with TransformerLens axis names', async () => {
    const s = await until('the sidebar to list weights', async () => {
      const st = await vscode.commands.executeCommand<SidebarState>(SIDEBAR_COMMANDS.state);
      return st && st.weights.length > 0 ? st : undefined;
    });
    const wq = s.weights.find((n) => n.name === 'blocks.0.attn.W_Q')!;
    assert.equal(wq.command, TENSOR_COMMANDS.openWeight);
    const ov = s.weights.find((n) => n.id === 'circuits')!.children!.find((n) => n.name === 'blocks.1.attn.OV')!;
    assert.equal(ov.children!.length, 4);
    assert.equal(ov.children![2]!.name, 'blocks.1.attn.OV[2]');

    // The tree runs the command with the node as its argument.
    const opened = await vscode.commands.executeCommand<TensorViewState>(TENSOR_COMMANDS.openWeight, wq);
    assert.deepEqual(opened!.dims, [4, 64, 16]);
    assert.deepEqual(opened!.axisNames, ['head_index', 'd_model', 'd_head']);
    const data = weights.blocks[0]!.W_Q.data;
    const mean = data.reduce((a, b) => a + b, 0) / data.length;
    assert.ok(Math.abs(opened!.stats.mean! - mean) < 1e-6, `${opened!.stats.mean} vs ${mean}`);
    const w = await drawn('blocks.0.attn.W_Q');
    assert.deepEqual([w.rendered!.rows, w.rendered!.cols], [64, 16]);

    const circuit = await vscode.commands.executeCommand<TensorViewState>(TENSOR_COMMANDS.openWeight, ov.children![2]);
    assert.deepEqual(circuit!.dims, [64, 64]);
    assert.equal((await drawn('blocks.1.attn.OV[2]')).rendered!.rows, 64);

    // The circuit's view asks for its singular directions as it opens: σ₁ equals the spectral norm of
    // the dense W_V[2]·W_O[2] made here in float64 (power iteration), and the σ² sum within ‖M‖²_F.
    const dirs = (
      await until('the OV view to list its singular directions', async () =>
        (await views()).find((v) => v.title === 'blocks.1.attn.OV[2]' && v.directions !== undefined),
      )
    ).directions!;
    assert.equal(dirs.which, 'OV');
    assert.equal(dirs.directions.length, 8);
    const [, d, dh] = weights.blocks[1]!.W_V.dims as [number, number, number];
    const V = weights.blocks[1]!.W_V.data;
    const O = weights.blocks[1]!.W_O.data;
    const M = new Float64Array(d * d);
    for (let i = 0; i < d; i++)
      for (let j = 0; j < d; j++) for (let k = 0; k < dh; k++) M[i * d + j]! += V[(2 * d + i) * dh + k]! * O[(2 * dh + k) * d + j]!;
    let x = Float64Array.from({ length: d }, (_, i) => 1 + (i % 7));
    let sigma1 = 0;
    for (let it = 0; it < 500; it++) {
      const y = Float64Array.from({ length: d }, (_, i) => x.reduce((a, xj, j) => a + M[i * d + j]! * xj, 0));
      const z = Float64Array.from({ length: d }, (_, j) => y.reduce((a, yi, i) => a + M[i * d + j]! * yi, 0));
      const n = Math.hypot(...z);
      sigma1 = Math.sqrt(n);
      x = z.map((e) => e / n);
    }
    const s1 = dirs.directions[0]!.sigma;
    assert.ok(Math.abs(s1 - sigma1) < 1e-6 * sigma1, `σ₁ ${s1} vs power iteration ${sigma1}`);
    const frob = M.reduce((a, e) => a + e * e, 0);
    const sumSq = dirs.directions.reduce((a, e) => a + e.sigma ** 2, 0);
    assert.ok(sumSq <= frob * (1 + 1e-9), `Σσ² ${sumSq} within ‖M‖²_F ${frob}`);
    for (const [i, e] of dirs.directions.entries()) {
      if (i > 0) assert.ok(e.sigma <= dirs.directions[i - 1]!.sigma);
      assert.equal(e.inputTop.length, 8);
      assert.ok(e.outputTop.every((t, j) => j === 0 || t.value <= e.outputTop[j - 1]!.value));
      assert.ok(e.inputTop[0]!.value > e.inputBottom[0]!.value);
    }
  });

  it('a hook opens and exports for the selection; the exported tensor opens from its file with the same statistics', async () => {
    const editor = await openText(TEXT);
    editor.selection = new vscode.Selection(0, 0, 0, TEXT.length);
    const pos = tokenize(TEXT).length + 1;
    const hook = await vscode.commands.executeCommand<TensorViewState>(TENSOR_COMMANDS.openHook, { name: 'blocks.1.attn.hook_pattern' });
    assert.deepEqual(hook!.dims, [1, 4, pos, pos]);
    assert.deepEqual(hook!.axisNames, ['batch', 'head_index', 'query_pos', 'key_pos']);
    // Attention rows sum to one: the mean over [pos, pos] rows is 1/pos per entry.
    assert.ok(Math.abs(hook!.stats.mean! - 1 / pos) < 1e-5);
    assert.equal((await drawn('blocks.1.attn.hook_pattern')).rendered!.cols, pos);
    // A flag-gated hook does not fire: the command says so and leaves no empty view behind.
    assert.equal(await vscode.commands.executeCommand(TENSOR_COMMANDS.openHook, 'blocks.0.attn.hook_result'), undefined);
    assert.ok(!(await views()).some((v) => v.title === 'blocks.0.attn.hook_result'));

    await vscode.window.showTextDocument(editor.document, vscode.ViewColumn.One);
    await until('the text editor to be active again', () =>
      vscode.window.activeTextEditor?.document === editor.document ? true : undefined,
    );
    editor.selection = new vscode.Selection(0, 0, 0, TEXT.length);
    const path = join(tiny.dir, 'hook_q.safetensors');
    const written = await vscode.commands.executeCommand<string>(TENSOR_COMMANDS.exportHook, 'blocks.0.attn.hook_q', path);
    assert.equal(written, path);
    const file = await readSafetensors(path);
    assert.deepEqual(file.tensors.get('blocks.0.attn.hook_q')!.dims, [1, pos, 4, 16]);

    const fromFile = await vscode.commands.executeCommand<TensorViewState>(
      TENSOR_COMMANDS.openFileTensor,
      vscode.Uri.file(path),
      'blocks.0.attn.hook_q',
    );
    assert.equal(fromFile!.dtype, 'F32');
    assert.deepEqual(fromFile!.axisNames, ['batch', 'pos', 'head_index', 'd_head']);
    const direct = await file.getTensor('blocks.0.attn.hook_q');
    const mean = direct.data.reduce((a, b) => a + b, 0) / direct.data.length;
    assert.ok(Math.abs(fromFile!.stats.mean! - mean) < 1e-6);
    rmSync(path);
    assert.ok(!existsSync(path));
  });

  it('Nearest Tokens equals a direct float64 cosine over the engine-held W_E and W_U', async () => {
    const token = 2068; // " quick"
    const r = await vscode.commands.executeCommand<NearestResult>(TENSOR_COMMANDS.nearestTokens, token);
    await vscode.commands.executeCommand('workbench.action.closeQuickOpen');
    assert.equal(r!.W_E.length, 20);
    const cosine = (rows: boolean, a: number, b: number): number => {
      const m = rows ? weights.W_E : weights.W_U;
      const [R, C] = m.dims as [number, number];
      const d = rows ? C : R;
      const at = (v: number, j: number): number => (rows ? m.data[v * C + j]! : m.data[j * C + v]!);
      let dot = 0;
      let na = 0;
      let nb = 0;
      for (let j = 0; j < d; j++) {
        dot += at(a, j) * at(b, j);
        na += at(a, j) ** 2;
        nb += at(b, j) ** 2;
      }
      return dot / Math.sqrt(na * nb);
    };
    for (const n of r!.W_E) assert.ok(Math.abs(n.cos - cosine(true, token, n.id)) < 1e-5);
    for (const n of r!.W_U) assert.ok(Math.abs(n.cos - cosine(false, token, n.id)) < 1e-5);
    // Sorted, nearest first.
    assert.ok(r!.W_E.every((n, i) => i === 0 || n.cos <= r!.W_E[i - 1]!.cos));
  });

  it('the Model view shows the memory the engine reports', async () => {
    const s = await vscode.commands.executeCommand<SidebarState>(SIDEBAR_COMMANDS.state);
    const mem = s!.model.find((n) => n.id === 'memory');
    assert.ok(mem, `no Memory node in ${s!.model.map((n) => n.label).join(', ')}`);
    assert.match(mem.description ?? '', /^\d+ MiB resident$/);
  });
});
