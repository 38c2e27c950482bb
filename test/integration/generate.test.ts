// In-host tests of "Model Lens: Continue Text" against the tiny generated GPT-2: tokens stream
// into the document (greedy equals the argmax of HookedGPT2 run directly), the whole continuation
// is one undo step, a generated token has its hover until the text is edited, and cancelling,
// editing or switching the model during generation stops it with nothing written afterwards.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as vscode from 'vscode';
import { HookedGPT2 } from '../../src/engine/model';
import type { ContinueOutcome } from '../../src/extension/generate/continueText';
import { generateTinyGpt2 } from '../../src/engine/tinyGpt2';
import { encode } from '../../src/tokenizer';
import { openText, useTinyModel, type TinyModel } from '../support/inHostModel';
import { waitUntil as until } from '../support/waitUntil';

const CONTINUE = 'modelLens.continueText';
const CANCEL = 'modelLens.continueText.cancel';
const SHOWN = 'modelLens.continueText.shown';
const PROMPT = 'The quick brown fox jumps over the lazy dog';

async function setGenerate(key: string, value: unknown): Promise<void> {
  await vscode.workspace.getConfiguration('modelLens.generate').update(key, value, vscode.ConfigurationTarget.Global);
}

function hoverText(hovers: vscode.Hover[]): string {
  return hovers
    .flatMap((h) => h.contents)
    .map((c) => (typeof c === 'string' ? c : c.value))
    .join('\n');
}

