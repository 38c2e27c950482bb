// In-host tests of the experiment commands on the tiny generated GPT-2: Activation Patching…
// (with its arguments, so no prompts) equals HookedGPT2's patching run directly and shows in the
// panel's Experiment view; its numbers export as JSON and CSV with the prompts and token ids;
// Detect Heads on the seeded repeated sequence scores every head of every kind. A `.prompts`
// file's two lines are the prompts; the panel's mean ablation and a steering vector from the
// palette give the loss HookedGPT2 gives with the same interventions built in-process.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as vscode from 'vscode';
import { headAblation, steering } from '../../src/engine/experiments/ablation';
import { activationPatching } from '../../src/engine/experiments/patching';
import type { ActivationOutcome } from '../../src/extension/activation/activationPanel';
import { ACTIVATION_COMMANDS as C } from '../../src/extension/activation/register';
import { STEERING_COMMANDS as S } from '../../src/extension/activation/steeringCommands';
import { HookedGPT2 } from '../../src/engine/model';
import { EXPERIMENT_COMMANDS as E } from '../../src/extension/activation/experimentCommands';
import { encode } from '../../src/tokenizer';
import { openText, useTinyModel, type TinyModel } from '../support/inHostModel';

const CLEAN = 'Mary and John went out. John gave it to';
const CORRUPTED = 'Mary and John went out. Mary gave it to';

/** Mean next-token loss of [1, pos, V] logits over `ids`. */
function meanLoss(logits: Float32Array, ids: readonly number[]): number {
  const V = logits.length / ids.length;
  let total = 0;
  for (let p = 0; p + 1 < ids.length; p++) {
    let max = -Infinity;
    for (let v = 0; v < V; v++) max = Math.max(max, logits[p * V + v]!);
    let sum = 0;
    for (let v = 0; v < V; v++) sum += Math.exp(logits[p * V + v]! - max);
    total += max + Math.log(sum) - logits[p * V + ids[p + 1]!]!;
  }
  return total / (ids.length - 1);
}

