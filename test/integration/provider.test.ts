// In-host tests of modelLens.executionProvider with the tiny generated GPT-2: asking for 'cuda'
// on a machine without the CUDA provider runs on the CPU with a fallback notice that names cuda
// (status bar item and tooltip say so); 'cpu' runs on the CPU with no notice; changing the
// setting unloads the model and hides the item until the next request loads it again.
import assert from 'node:assert/strict';
import * as vscode from 'vscode';
import { ACTIVATION_COMMANDS as C } from '../../src/extension/activation/register';
import type { ProviderStatusSnapshot } from '../../src/extension/activation/providerStatus';
import type { LossHighlightOutcome } from '../../src/extension/lossHighlight/lossHighlight';
import { openText, useTinyModel, type TinyModel } from '../support/inHostModel';
import { waitUntil as until } from '../support/waitUntil';

const TEXT = 'The quick brown fox jumps over the lazy dog.';

const snapshot = async (): Promise<ProviderStatusSnapshot> =>
  (await vscode.commands.executeCommand<ProviderStatusSnapshot>(C.engineState))!;

/** Sets the provider and waits until the old model is unloaded (the status item hides). */
async function setProvider(value: string | undefined): Promise<void> {
  await vscode.workspace.getConfiguration('modelLens').update('executionProvider', value, vscode.ConfigurationTarget.Global);
  await until('the model to unload', async () => ((await snapshot()).visible ? undefined : true));
}

/** Runs a model feature (token loss highlight) on a selection, which loads the model. */
async function runModel(): Promise<void> {
  const editor = await openText(TEXT);
  editor.selection = new vscode.Selection(0, 0, 0, TEXT.length);
  const out = await vscode.commands.executeCommand<LossHighlightOutcome>(C.highlightTokenLoss);
  assert.ok(out && out.losses.length > 0 && out.losses.every(Number.isFinite), 'the model produced no losses');
  await vscode.commands.executeCommand(C.clearTokenLossHighlight);
}

describe('Model Lens execution provider setting', function () {
  this.timeout(120000);
  let tiny: TinyModel;

  before(async () => {
    tiny = await useTinyModel(5, { resetSettings: ['executionProvider'] });
  });

  after(async () => {
    await tiny.dispose();
  });

  it("'cuda' without the CUDA provider runs on the CPU, with a fallback notice naming cuda in the status bar", async function () {
    await setProvider('cuda');
    await runModel();
    const s = await snapshot();
    if (s.state?.provider === 'cuda') this.skip(); // CUDA really works here: there is no fallback to see
    assert.equal(s.visible, true);
    assert.equal(s.state?.requested, 'cuda');
    assert.equal(s.state?.provider, 'cpu');
    assert.match(s.state?.notice ?? '', /cuda unavailable: .+; falling back to cpu/);
    assert.match(s.text, /GPT-2 · cpu/);
    assert.match(s.tooltip, /Fallback: cuda unavailable/);
  });

  it("'cpu' runs on the CPU with no notice", async () => {
    await setProvider('cpu');
    await runModel();
    const s = await snapshot();
    assert.equal(s.visible, true);
    assert.equal(s.state?.requested, 'cpu');
    assert.equal(s.state?.provider, 'cpu');
    assert.equal(s.state?.notice, null);
    assert.match(s.text, /^\$\(chip\) GPT-2 · cpu$/);
    assert.doesNotMatch(s.tooltip, /Fallback/);
  });

  it('a model loaded before is read back processed from the cache (modelLens.cacheProcessedWeights), and the tooltip says so', async () => {
    // The previous test loaded this model on the CPU ('cpu'): its processed weights were written then.
    await setProvider(undefined);
    await runModel();
    const s = await snapshot();
    assert.equal(s.state?.weightsFrom, 'processed-weights cache');
    assert.match(s.tooltip, /Weights: read already processed from the cache/);
    // Switched off, the next load processes the checkpoint again.
    await vscode.workspace.getConfiguration('modelLens').update('cacheProcessedWeights', false, vscode.ConfigurationTarget.Global);
    try {
      await setProvider('cpu');
      await runModel();
      const off = await snapshot();
      assert.equal(off.state?.weightsFrom, 'checkpoint');
      assert.doesNotMatch(off.tooltip, /Weights: read/);
    } finally {
      await vscode.workspace.getConfiguration('modelLens').update('cacheProcessedWeights', undefined, vscode.ConfigurationTarget.Global);
    }
  });
});
