// `model-lens info` on real folders: the generated tiny model (its count checked against the
// tensors in its own safetensors file) and a gpt2-small-shaped config.json (the seed's figure).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { infoCommand } from '../../src/cli/infoCommand';
import { ExitCode } from '../../src/cli/command';
import { generateTinyGpt2 } from '../../src/engine/tinyGpt2';
import { readSafetensors } from '../../src/engine/safetensors/read';

let dir = '';
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ml-info-cli-'));
  await generateTinyGpt2(join(dir, 'tiny'), { seed: 1 });
  // Only config.json is read; the weights file need only exist for the model resolver.
  await mkdir(join(dir, 'gpt2'));
  await writeFile(
    join(dir, 'gpt2', 'config.json'),
    JSON.stringify({ model_type: 'gpt2', n_layer: 12, n_embd: 768, n_head: 12, n_positions: 1024, vocab_size: 50257 }),
  );
  await writeFile(join(dir, 'gpt2', 'model.safetensors'), '');
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function info(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await infoCommand.run(args, { stdout: (t) => void (out += t), stderr: (t) => void (err += t) });
  return { code, out, err };
}

interface InfoJson {
  model: string;
  processing: string;
  n_parameters: number;
  config: Record<string, unknown>;
  weights: { name: string; shape: number[]; dims: string[] }[];
  modules: unknown;
}

test('info --json on the tiny model: the count is what its checkpoint holds, less the folded LayerNorms', async () => {
  const file = await readSafetensors(join(dir, 'tiny', 'model.safetensors'));
  let stored = 0;
  let lnStored = 0;
  let tiedExtra = 0;
  for (const [name, t] of file.tensors) {
    if (/\.attn\.(bias|masked_bias)$/.test(name)) continue; // causal-mask buffers, not parameters
    const n = t.dims.reduce((a, b) => a * b, 1);
    stored += n;
    if (/ln_[12f]\.(weight|bias)$/.test(name)) lnStored += n;
    if (name.endsWith('wte.weight') && !file.tensors.has('lm_head.weight')) tiedExtra = n; // W_U is its own parameter in TransformerLens
  }
  const d_vocab = 50257; // b_U: TransformerLens adds an unembedding bias GPT-2's checkpoint lacks
  const raw = await info('--model', join(dir, 'tiny'), '--no-processing', '--json');
  assert.equal(raw.code, ExitCode.ok, raw.err);
  const unprocessed = JSON.parse(raw.out) as InfoJson;
  assert.equal(unprocessed.processing, 'from_pretrained_no_processing');
  assert.equal(unprocessed.n_parameters, stored + tiedExtra + d_vocab);
  assert.equal(unprocessed.config['normalization_type'], 'LN');
  const folded = JSON.parse((await info('--model', join(dir, 'tiny'), '--json')).out) as InfoJson;
  assert.equal(folded.n_parameters, stored + tiedExtra + d_vocab - lnStored);
  assert.equal(folded.config['normalization_type'], 'LNPre');
  assert.equal(folded.config['n_params'], 2 * (64 * 64 * 4) + 2 * 64 * 256 * 2);
  assert.deepEqual(
    folded.weights.find((w) => w.name === 'blocks.1.attn.W_Q'),
    { name: 'blocks.1.attn.W_Q', shape: [4, 64, 16], dims: ['head_index', 'd_model', 'd_head'] },
  );
});

test("info on gpt2-small's config prints the seed's count, the config, hooks with shapes and weights", async () => {
  const r = await info('--model', join(dir, 'gpt2'), '--tokens', '7');
  assert.equal(r.code, ExitCode.ok, r.err);
  assert.match(r.out, /^Total number of parameters: 163,049,041$/m);
  assert.match(r.out, /^ 'n_params': 84934656,$/m);
  assert.match(r.out, /^ 'normalization_type': 'LNPre',$/m);
  assert.match(r.out, /^ {4}\(11\): TransformerBlock$/m);
  assert.match(r.out, /hook_pattern \[1, 12, 7, 7\] {2}blocks\.11\.attn\.hook_pattern$/m);
  assert.match(r.out, /hook_in \[1, 7, 768\] {2}unembed\.hook_in$/m);
  assert.match(r.out, /^ {2}blocks\.0\.attn\.W_Q \[12, 768, 64\]$/m);
  assert.doesNotMatch(r.out, /ln_final\.w /);
  const raw = await info('--model', join(dir, 'gpt2'), '--no-processing');
  assert.match(raw.out, /^Total number of parameters: 163,087,441$/m);
  assert.match(raw.out, /^ {2}ln_final\.w \[768\]$/m);
  // Without --tokens the shapes keep batch and pos as names.
  assert.match(raw.out, /hook_attn_scores \[batch, 12, pos, pos\] {2}blocks\.0\.attn\.hook_attn_scores$/m);
  // TransformerLens 2.x has no unembed hooks.
  const tl2 = await info('--model', join(dir, 'gpt2'), '--tl-version', '2');
  assert.doesNotMatch(tl2.out, /unembed\.hook_in/);
});

test('info rejects bad arguments with the option named', async () => {
  await assert.rejects(info('--model', join(dir, 'gpt2'), '--tokens', '0'), /--tokens must be a positive whole number, got '0'/);
  await assert.rejects(info('--tokens', '3'), /--model DIR\|ID is required/);
  await assert.rejects(info('--model', join(dir, 'gpt2'), '--device', 'tpu'), /--device must be cpu or cuda/);
});

test("info takes run's processing switches: the seed's combination is named in full, and only fold_ln changes the parameters", async () => {
  const seed = JSON.parse(
    (await info('--model', join(dir, 'gpt2'), '--no-center-writing-weights', '--no-center-unembed', '--json')).out,
  ) as InfoJson;
  assert.equal(
    seed.processing,
    'from_pretrained(fold_ln=True, center_writing_weights=False, center_unembed=False, fold_value_biases=True)',
  );
  assert.equal(seed.n_parameters, 163_049_041);
  const unfolded = JSON.parse((await info('--model', join(dir, 'gpt2'), '--no-fold-ln', '--json')).out) as InfoJson;
  assert.equal(unfolded.config['normalization_type'], 'LN');
  assert.equal(unfolded.n_parameters, 163_049_041 + 2 * 768 * (2 * 12 + 1));
  await assert.rejects(info('--model', join(dir, 'gpt2'), '--no-processing', '--fold-ln'), /contradicts --fold-ln/);
});
