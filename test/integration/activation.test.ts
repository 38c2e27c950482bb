// In-host tests of the model-backed features against a tiny generated GPT-2 in a local folder
// (modelLens.model points at it; no network): the activation panel's run matches HookedGPT2 run
// directly, ablation changes the loss, cancellation (second request, panel closed mid-run),
// cache export, inline logits that never show a stale result, and the token loss highlight.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as vscode from 'vscode';
import { HookedGPT2 } from '../../src/engine/model';
import type { ActivationOutcome } from '../../src/extension/activation/activationPanel';
import { ACTIVATION_COMMANDS as C } from '../../src/extension/activation/register';
import type { InlineLogitsState } from '../../src/extension/inlineLogits/inlineLogits';
import type { LossHighlightOutcome } from '../../src/extension/lossHighlight/lossHighlight';
import { openText, useTinyModel, type TinyModel } from '../support/inHostModel';
import { waitFor, waitUntil as until } from '../support/waitUntil';

const TEXT = 'The quick brown fox jumps over the lazy dog because it can.';

function meanLoss(logits: Float32Array, V: number, ids: readonly number[]): number {
  let total = 0;
  for (let p = 0; p + 1 < ids.length; p++) {
    let max = -Infinity;
    for (let v = 0; v < V; v++) max = Math.max(max, logits[p * V + v]!);
    let s = 0;
    for (let v = 0; v < V; v++) s += Math.exp(logits[p * V + v]! - max);
    total += max + Math.log(s) - logits[p * V + ids[p + 1]!]!;
  }
  return total / (ids.length - 1);
}