describe('Model Lens experiments (patching, head detection)', function () {
  this.timeout(180000);
  let tiny: TinyModel;
  let model: HookedGPT2;
  let out: string;

  before(async () => {
    tiny = await useTinyModel(3);
    model = await HookedGPT2.fromPretrained(tiny.dir, { threads: 1 });
    out = mkdtempSync(join(tmpdir(), 'model-lens-exp-'));
  });
  after(async () => {
    await model.dispose();
    await tiny.dispose();
    rmSync(out, { recursive: true, force: true });
  });

  it('Activation Patching… equals the engine run directly and exports JSON and CSV', async () => {
    const r = await vscode.commands.executeCommand<{ rows: number; cols: number; raw: number[]; normalized: number[] }>(
      E.activationPatching,
      {
        clean: CLEAN,
        corrupted: CORRUPTED,
        answer: ' sv',
        wrong: ' brown',
        sweep: 'head_out',
      },
    );
    assert.ok(r, 'the command returned no result');
    assert.equal(r.rows, 2);
    assert.equal(r.cols, 4);
    const clean = [50256, ...encode(CLEAN)];
    const corrupted = [50256, ...encode(CORRUPTED)];
    const metric = { kind: 'logitDiff', answer: encode(' sv')[0]!, wrong: encode(' brown')[0]! } as const;
    const direct = await activationPatching(model, { clean, corrupted, metric, sweep: 'head_out' });
    r.raw.forEach((x, k) => assert.ok(Math.abs(x - direct.raw[k]!) < 1e-5, `cell ${k}: ${x} vs ${direct.raw[k]}`));
    const shown = await vscode.commands.executeCommand<{ title: string; values: number[] }>(E.experimentState);
    assert.match(shown!.title, /Activation patching/);
    assert.deepEqual(shown!.values.length, 8);

    const jsonPath = await vscode.commands.executeCommand<string>(E.exportExperiment, { format: 'json', path: join(out, 'sweep.json') });
    const json = JSON.parse(readFileSync(jsonPath, 'utf8')) as {
      clean: { tokens: number[] };
      corrupted: { text: string };
      raw: number[][];
      metric: { kind: string };
    };
    assert.deepEqual(json.clean.tokens, clean);
    assert.equal(json.corrupted.text, CORRUPTED);
    assert.equal(json.metric.kind, 'logitDiff');
    assert.equal(json.raw.length, 2);
    const csvPath = await vscode.commands.executeCommand<string>(E.exportExperiment, { format: 'csv', path: join(out, 'sweep.csv') });
    const lines = readFileSync(csvPath, 'utf8').trim().split('\n');
    assert.equal(lines.filter((l) => !l.startsWith('#')).length, 1 + 8, 'a header and one line per cell');
  });

  it('Detect Heads on the seeded repeated sequence scores every head of every kind', async () => {
    const r = await vscode.commands.executeCommand<{ kinds: string[]; scores: number[] }>(E.detectHeads, {
      repeated: { seed: 0, length: 10 },
    });
    assert.ok(r);
    assert.deepEqual(r.kinds, ['previous_token_head', 'duplicate_token_head', 'induction_head']);
    assert.equal(r.scores.length, 3 * 2 * 4);
    assert.ok(r.scores.every((s) => s >= 0 && s <= 1));
    const shown = await vscode.commands.executeCommand<{ title: string }>(E.experimentState);
    assert.equal(shown!.title, 'Head detection');
  });

  it("a .prompts file's line and the next prompt are the clean and corrupted prompts, with the line's answers", async () => {
    const file = join(out, 'pair.prompts');
    writeFileSync(file, `# a pair\n${CLEAN} =>  sv| brown\n\n${CORRUPTED}\n`);
    const r = await vscode.commands.executeCommand<{ raw: number[] }>(E.activationPatching, {
      promptsFile: file,
      line: 0,
      sweep: 'head_out',
    });
    assert.ok(r, 'the command returned no result');
    const metric = { kind: 'logitDiff', answer: encode(' sv')[0]!, wrong: encode(' brown')[0]! } as const;
    const direct = await activationPatching(model, {
      clean: [50256, ...encode(CLEAN)],
      corrupted: [50256, ...encode(CORRUPTED)],
      metric,
      sweep: 'head_out',
    });
    r.raw.forEach((x, k) => assert.ok(Math.abs(x - direct.raw[k]!) < 1e-5, `cell ${k}: ${x} vs ${direct.raw[k]}`));
  });

  it("the panel's mean ablation and a steering vector give HookedGPT2's loss with the same interventions", async () => {
    const editor = await openText('The quick brown fox jumps over the lazy dog because it can.');
    const plain = await vscode.commands.executeCommand<ActivationOutcome>(C.openActivationPanel, editor.document.uri);
    assert.ok(plain);
    const ids = plain.tokens;
    const mean = await vscode.commands.executeCommand<ActivationOutcome>(C.ablate, { kind: 'head', layer: 1, index: 2, method: 'mean' });
    assert.ok(mean);
    const meanIv = await headAblation(model, ids, { kind: 'mean', layer: 1, heads: [2] });
    const wantMean = meanLoss((await model.runWithInterventions(ids, [meanIv])).logits.data, ids);
    assert.ok(Math.abs(mean.meanLoss - wantMean) < 1e-3, `mean ablation: ${mean.meanLoss} vs ${wantMean}`);
    const wantZero = meanLoss((await model.runWithInterventions(ids, [{ kind: 'ablateHeads', layer: 1, heads: [2] }])).logits.data, ids);
    assert.ok(Math.abs(wantMean - wantZero) > 1e-4, 'mean and zero ablation give the same loss: the test would not tell them apart');

    await vscode.commands.executeCommand(C.reset);
    const setting = { plus: ' Love', minus: ' Hate', layer: 1, coefficient: 8 };
    const set = await vscode.commands.executeCommand<unknown>(S.add, setting);
    assert.deepEqual(set, setting);
    // The steering change re-runs the open panel: its outcome is the next run's.
    const steered = await vscode.commands.executeCommand<ActivationOutcome>(C.reset);
    assert.ok(steered);
    const iv = await steering(model, { layer: 1, plus: [50256, ...encode(' Love')], minus: [50256, ...encode(' Hate')], coefficient: 8 });
    const wantSteered = meanLoss((await model.runWithInterventions(ids, [iv])).logits.data, ids);
    assert.ok(Math.abs(steered.meanLoss - wantSteered) < 1e-3, `steered: ${steered.meanLoss} vs ${wantSteered}`);
    assert.ok(Math.abs(steered.meanLoss - plain.meanLoss) > 1e-4, 'steering did not change the loss');
    await vscode.commands.executeCommand(S.remove);
    assert.equal(await vscode.commands.executeCommand(S.state), null);
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
  });
});
