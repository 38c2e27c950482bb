// The model as TransformerLens shows it: parameter count, config print, module tree, weights.
// Figures from the seed notebook (TransformerLens on gpt2-small with fold_ln=True,
// center_unembed=False, center_writing_weights=False) and from TransformerLens v3.5.1's source.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateTinyGpt2 } from '../../src/engine/tinyGpt2';
import { loadCheckpoint } from '../../src/engine/checkpoint/load';
import { gpt2ConfigFromHF } from '../../src/engine/checkpoint/config';
import { processWeights } from '../../src/engine/processing';
import { listHookPoints } from '../../src/engine/hookPoints';
import {
  configAsJson,
  countParameters,
  formatModuleTree,
  formatTransformerLensConfig,
  listParameters,
  moduleTree,
  namedWeights,
  nParamsOfConfig,
  pyFloatRepr,
  transformerLensConfig,
  type HookNode,
  type ModuleNode,
} from '../../src/engine/modelInfo';
import { NO_PROCESSING, type HookedGPT2Config, type ProcessingOptions } from '../../src/engine/types';

// The seed notebook's settings: from_pretrained("gpt2-small", fold_ln=True, center_unembed=False, center_writing_weights=False).
const SEED_PROCESSING: ProcessingOptions = { fold_ln: true, center_writing_weights: false, center_unembed: false, fold_value_biases: true };

const GPT2_SMALL: HookedGPT2Config = gpt2ConfigFromHF(
  { model_type: 'gpt2', n_layer: 12, n_embd: 768, n_head: 12, n_positions: 1024, vocab_size: 50257 },
  'gpt2/config.json',
  'gpt2',
);
const folded = (cfg: HookedGPT2Config): HookedGPT2Config => ({ ...cfg, normalization_type: 'LNPre' });

let dir = '';
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ml-modelinfo-'));
  await generateTinyGpt2(join(dir, 'tiny'), { seed: 3 });
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

test('gpt2-small: 163,049,041 parameters with fold_ln (the seed notebook), 163,087,441 without', () => {
  assert.equal(countParameters(folded(GPT2_SMALL)), 163_049_041);
  // Unfolded adds LayerNorm's w and b: 2 per block and ln_final, each [768].
  assert.equal(countParameters(GPT2_SMALL), 163_049_041 + (2 * 12 + 1) * 2 * 768);
  assert.equal(nParamsOfConfig(GPT2_SMALL), 84_934_656);
});

for (const [mode, opts] of [
  ['fold_ln (seed settings)', SEED_PROCESSING],
  ['no processing', NO_PROCESSING],
] as const) {
  test(`tiny model, ${mode}: the count and the parameter list equal the weights the engine holds`, async () => {
    const loaded = await loadCheckpoint(join(dir, 'tiny'));
    const { cfg, weights } = processWeights(loaded.cfg, loaded.weights, opts);
    const held = namedWeights(weights);
    const heldCount = held.reduce((s, [, t]) => s + t.data.length, 0);
    assert.equal(countParameters(cfg), heldCount);
    const listed = listParameters(cfg);
    assert.deepEqual(
      listed.map((p) => [p.name, p.shape]),
      held.map(([n, t]) => [n, [...t.dims]]),
    );
    for (const [name, t] of held)
      assert.equal(
        t.data.length,
        t.dims.reduce((a, b) => a * b, 1),
        name,
      );
    assert.equal(cfg.normalization_type, opts.fold_ln ? 'LNPre' : 'LN');
    assert.equal(
      listed.some((p) => p.name.endsWith('ln1.w')),
      !opts.fold_ln,
    );
  });
}

test("weights carry TransformerLens's names and shapes", () => {
  const byName = new Map(listParameters(folded(GPT2_SMALL)).map((p) => [p.name, p] as const));
  assert.deepEqual(byName.get('blocks.0.attn.W_Q')?.shape, [12, 768, 64]);
  assert.deepEqual(byName.get('blocks.0.attn.W_Q')?.dimNames, ['head_index', 'd_model', 'd_head']);
  assert.deepEqual(byName.get('blocks.11.attn.W_O')?.shape, [12, 64, 768]);
  assert.deepEqual(byName.get('blocks.3.mlp.W_in')?.shape, [768, 3072]);
  assert.deepEqual(byName.get('embed.W_E')?.shape, [50257, 768]);
  assert.deepEqual(byName.get('pos_embed.W_pos')?.shape, [1024, 768]);
  assert.deepEqual(byName.get('unembed.W_U')?.shape, [768, 50257]);
  assert.deepEqual(byName.get('unembed.b_U')?.shape, [50257]);
  assert.equal(byName.has('ln_final.w'), false);
});