describe('Model Lens activation panel and inline logits', function () {
  this.timeout(120000);
  let tiny: TinyModel;
  let dir: string;
  let model: HookedGPT2;

  before(async () => {
    tiny = await useTinyModel(3, { resetSettings: ['inlineLogits.enabled'] });
    dir = tiny.dir;
    model = await HookedGPT2.fromPretrained(dir, { threads: 1 });
  });

  after(async () => {
    await model.dispose();
    await tiny.dispose();
  });

  afterEach(async () => {
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
    // The command returns before every close has reached this host: a panel still being disposed
    // when the next test opens it would be reused and then go, ending that test's runs quietly.
    await waitFor('every editor and panel closed', () => vscode.window.tabGroups.all.every((g) => g.tabs.length === 0));
  });

  it('runs the selection; the loss equals HookedGPT2 run directly; ablating a head changes it; reset restores it', async () => {
    const editor = await openText(`header line\n${TEXT}\n`);
    const line = editor.document.lineAt(1).range;
    editor.selection = new vscode.Selection(line.start, line.end);
    const out = await vscode.commands.executeCommand<ActivationOutcome>(C.openActivationPanel, editor.document.uri);
    assert.ok(out, 'the panel run produced no outcome');
    assert.equal(out.tokens[0], 50256);
    const direct = await model.run(out.tokens);
    const want = meanLoss(direct.data, direct.dims[2]!, out.tokens);
    assert.ok(Math.abs(out.meanLoss - want) < 1e-3, `mean loss ${out.meanLoss} vs direct ${want}`);

    const ablated = await vscode.commands.executeCommand<ActivationOutcome>(C.ablate, { kind: 'head', layer: 0, index: 1 });
    assert.ok(ablated);
    assert.ok(Math.abs(ablated.meanLoss - out.meanLoss) > 1e-6, 'ablating L0H1 did not change the loss');
    const directAblated = await model.runWithInterventions(out.tokens, [{ kind: 'ablateHeads', layer: 0, heads: [1] }]);
    assert.ok(Math.abs(ablated.meanLoss - meanLoss(directAblated.logits.data, 50257, out.tokens)) < 1e-3);
    const reset = await vscode.commands.executeCommand<ActivationOutcome>(C.reset);
    assert.ok(reset && Math.abs(reset.meanLoss - out.meanLoss) < 1e-5);

    // The current view as PNG: the webview draws it, the host writes the file.
    const png = join(dir, 'view.png');
    const written = await until('a PNG of the view', async () => {
      try {
        return (await vscode.commands.executeCommand<string | undefined>(C.exportActivationView, png)) ?? undefined;
      } catch {
        return undefined;
      }
    });
    assert.equal(written, png);
    assert.deepEqual([...readFileSync(png).subarray(0, 4)], [0x89, 0x50, 0x4e, 0x47]);
  });

  it('a second request while the first runs cancels the first without an error; closing the panel mid-run is quiet', async () => {
    const editor = await openText(TEXT.repeat(20));
    editor.selection = new vscode.Selection(0, 0, 0, 0);
    // With the document's URI, as the context menu passes it: the panel that the first request
    // opens may take focus before the second request reads the active editor.
    const first = vscode.commands.executeCommand<ActivationOutcome | undefined>(C.openActivationPanel, editor.document.uri);
    const second = vscode.commands.executeCommand<ActivationOutcome | undefined>(C.openActivationPanel, editor.document.uri);
    const [a, b] = await Promise.all([first, second]);
    // How each request ended, for the message if the second shows nothing (it once did in CI).
    const ends = (await vscode.commands.executeCommand<{ runEnds: readonly string[] }>(C.panelState)).runEnds.join('; ');
    assert.equal(a, undefined, `the superseded run still reported a result (${ends})`);
    assert.ok(b !== undefined, `the second request showed nothing: ${ends}`);
    assert.ok(b.tokens.length > 100, `the second request ran on ${b.tokens.length} tokens, not the document: ${ends}`);

    const third = vscode.commands.executeCommand<ActivationOutcome | undefined>(C.openActivationPanel, editor.document.uri);
    await new Promise((r) => setTimeout(r, 30));
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
    const shown = await third;
    // Closed mid-run, the run ends quietly (cancelled, or dropped as the panel is gone) and shows
    // nothing. On a loaded tiny model a run can also finish inside the 30 ms before the close
    // arrives (CI, 1 run in 7): then it showed its result, and said so. Either way, no error.
    const end = (await vscode.commands.executeCommand<{ runEnds: readonly string[] }>(C.panelState)).runEnds.at(-1) ?? '';
    if (end.includes(': shown: '))
      assert.ok(shown !== undefined && shown.tokens.length > 100, `shown, but the outcome says otherwise: ${end}`);
    else {
      assert.match(end, /: (the panel was closed|cancelled)/, 'the run closed mid-way did not end quietly');
      assert.equal(shown, undefined, `the run closed mid-way reported a result: ${end}`);
    }
  });

  it('truncates past n_ctx with a notice, and exports the cache with TransformerLens names', async () => {
    const editor = await openText('token '.repeat(1100));
    editor.selection = new vscode.Selection(0, 0, 0, 0);
    // The document's URI, as the context menu passes it: the panel must run on this editor even
    // if a webview from an earlier test took focus meanwhile.
    const out = await vscode.commands.executeCommand<ActivationOutcome>(C.openActivationPanel, editor.document.uri);
    assert.ok(out);
    assert.equal(out.tokens.length, 1024);
    assert.equal(out.truncated, true);
    const file = join(dir, 'export.safetensors');
    const written = await vscode.commands.executeCommand<string>(C.exportActivationCache, file);
    assert.equal(written, file);
    const bytes = readFileSync(file);
    const header = JSON.parse(bytes.subarray(8, 8 + Number(bytes.readBigUInt64LE(0))).toString('utf8')) as Record<
      string,
      { shape: number[] }
    >;
    assert.deepEqual(header['blocks.1.attn.hook_pattern']!.shape, [1, 4, 1024, 1024]);
    assert.deepEqual(header['blocks.0.mlp.hook_post']!.shape, [1, 1024, 256]);
  });

  it("closing the panel releases its run in the engine; the host's memory returns within 100 MB of its level with the model loaded", async () => {
    interface EngineMemory {
      readonly rss: number;
      readonly heldRuns: number;
    }
    const memory = (): Thenable<EngineMemory> => vscode.commands.executeCommand<EngineMemory>(C.engineMemory);
    const MB = 1e6;
    // The model loaded, and no panel open: the level to return to.
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
    await waitFor('no run held before the panel opens', async () => (await memory()).heldRuns === 0);
    const loaded = await memory();
    const editor = await openText('token '.repeat(1100));
    editor.selection = new vscode.Selection(0, 0, 0, 0);
    const out = await vscode.commands.executeCommand<ActivationOutcome>(C.openActivationPanel, editor.document.uri);
    assert.equal(out.tokens.length, 1024);
    const open = await memory();
    assert.equal(open.heldRuns, 1, 'the open panel holds its run');
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
    // The panel's dispose sends the release; the engine answers once it has dropped the run.
    await waitFor('the closed panel released its run', async () => (await memory()).heldRuns === 0);
    const closed = await memory();
    const report = `RSS ${(loaded.rss / MB).toFixed(0)} MB loaded, ${(open.rss / MB).toFixed(0)} MB with the panel, ${(closed.rss / MB).toFixed(0)} MB after closing it`;
    console.log(`      ${report}`);
    assert.ok(closed.rss - loaded.rss <= 100 * MB, report);
  });

  it('inline logits appear after the cursor, go away on an edit, and never show a stale result', async () => {
    const editor = await openText(TEXT);
    const end = editor.document.lineAt(0).range.end;
    editor.selection = new vscode.Selection(end, end);
    await vscode.workspace.getConfiguration('modelLens').update('inlineLogits.enabled', true, vscode.ConfigurationTarget.Global);
    const state = (): Promise<InlineLogitsState> => Promise.resolve(vscode.commands.executeCommand<InlineLogitsState>(C.inlineLogitsState));
    const shown = await until('inline logits', async () => ((await state()).text ? await state() : undefined));
    assert.match(shown.text, /^next: /);
    assert.equal(shown.version, editor.document.version);
    // Edit repeatedly while results may be in flight: whatever is shown must match the document now.
    for (let i = 0; i < 5; i++) {
      await editor.edit((e) => e.insert(editor.selection.end, ' x'));
      const now = await state();
      assert.ok(now.text === '' || now.version === editor.document.version, 'a stale inline result is shown');
      await new Promise((r) => setTimeout(r, 40 * i));
    }
    const fresh = await until('inline logits after edits', async () => {
      const s = await state();
      return s.text ? s : undefined;
    });
    assert.equal(fresh.version, editor.document.version);
    assert.equal(fresh.offset, editor.document.offsetAt(editor.selection.end));
    // Where the time from the last keystroke to the hint went (printed, never gated: docs/ARCHITECTURE.md).
    const t = fresh.timing;
    assert.ok(t !== undefined && t.engine > 0 && t.total >= t.engine, `no timing for the hint: ${JSON.stringify(t)}`);
    const hosts: number[] = [];
    const lines: string[] = [];
    for (let i = 0; i < 8; i++) {
      await editor.edit((e) => e.insert(editor.selection.end, ' y'));
      const r = await until('a hint after one keystroke', async () => {
        const s = await state();
        return s.text && s.version === editor.document.version ? s.timing : undefined;
      });
      hosts.push(r!.host);
      lines.push(
        `inline logits timing: keystroke→hint ${r!.total.toFixed(1)} ms = engine ${r!.engine.toFixed(1)} + queued ${r!.queued.toFixed(1)} + host ${r!.host.toFixed(1)} (tokenize ${r!.tokenize.toFixed(1)})`,
      );
    }
    hosts.sort((a, b) => a - b);
    lines.push(
      `inline logits host-added time: median ${hosts[hosts.length >> 1]!.toFixed(1)} ms, max ${hosts[hosts.length - 1]!.toFixed(1)} ms`,
    );
    // The extension host's console is not kept: the lines go beside the run's results file.
    const results = process.env.MODEL_LENS_TEST_RESULTS;
    if (results) writeFileSync(`${results}.inline-timing.txt`, `${lines.join('\n')}\n`);
    await vscode.commands.executeCommand(C.toggleInlineLogits);
    await until('inline logits cleared', async () => ((await state()).text === '' ? true : undefined));
  });

  it('highlights each token of the selection by its loss', async () => {
    const editor = await openText(TEXT);
    editor.selection = new vscode.Selection(0, 0, 0, TEXT.length);
    const out = await vscode.commands.executeCommand<LossHighlightOutcome>(C.highlightTokenLoss);
    assert.ok(out);
    const ids = [50256, ...model.toTokens(TEXT, { prependBos: false }).tokens];
    assert.equal(out.tokens, ids.length - 1);
    const direct = await model.run(ids);
    assert.ok(Math.abs(out.losses.reduce((a, b) => a + b, 0) / out.losses.length - meanLoss(direct.data, 50257, ids)) < 1e-3);
    await vscode.commands.executeCommand(C.clearTokenLossHighlight);
  });

  // Regression: with nothing selected, both features tokenized the whole document on the host
  // (3.2 s frozen for 20 MB) although only n_ctx tokens reach the model.
  it('with nothing selected in a 20 MB document, panel and loss highlight tokenize only a bounded head', async () => {
    const line = `${TEXT} 12345 🙂 日本語\n`;
    const big = line.repeat(Math.ceil(20_000_000 / line.length));
    const editor = await openText(big);
    editor.selection = new vscode.Selection(0, 0, 0, 0);
    const nCtx = model.cfg.n_ctx;
    const ids = [50256, ...model.toTokens(big.slice(0, 50_000), { prependBos: false }).tokens].slice(0, nCtx);
    const loss = await vscode.commands.executeCommand<LossHighlightOutcome>(C.highlightTokenLoss);
    assert.ok(loss);
    assert.equal(loss.tokens, nCtx - 1);
    assert.ok(loss.charsTokenized < 200_000, `loss highlight tokenized ${loss.charsTokenized} of ${big.length} characters`);
    const direct = await model.run(ids);
    assert.ok(Math.abs(loss.losses.reduce((a, b) => a + b, 0) / loss.losses.length - meanLoss(direct.data, 50257, ids)) < 1e-3);
    await vscode.commands.executeCommand(C.clearTokenLossHighlight);
    const panel = await vscode.commands.executeCommand<ActivationOutcome>(C.openActivationPanel);
    assert.ok(panel);
    assert.deepEqual(panel.tokens, ids);
    assert.equal(panel.truncated, true);
    assert.ok(panel.charsTokenized < 200_000, `activation panel tokenized ${panel.charsTokenized} of ${big.length} characters`);
  });
});