describe('Model Lens: Continue Text', function () {
  this.timeout(120000);
  let tiny: TinyModel;
  let model: HookedGPT2;

  before(async () => {
    tiny = await useTinyModel(5, { resetSettings: ['generate.maxNewTokens', 'generate.temperature', 'generate.topK', 'generate.seed'] });
    model = await HookedGPT2.fromPretrained(tiny.dir, { threads: 1 });
  });
  after(async () => {
    await model.dispose();
    await tiny.dispose();
  });
  afterEach(async () => {
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
  });

  it('streams greedy tokens into the document at the cursor, equal to the argmax of full forwards; one undo removes them all', async () => {
    await setGenerate('temperature', 0);
    await setGenerate('maxNewTokens', 8);
    const editor = await openText(PROMPT);
    const doc = editor.document;
    editor.selection = new vscode.Selection(doc.positionAt(PROMPT.length), doc.positionAt(PROMPT.length));
    let changes = 0;
    const sub = vscode.workspace.onDidChangeTextDocument((e) => {
      if (e.document === doc && e.contentChanges.length > 0) changes++;
    });
    const out = await vscode.commands.executeCommand<ContinueOutcome>(CONTINUE);
    sub.dispose();
    assert.ok(out, 'no outcome');
    assert.equal(out.stop, 'maxNewTokens');
    assert.equal(out.tokens.length, 8);
    assert.equal(doc.getText(), PROMPT + out.text);
    assert.ok(changes > 1, `the text arrived in ${changes} edit(s), not streamed`);
    // Independent check: greedy = argmax of a full forward at each step.
    const seq = [50256, ...encode(PROMPT)];
    for (const t of out.tokens) {
      const row = (await model.run(seq, { logitsAt: 'last' })).data;
      let best = 0;
      for (let i = 1; i < row.length; i++) if (row[i]! > row[best]!) best = i;
      assert.equal(t.id, best);
      seq.push(best);
    }
    await vscode.commands.executeCommand('undo');
    assert.equal(doc.getText(), PROMPT, 'one undo removes the whole continuation');
  });

  it('a generated token has a hover with its probability, rank and the top 5, until the text is edited', async () => {
    await setGenerate('temperature', 1);
    await setGenerate('topK', 50);
    await setGenerate('seed', 4);
    await setGenerate('maxNewTokens', 6);
    const editor = await openText(`${PROMPT}\n`);
    const doc = editor.document;
    editor.selection = new vscode.Selection(doc.positionAt(PROMPT.length), doc.positionAt(PROMPT.length));
    const out = await vscode.commands.executeCommand<ContinueOutcome>(CONTINUE);
    assert.ok(out && out.tokens.length > 0);
    const shown = await vscode.commands.executeCommand<{ start: number; end: number; token: { prob: number; rank: number } }[]>(SHOWN);
    assert.ok(shown.length > 0, 'no generated tokens shown');
    const first = shown[0]!;
    assert.equal(first.start, PROMPT.length);
    const hovers = await vscode.commands.executeCommand<vscode.Hover[]>(
      'vscode.executeHoverProvider',
      doc.uri,
      doc.positionAt(first.start),
    );
    const text = hoverText(hovers);
    assert.match(text, /Model Lens generated/);
    assert.match(text, new RegExp(`rank ${first.token.rank}\\b`));
    assert.equal((text.match(/^\| [1-5] \|/gm) ?? []).length, 5, 'five alternatives');
    // Same seed, same text: undo and run again.
    await vscode.commands.executeCommand('undo');
    const again = await vscode.commands.executeCommand<ContinueOutcome>(CONTINUE);
    assert.equal(again.text, out.text);
    // An edit drops the colours and hovers.
    await editor.edit((b) => b.insert(doc.positionAt(0), 'x'));
    assert.equal((await vscode.commands.executeCommand<unknown[]>(SHOWN)).length, 0);
    const after = await vscode.commands.executeCommand<vscode.Hover[]>(
      'vscode.executeHoverProvider',
      doc.uri,
      doc.positionAt(first.start + 1),
    );
    assert.doesNotMatch(hoverText(after), /Model Lens generated/);
  });

  it('cancel stops the stream; nothing is written afterwards', async () => {
    await setGenerate('temperature', 1);
    await setGenerate('maxNewTokens', 1000);
    const editor = await openText(PROMPT);
    const doc = editor.document;
    editor.selection = new vscode.Selection(doc.positionAt(PROMPT.length), doc.positionAt(PROMPT.length));
    const running = vscode.commands.executeCommand<ContinueOutcome>(CONTINUE);
    await until('the first tokens', () => (doc.getText().length > PROMPT.length ? true : undefined));
    await vscode.commands.executeCommand(CANCEL);
    const out = await running;
    assert.equal(out.stop, 'cancelled');
    assert.ok(out.tokens.length > 0 && out.tokens.length < 1000, `${out.tokens.length} tokens`);
    const text = doc.getText();
    assert.equal(text, PROMPT + out.text);
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(doc.getText(), text, 'no token landed after the cancel');
  });

  it('an edit during generation stops it cleanly, without writing over the edit', async () => {
    await setGenerate('temperature', 1);
    await setGenerate('maxNewTokens', 1000);
    const editor = await openText(PROMPT);
    const doc = editor.document;
    editor.selection = new vscode.Selection(doc.positionAt(PROMPT.length), doc.positionAt(PROMPT.length));
    const running = vscode.commands.executeCommand<ContinueOutcome>(CONTINUE);
    await until('the first tokens', () => (doc.getText().length > PROMPT.length ? true : undefined));
    // Typing, as the user does (editor.edit or a workspace edit from here would be refused while the stream changes the version).
    editor.selection = new vscode.Selection(0, 0, 0, 0);
    await vscode.commands.executeCommand('type', { text: 'EDIT ' });
    const out = await running;
    assert.equal(out.stop, 'edited');
    const text = doc.getText();
    assert.ok(text.startsWith(`EDIT ${PROMPT}`), text.slice(0, 80));
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(doc.getText(), text, 'no token landed after the edit');
  });

  it('switching the model during generation stops it cleanly: nothing more lands, no error dialog', async () => {
    await setGenerate('temperature', 1);
    await setGenerate('maxNewTokens', 1000);
    const other = mkdtempSync(join(tmpdir(), 'model-lens-tiny-other-'));
    await generateTinyGpt2(other, { seed: 6 });
    const errors: string[] = [];
    const showErrorMessage = vscode.window.showErrorMessage;
    // The extension's vscode API object is this one (the tests are loaded from the extension's folder).
    (vscode.window as { showErrorMessage: unknown }).showErrorMessage = (message: string, ...rest: unknown[]) => {
      errors.push(message);
      return (showErrorMessage as (m: string, ...r: unknown[]) => Thenable<unknown>)(message, ...rest);
    };
    try {
      const editor = await openText(PROMPT);
      const doc = editor.document;
      // The spy sees the extension's dialogs: a bad setting's error is one.
      await setGenerate('maxNewTokens', 0);
      await vscode.commands.executeCommand(CONTINUE);
      assert.equal(errors.length, 1, `the spy did not see the bad setting's error: ${JSON.stringify(errors)}`);
      errors.length = 0;
      await setGenerate('maxNewTokens', 1000);

      editor.selection = new vscode.Selection(doc.positionAt(PROMPT.length), doc.positionAt(PROMPT.length));
      const running = vscode.commands.executeCommand<ContinueOutcome>(CONTINUE);
      await until('the first tokens', () => (doc.getText().length > PROMPT.length ? true : undefined));
      await vscode.workspace.getConfiguration('modelLens').update('model', other, vscode.ConfigurationTarget.Global);
      const out = await running;
      assert.equal(out.stop, 'modelChanged', `stopped with '${out.stop}'${out.message ? `: ${out.message}` : ''}`);
      assert.ok(out.tokens.length > 0 && out.tokens.length < 1000, `${out.tokens.length} tokens`);
      const text = doc.getText();
      assert.equal(text, PROMPT + out.text, 'the document holds the prompt and what streamed before the switch');
      await new Promise((r) => setTimeout(r, 500));
      assert.equal(doc.getText(), text, 'no token landed after the switch');
      assert.deepEqual(errors, [], 'no error dialog');
    } finally {
      (vscode.window as { showErrorMessage: unknown }).showErrorMessage = showErrorMessage;
      await vscode.workspace.getConfiguration('modelLens').update('model', tiny.dir, vscode.ConfigurationTarget.Global);
      rmSync(other, { recursive: true, force: true });
    }
  });
});
