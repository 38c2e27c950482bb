// In-host test of the sidebar's Runs view with the tiny generated GPT-2: each activation-panel
// run is recorded (source, token count, ablations, mean loss), newest first, a repeat moves to the
// top instead of repeating, and reopening a run runs the panel again on its text with its ablations.
import assert from 'node:assert/strict';
import * as vscode from 'vscode';
import type { ActivationOutcome } from '../../src/extension/activation/activationPanel';
import { ACTIVATION_COMMANDS as C } from '../../src/extension/activation/register';
import { RUNS_COMMANDS, type RecordedRun } from '../../src/extension/sidebar/runsView';
import { tokenize } from '../../src/tokenizer';
import { openText, useTinyModel, type TinyModel } from '../support/inHostModel';
import { waitUntil as until } from '../support/waitUntil';

const TEXT = 'Runs are listed to be reopened.';
const runs = async (): Promise<RecordedRun[]> => (await vscode.commands.executeCommand<RecordedRun[]>(RUNS_COMMANDS.state)) ?? [];

describe('Runs view', function () {
  this.timeout(180000);
  let tiny: TinyModel;

  before(async () => {
    tiny = await useTinyModel(17);
    await vscode.commands.executeCommand(RUNS_COMMANDS.clear);
  });

  after(async () => {
    await tiny.dispose();
  });

  it('records runs with their ablations and reopens one with the same tokens and ablations', async () => {
    const editor = await openText(TEXT);
    const plain = await vscode.commands.executeCommand<ActivationOutcome>(C.openActivationPanel, editor.document.uri);
    assert.ok(plain);
    const ablated = await vscode.commands.executeCommand<ActivationOutcome>(C.ablate, { kind: 'head', layer: 1, index: 2 });
    assert.ok(ablated);
    const listed = await until('two runs to be listed', async () => {
      const r = await runs();
      return r.length === 2 ? r : undefined;
    });
    assert.equal(listed[0]!.tokens, tokenize(TEXT).length + 1);
    assert.deepEqual(listed[0]!.ablations, [{ kind: 'head', layer: 1, index: 2 }]);
    assert.deepEqual(listed[1]!.ablations, []);
    assert.equal(listed[0]!.text, TEXT);
    assert.ok(Math.abs(listed[0]!.meanLoss - ablated.meanLoss) < 1e-9);

    // Reopening the ablated run: a new editor with its text, the panel run with the same ablation.
    assert.equal(await vscode.commands.executeCommand<boolean>(RUNS_COMMANDS.reopen, listed[0]!.id), true);
    assert.equal(vscode.window.activeTextEditor?.document.getText(), TEXT);
    const panel = await vscode.commands.executeCommand<{ ablations: unknown[] }>(C.panelState);
    assert.deepEqual(panel!.ablations, [{ kind: 'head', layer: 1, index: 2 }]);
    // The repeat moved to the top; nothing was duplicated.
    const after = await until('the reopened run to be recorded', async () => {
      const r = await runs();
      return r[0]!.id !== listed[0]!.id ? r : undefined;
    });
    assert.equal(after.length, 2);
    assert.ok(Math.abs(after[0]!.meanLoss - ablated.meanLoss) < 1e-5);
  });
});
