// Golden test of the hook point table against TransformerLens.
//
// Where the order comes from: TransformerLens's `model.hook_dict` is built in
// HookedRootModule.setup() from `self.named_modules()`, i.e. a depth-first walk of the modules in
// the order their constructors register them (line numbers @v3.5.1):
//   HookedTransformer.__init__ (HookedTransformer.py:217-251): embed, hook_embed, pos_embed,
//                               hook_pos_embed, blocks, ln_final, unembed
//   TransformerBlock.__init__:  ln1, ln2, attn, mlp, hook_attn_in, hook_q_input, hook_k_input,
//                               hook_v_input, hook_mlp_in, hook_attn_out, hook_mlp_out,
//                               hook_resid_pre, hook_resid_mid, hook_resid_post (transformer_block.py:70-101)
//   LayerNorm / LayerNormPre:   hook_scale, hook_normalized
//   Attention (abstract_attention.py:143-149): hook_k, hook_q, hook_v, hook_z, hook_attn_scores,
//                               hook_pattern, hook_result
//   MLP:                        hook_pre, hook_post        (Embed, PosEmbed: no hooks)
//   Unembed (unembed.py:30-31): hook_in, hook_out — since TransformerLens 3.0 (commit 5fc23e7c);
//                               2.x's Unembed has none
// The notebook in shared/seed prints the same structure for gpt2-small. hook_dict holds every
// HookPoint; the golden lists keep those that fire under the default flags (no hook_result and
// no input hooks), which is also the set of keys of a full run_with_cache. The flag-gated hooks
// sit at their registration places when their flag is on.
//
// test/fixtures/gpt2-small-hook-names-tl2.txt (208 names, TransformerLens 2.x) and -tl3.txt (210,
// 3.x: the same plus unembed.hook_in, unembed.hook_out last, as tests/integration/
// test_cache_hook_names.py@v3.5.1 lists them) were written from this structure (a shell loop
// over the table above), not from the engine; `tlHookDict` below re-derives them and the first
// test checks the files against it, so neither can drift silently.

import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { listHookPoints } from '../../src/engine/hookPoints';
import { TL_VERSIONS, type HookedGPT2Config, type TransformerLensVersion } from '../../src/engine/types';

type Flags = Pick<HookedGPT2Config, 'use_attn_result' | 'use_split_qkv_input' | 'use_attn_in' | 'use_hook_mlp_in'>;

const gpt2SmallCfg: HookedGPT2Config = {
  model_name: 'gpt2',
  n_layers: 12,
  d_model: 768,
  n_heads: 12,
  d_head: 64,
  d_mlp: 3072,
  d_vocab: 50257,
  d_vocab_out: 50257,
  n_ctx: 1024,
  eps: 1e-5,
  act_fn: 'gelu_new',
  normalization_type: 'LNPre',
  use_attn_result: false,
  use_split_qkv_input: false,
  use_hook_mlp_in: false,
  use_attn_in: false,
};

/** TransformerLens's hook_dict order for GPT-2, keeping the hooks that fire under `f`. */
function tlHookDict(nLayers: number, f: Flags, version: TransformerLensVersion): string[] {
  const ln = (p: string) => [`${p}.hook_scale`, `${p}.hook_normalized`];
  const names = ['hook_embed', 'hook_pos_embed'];
  for (let l = 0; l < nLayers; l++) {
    const b = `blocks.${l}`;
    names.push(...ln(`${b}.ln1`), ...ln(`${b}.ln2`));
    names.push(...['hook_k', 'hook_q', 'hook_v', 'hook_z', 'hook_attn_scores', 'hook_pattern'].map((h) => `${b}.attn.${h}`));
    if (f.use_attn_result) names.push(`${b}.attn.hook_result`);
    names.push(`${b}.mlp.hook_pre`, `${b}.mlp.hook_post`);
    if (f.use_attn_in) names.push(`${b}.hook_attn_in`);
    if (f.use_split_qkv_input) names.push(`${b}.hook_q_input`, `${b}.hook_k_input`, `${b}.hook_v_input`);
    if (f.use_hook_mlp_in) names.push(`${b}.hook_mlp_in`);
    names.push(...['hook_attn_out', 'hook_mlp_out', 'hook_resid_pre', 'hook_resid_mid', 'hook_resid_post'].map((h) => `${b}.${h}`));
  }
  names.push(...ln('ln_final'));
  if (version === '3.x') names.push('unembed.hook_in', 'unembed.hook_out');
  return names;
}

