// In-host tests of the experiment commands on the tiny generated GPT-2: Activation Patching…
// (with its arguments, so no prompts) equals HookedGPT2's patching run directly and shows in the
// panel's Experiment view; its numbers export as JSON and CSV with the prompts and token ids;
// Detect Heads on the seeded repeated sequence scores every head of every kind.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as vscode from 'vscode';
import { activationPatching } from '../../src/engine/experiments/patching';
import { HookedGPT2 } from '../../src/engine/model';
import { EXPERIMENT_COMMANDS as E } from '../../src/extension/activation/experimentCommands';
import { encode } from '../../src/tokenizer';
import { useTinyModel, type TinyModel } from '../support/inHostModel';

const CLEAN = 'Mary and John went out. John gave it to';
const CORRUPTED = 'Mary and John went out. Mary gave it to';

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
});
