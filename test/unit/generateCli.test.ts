// `model-lens generate` on the generated tiny model (real checkpoint folder, real onnxruntime):
// the --json shape, greedy tokens against full forwards, seeds, the text table and bad input.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateCommand } from '../../src/cli/generateCommand';
import { ExitCode, UsageError } from '../../src/cli/command';
import { HookedGPT2 } from '../../src/engine/model';
import { generateTinyGpt2 } from '../../src/engine/tinyGpt2';
import * as tokenizer from '../../src/tokenizer';

let dir = '';
let folder = '';
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ml-generate-cli-'));
  folder = join(dir, 'tiny');
  await generateTinyGpt2(folder, { seed: 3 });
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  try {
    const code = await generateCommand.run(args, { stdout: (t) => void (out += t), stderr: (t) => void (err += t) });
    return { code, out, err };
  } catch (e) {
    // As main.ts does: a UsageError is the usage exit code and its message.
    if (!(e instanceof UsageError)) throw e;
    return { code: ExitCode.usage, out, err: e.message };
  }
}

interface GenJson {
  prompt: number[];
  tokens: { id: number; text: string; prob: number; top: { id: number; prob: number }[] }[];
}

test('--json, greedy: the prompt ids, and each token is the argmax of a full forward with its probability and top 5', async () => {
  const r = await cli('--model', folder, '--text', 'The quick brown', '--temperature', '0', '--max-new-tokens', '6', '--json');
  assert.equal(r.code, ExitCode.ok, r.err);
  const j = JSON.parse(r.out) as GenJson;
  assert.deepEqual(Object.keys(j), ['prompt', 'tokens']);
  assert.deepEqual(j.prompt, [50256, ...tokenizer.encode('The quick brown')]);
  assert.equal(j.tokens.length, 6);
  const model = await HookedGPT2.fromPretrained(folder, { threads: 1 });
  try {
    const seq = [...j.prompt];
    for (const t of j.tokens) {
      assert.deepEqual(Object.keys(t), ['id', 'text', 'prob', 'top']);
      assert.equal(t.text, tokenizer.decode([t.id]));
      const row = (await model.run(seq, { logitsAt: 'last' })).data;
      const order = Array.from(row.keys()).sort((a, b) => row[b]! - row[a]!);
      assert.equal(t.id, order[0]);
      let z = 0;
      for (const x of row) z += Math.exp(x - row[order[0]!]!);
      assert.ok(Math.abs(t.prob - 1 / z) < 1e-5);
      assert.deepEqual(
        t.top.map((x) => x.id),
        order.slice(0, 5),
      );
      assert.deepEqual(Object.keys(t.top[0]!), ['id', 'prob']);
      seq.push(t.id);
    }
  } finally {
    await model.dispose();
  }
});

test('sampling: the same seed prints the same tokens, another seed others; the text form has a row per token', async () => {
  const args = [
    '--model',
    folder,
    '--tokens',
    '50256,464,2068',
    '--temperature',
    '1.2',
    '--top-k',
    '40',
    '--top-p',
    '0.95',
    '--max-new-tokens',
    '8',
  ];
  const a = await cli(...args, '--seed', '5', '--json');
  const b = await cli(...args, '--seed', '5', '--json');
  const c = await cli(...args, '--seed', '6', '--json');
  assert.equal(a.code, ExitCode.ok, a.err);
  assert.equal(a.out, b.out);
  assert.notEqual(a.out, c.out);
  const text = await cli(...args, '--seed', '5');
  assert.equal(text.code, ExitCode.ok, text.err);
  const ids = (JSON.parse(a.out) as GenJson).tokens.map((t) => t.id);
  const rows = text.out.split('\n').filter((l) => /^\s+\d+\s+\d+\s+[\d.]+%\s+\d+\s/.test(l));
  assert.deepEqual(
    rows.map((l) => Number(l.trim().split(/\s+/)[1])),
    ids,
  );
  assert.match(text.out, /stopped at the token budget \(--max-new-tokens\) after 8 tokens/);
});

test('bad input: clear messages, nothing run', async () => {
  const topP = await cli('--model', folder, '--text', 'x', '--top-p', '0');
  assert.equal(topP.code, ExitCode.usage);
  assert.match(topP.err, /--top-p must be in \(0, 1\] \(0 would keep no token\), got 0/);
  const temp = await cli('--model', folder, '--text', 'x', '--temperature=-1');
  assert.equal(temp.code, ExitCode.usage);
  assert.match(temp.err, /--temperature must be ≥ 0/);
  const nan = await cli('--model', folder, '--text', 'x', '--top-k', 'many');
  assert.match(nan.err, /--top-k must be a whole number, got 'many'/);
  const both = await cli('--model', folder, '--text', 'x', '--tokens', '1');
  assert.match(both.err, /exactly one of --text or --tokens/);
  const empty = await cli('--model', folder, '--text', '', '--no-bos');
  assert.equal(empty.code, ExitCode.failure);
  assert.match(empty.err, /the prompt is empty/);
  const long = await cli('--model', folder, '--tokens', new Array(1025).fill('1').join(','));
  assert.equal(long.code, ExitCode.failure);
  assert.match(long.err, /the prompt is 1025 tokens; .* n_ctx=1024/);
  // At n_ctx exactly: a defined result, no tokens.
  const full = await cli('--model', folder, '--tokens', new Array(1024).fill('1').join(','), '--json');
  assert.equal(full.code, ExitCode.ok, full.err);
  assert.deepEqual((JSON.parse(full.out) as GenJson).tokens, []);
});