// The config lines the seed notebook printed (its output is cut off after 'parallel_attn_m…').
// TransformerLens has added keys since; each of these must appear, verbatim and in this order.
const SEED_CONFIG_LINES = `{'act_fn': 'gelu_new',
 'attention_dir': 'causal',
 'attn_only': False,
 'attn_scale': 8.0,
 'attn_scores_soft_cap': -1.0,
 'attn_types': None,
 'checkpoint_index': None,
 'checkpoint_label_type': None,
 'checkpoint_value': None,
 'd_head': 64,
 'd_mlp': 3072,
 'd_model': 768,
 'd_vocab': 50257,
 'd_vocab_out': 50257,
 'decoder_start_token_id': None,
 'default_prepend_bos': True,
 'device': device(type='cuda'),
 'dtype': torch.float32,
 'eps': 1e-05,
 'experts_per_token': None,
 'final_rms': False,
 'from_checkpoint': False,
 'gated_mlp': False,
 'init_mode': 'gpt2',
 'init_weights': False,
 'initializer_range': 0.02886751345948129,
 'load_in_4bit': False,
 'model_name': 'gpt2',
 'n_ctx': 1024,
 'n_devices': 1,
 'n_heads': 12,
 'n_key_value_heads': None,
 'n_layers': 12,
 'n_params': 84934656,
 'normalization_type': 'LNPre',
 'num_experts': None,
 'original_architecture': 'GPT2LMHeadModel',
 'output_logits_soft_cap': -1.0,`
  .split('\n')
  .map((l) => l.replace(/^[{ ]/, ''));

test("config prints as the seed notebook's print(model.cfg) (every line it showed, in order)", () => {
  const text = formatTransformerLensConfig(transformerLensConfig(folded(GPT2_SMALL), { provider: 'cuda' }));
  const lines = text.split('\n');
  assert.equal(lines[0], 'HookedTransformerConfig:');
  const body = lines.slice(1).map((l) => l.replace(/^[{ ]/, '').replace(/}$/, ','));
  let at = -1;
  for (const want of SEED_CONFIG_LINES) {
    const found = body.indexOf(want);
    assert.ok(found > at, `missing or out of order: ${want}`);
    at = found;
  }
  // v3.5.1 has 79 dataclass fields.
  assert.equal(body.filter((l) => l.startsWith("'")).length, 79);
  assert.match(text, /^\{'NTK_by_parts_factor': 8\.0,$/m);
  assert.match(text, /'yarn_original_max_position_embeddings': 4096}\n$/);
});

test("config without processing says normalization_type 'LN', and the device follows the provider", () => {
  const text = formatTransformerLensConfig(transformerLensConfig(GPT2_SMALL, { provider: 'cpu' }));
  assert.match(text, / 'normalization_type': 'LN',/);
  assert.match(text, / 'device': device\(type='cpu'\),/);
});

test('the dtype follows the weights: fp16 and bf16 as torch.float16 and torch.bfloat16', () => {
  const show = (dtype: 'fp32' | 'fp16' | 'bf16'): string => formatTransformerLensConfig(transformerLensConfig(GPT2_SMALL, { dtype }));
  assert.match(show('fp32'), / 'dtype': torch.float32,/);
  assert.match(show('fp16'), / 'dtype': torch.float16,/);
  assert.match(show('bf16'), / 'dtype': torch.bfloat16,/);
  assert.equal(configAsJson(transformerLensConfig(GPT2_SMALL, { dtype: 'bf16' })).dtype, 'bfloat16');
});

test("floats print as Python's repr", () => {
  assert.equal(pyFloatRepr(8), '8.0');
  assert.equal(pyFloatRepr(1e-5), '1e-05');
  assert.equal(pyFloatRepr(1.5e-7), '1.5e-07');
  assert.equal(pyFloatRepr(0.0001), '0.0001');
  assert.equal(pyFloatRepr(-1), '-1.0');
  assert.equal(pyFloatRepr(1e16), '1e+16');
  assert.equal(pyFloatRepr(0.8 / Math.sqrt(768)), '0.02886751345948129');
});

const children = (n: ModuleNode): string[] => n.children.map((c) => c.attr);
const child = (n: ModuleNode, attr: string): ModuleNode => {
  const c = n.children.find((x) => x.attr === attr);
  assert.ok(c && c.kind === 'module', `no module ${attr} under ${n.path}`);
  return c;
};
const hooksIn = (n: ModuleNode): HookNode[] => n.children.flatMap((c) => (c.kind === 'hook' ? [c] : hooksIn(c)));

test("module tree nests as print(model) does, with every hook's shape for the token count", () => {
  const cfg = folded(GPT2_SMALL);
  const root = moduleTree(cfg, 5);
  assert.deepEqual(children(root), ['embed', 'hook_embed', 'pos_embed', 'hook_pos_embed', 'blocks', 'ln_final', 'unembed']);
  const blocks = child(root, 'blocks');
  assert.equal(blocks.className, 'ModuleList');
  assert.equal(blocks.children.length, 12);
  const b0 = child(blocks, '0');
  assert.equal(b0.className, 'TransformerBlock');
  // The seed notebook's print order of a block's children.
  assert.deepEqual(children(b0), [
    'ln1',
    'ln2',
    'attn',
    'mlp',
    'hook_attn_in',
    'hook_q_input',
    'hook_k_input',
    'hook_v_input',
    'hook_mlp_in',
    'hook_attn_out',
    'hook_mlp_out',
    'hook_resid_pre',
    'hook_resid_mid',
    'hook_resid_post',
  ]);
  assert.equal(child(b0, 'ln1').className, 'LayerNormPre');
  const attn = child(b0, 'attn');
  assert.deepEqual(children(attn), ['hook_k', 'hook_q', 'hook_v', 'hook_z', 'hook_attn_scores', 'hook_pattern', 'hook_result']);
  const byName = new Map(hooksIn(root).map((h) => [h.name, h] as const));
  assert.deepEqual(byName.get('blocks.0.attn.hook_pattern')?.shape, [1, 12, 5, 5]);
  assert.deepEqual(byName.get('blocks.0.attn.hook_q')?.shape, [1, 5, 12, 64]);
  assert.deepEqual(byName.get('blocks.0.mlp.hook_post')?.shape, [1, 5, 3072]);
  assert.deepEqual(byName.get('blocks.0.attn.hook_result')?.shape, [1, 5, 12, 768]);
  assert.equal(byName.get('blocks.0.attn.hook_result')?.gated, true);
  assert.equal(byName.get('blocks.0.hook_mlp_in')?.gated, true);
  assert.equal(byName.get('blocks.0.attn.hook_pattern')?.gated, false);
  // The hooks that fire, in tree order, are exactly the hook table in hook_dict order.
  assert.deepEqual(
    hooksIn(root)
      .filter((h) => !h.gated)
      .map((h) => h.name),
    listHookPoints(cfg).map((h) => h.name),
  );
  assert.deepEqual(
    child(root, 'embed').parameters.map((p) => p.name),
    ['embed.W_E'],
  );
});

test('module tree without processing: LayerNorm modules with w and b; flags turn gated hooks on', () => {
  const cfg: HookedGPT2Config = { ...GPT2_SMALL, use_attn_result: true };
  const root = moduleTree(cfg, 3);
  const ln1 = child(child(child(root, 'blocks'), '0'), 'ln1');
  assert.equal(ln1.className, 'LayerNorm');
  assert.deepEqual(
    ln1.parameters.map((p) => [p.name, p.shape]),
    [
      ['blocks.0.ln1.w', [768]],
      ['blocks.0.ln1.b', [768]],
    ],
  );
  const result = hooksIn(root).find((h) => h.name === 'blocks.0.attn.hook_result');
  assert.equal(result?.gated, false);
  const text = formatModuleTree(root, cfg);
  assert.match(text, /^ {4}\(0\): TransformerBlock$/m);
  assert.match(text, /hook_pattern \[1, 12, 3, 3\] {2}blocks\.0\.attn\.hook_pattern$/m);
  assert.match(text, /hook_mlp_in \[1, 3, 768\] {2}blocks\.0\.hook_mlp_in {2}\(flag-gated: off\)$/m);
});