/** TransformerLens's shape comments as dimension names, by hook; `headed` = ln1 sees [batch, pos, head_index, d_model]. */
function expectedDims(name: string, headed: boolean): readonly (string | number)[] {
  const last = name.slice(name.lastIndexOf('.') + 1);
  const lead = headed && name.includes('.ln1.') ? ['batch', 'pos', 'head_index'] : ['batch', 'pos'];
  if (last === 'hook_scale') return [...lead, 1];
  if (last === 'hook_normalized') return [...lead, 'd_model'];
  if (['hook_q', 'hook_k', 'hook_v', 'hook_z'].includes(last)) return ['batch', 'pos', 'head_index', 'd_head'];
  if (last === 'hook_attn_scores' || last === 'hook_pattern') return ['batch', 'head_index', 'query_pos', 'key_pos'];
  if (['hook_result', 'hook_attn_in', 'hook_q_input', 'hook_k_input', 'hook_v_input'].includes(last))
    return ['batch', 'pos', 'head_index', 'd_model'];
  if (last === 'hook_pre' || last === 'hook_post') return ['batch', 'pos', 'd_mlp'];
  if (name === 'unembed.hook_out') return ['batch', 'pos', 'd_vocab_out'];
  return ['batch', 'pos', 'd_model'];
}

const NO_FLAGS: Flags = { use_attn_result: false, use_split_qkv_input: false, use_attn_in: false, use_hook_mlp_in: false };
const ALL_FLAGS: Flags = { use_attn_result: true, use_split_qkv_input: true, use_attn_in: true, use_hook_mlp_in: true };
const GOLDEN: Record<TransformerLensVersion, string[]> = {
  '3.x': readFileSync(join(__dirname, '../fixtures/gpt2-small-hook-names-tl3.txt'), 'utf8').trim().split('\n'),
  '2.x': readFileSync(join(__dirname, '../fixtures/gpt2-small-hook-names-tl2.txt'), 'utf8').trim().split('\n'),
};

it("without a version the table is TransformerLens 3.x's", () => {
  assert.deepEqual(
    listHookPoints(gpt2SmallCfg).map((h) => h.name),
    GOLDEN['3.x'],
  );
});

for (const version of TL_VERSIONS) {
  const golden = GOLDEN[version];
  const cfg: HookedGPT2Config = { ...gpt2SmallCfg, transformer_lens_version: version };

  describe(`hook point names (TransformerLens ${version} golden list)`, () => {
    it(`the golden file is TransformerLens ${version}'s hook_dict structure for gpt2-small`, () => {
      assert.equal(golden.length, (version === '3.x' ? 6 : 4) + 17 * 12);
      assert.deepEqual(golden, tlHookDict(12, NO_FLAGS, version));
    });

    it('listHookPoints(gpt2-small) equals the golden list, in order', () => {
      const names = listHookPoints(cfg).map((h) => h.name);
      const firstDiff = names.findIndex((n, i) => n !== golden[i]);
      assert.deepEqual(
        names,
        golden,
        `first difference at index ${firstDiff}: engine ${names[firstDiff]}, TransformerLens ${golden[firstDiff]}`,
      );
    });

    const cases: [string, Partial<Flags>, RegExp][] = [
      ['use_attn_result', { use_attn_result: true }, /\.attn\.hook_result$/],
      ['use_attn_in', { use_attn_in: true }, /\.hook_attn_in$/],
      ['use_split_qkv_input', { use_split_qkv_input: true }, /\.hook_[qkv]_input$/],
      ['use_hook_mlp_in', { use_hook_mlp_in: true }, /\.hook_mlp_in$/],
    ];
    for (const [flag, set, pattern] of cases) {
      it(`${flag} adds exactly its hooks`, () => {
        const flags = { ...NO_FLAGS, ...set };
        const names = listHookPoints({ ...cfg, ...flags }).map((h) => h.name);
        // as sets here; the order is the business of the two order tests
        assert.deepEqual([...names].sort(), tlHookDict(12, flags, version).sort());
        assert.equal(names.filter((n) => pattern.test(n)).length, names.length - golden.length);
        assert.ok(!golden.some((n) => pattern.test(n)), `${flag}'s hooks must be absent by default`);
      });
    }

    it('every flag at once: TransformerLens order with the gated hooks in their places', () => {
      assert.deepEqual(
        listHookPoints({ ...cfg, ...ALL_FLAGS }).map((h) => h.name),
        tlHookDict(12, ALL_FLAGS, version),
      );
    });

    it("each hook's dimension names follow TransformerLens's shapes", () => {
      for (const flags of [NO_FLAGS, ALL_FLAGS]) {
        const headed = flags.use_attn_in || flags.use_split_qkv_input;
        for (const h of listHookPoints({ ...cfg, ...flags })) {
          assert.deepEqual(h.dims, expectedDims(h.name, headed), h.name);
        }
      }
    });

    it('names are unique', () => {
      const names = listHookPoints({ ...cfg, ...ALL_FLAGS }).map((h) => h.name);
      assert.equal(new Set(names).size, names.length);
    });
  });
}

it('the two golden lists differ by exactly unembed.hook_in and unembed.hook_out, last', () => {
  assert.deepEqual(GOLDEN['3.x'], [...GOLDEN['2.x'], 'unembed.hook_in', 'unembed.hook_out']);
});
