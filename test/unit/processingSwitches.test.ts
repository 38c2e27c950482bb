// Every combination of TransformerLens's four from_pretrained switches (fold_ln,
// center_writing_weights, center_unembed, fold_value_biases): all 16 are allowed for GPT-2
// (docs/HOOKS.md, "Weight processing switches"), and for each one the engine matches the float64
// reference hook by hook. The seed notebook's combination has its own test. Then how the
// switches are named (the TransformerLens call in labels and metadata) and set (CLI flags).

import { strict as assert } from 'node:assert';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { UsageError } from '../../src/cli/command';
import { processingFromFlags, runCommand } from '../../src/cli/runCommand';
import { HookedGPT2 } from '../../src/engine/model';
import {
  PROCESSING_PRESETS,
  presetOf,
  processingCall,
  processingMetadata,
  processWeights,
  resolveProcessing,
} from '../../src/engine/processing';
import { generateTinyGpt2 } from '../../src/engine/tinyGpt2';
import { PROCESSING_SETTING, processingSettingKey } from '../../src/extension/model/processingKeys';
import { loadCheckpoint } from '../../src/engine/checkpoint/load';
import { DEFAULT_PROCESSING, NO_PROCESSING, PROCESSING_SWITCHES, type ProcessingOptions, type Tensor } from '../../src/engine/types';
import { relErr, worst, type HookError } from '../support/compare';
import { logSoftmax, referenceRun, type RefFlags, type RefRun } from '../reference/gpt2Float64';
import { loadReferenceModel, processReferenceWeights, type RefModel } from '../reference/gpt2Weights64';
import { COMBINATIONS, short } from './helpers/processingCombinations';

const TOL = 1e-5;
const TOKENS = [50256, 464, 2068, 7586, 21831, 18045, 625, 262, 16931, 3290, 13, 198, 40, 1101, 257, 1332];
/** Every flag-gated hook too, so hook_result, hook_attn_in, hook_q/k/v_input and hook_mlp_in are checked. */
const ALL_FLAGS: RefFlags = { use_attn_result: true, use_split_qkv_input: true, use_attn_in: true, use_hook_mlp_in: true };
const SEED: ProcessingOptions = { fold_ln: true, center_writing_weights: false, center_unembed: false, fold_value_biases: true };

interface EngineRun {
  readonly logits: Tensor;
  readonly acts: Map<string, Tensor>;
}

async function engineRun(dir: string, p: ProcessingOptions): Promise<EngineRun> {
  const model = await HookedGPT2.fromPretrained(dir, { ...p, device: 'cpu', threads: 1, ...ALL_FLAGS });
  try {
    assert.deepEqual(model.processing, { options: p, warnings: [] });
    const { logits, cache } = await model.runWithCache(TOKENS);
    return { logits, acts: new Map(cache.names().map((n) => [n, cache.get(n)] as const)) };
  } finally {
    await model.dispose();
  }
}

/** Every reference hook and the logits, engine vs reference; names on one side only are problems. */
function compare(engine: EngineRun, ref: RefRun): { worst: HookError; count: number; problems: string[] } {
  const errors: HookError[] = [{ name: 'logits', err: relErr(engine.logits.data, ref.logits.data) }];
  const problems: string[] = [];
  for (const [name, r] of ref.cache) {
    const e = engine.acts.get(name);
    if (!e) problems.push(`${name} missing from the engine's cache`);
    else if (e.dims.join() !== r.dims.join()) problems.push(`${name}: dims [${e.dims}] vs [${r.dims}]`);
    else errors.push({ name, err: relErr(e.data, r.data) });
  }
  for (const name of engine.acts.keys()) if (!ref.cache.has(name)) problems.push(`${name} not in the reference`);
  return { worst: worst(errors), count: errors.length, problems };
}

describe('weight processing switches: all 16 combinations against the float64 reference', { timeout: 600_000 }, () => {
  let dir: string;
  let ref: RefModel;
  let raw: RefRun;
  /** A tied checkpoint: its unembedding is W_E read with processing's corrections (src/engine/tiedUnembed.ts), a path of its own. */
  let tiedDir: string;
  let tiedRef: RefModel;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'modellens-switches-'));
    await generateTinyGpt2(dir, { seed: 21 });
    ref = loadReferenceModel(dir);
    raw = referenceRun(ref.cfg, ref.weights, TOKENS, ALL_FLAGS);
    tiedDir = mkdtempSync(join(tmpdir(), 'modellens-switches-tied-'));
    await generateTinyGpt2(tiedDir, { seed: 22, tiedLmHead: true });
    tiedRef = loadReferenceModel(tiedDir);
  });
  after(() => {
    rmSync(dir, { recursive: true, force: true });
    rmSync(tiedDir, { recursive: true, force: true });
  });

  it('reference: every combination keeps log-softmax (1e-12), and only center_unembed moves the logits', () => {
    const V = ref.cfg.d_vocab;
    for (const p of COMBINATIONS) {
      const run = referenceRun(ref.cfg, processReferenceWeights(ref.weights, ref.cfg, p), TOKENS, ALL_FLAGS);
      const err = relErr(logSoftmax(run.logits.data, V), logSoftmax(raw.logits.data, V));
      assert.ok(err < 1e-12, `${short(p)}: log-softmax relErr ${err}`);
      const moved = relErr(run.logits.data, raw.logits.data);
      if (p.center_unembed) assert.ok(moved > 1e-3, `${short(p)}: logits should shift (${moved})`);
      else assert.ok(moved < 1e-12, `${short(p)}: logits should not move (${moved})`);
    }
  });

  it('reference: each switch alone changes exactly the hooks docs/HOOKS.md lists for it', () => {
    const changed = (p: ProcessingOptions, version: '3.x' | '2.x'): string[] => {
      const base = version === '3.x' ? raw : referenceRun(ref.cfg, ref.weights, TOKENS, ALL_FLAGS, version);
      const run = referenceRun(ref.cfg, processReferenceWeights(ref.weights, ref.cfg, p), TOKENS, ALL_FLAGS, version);
      return [...run.cache]
        .filter(([name, t]) => relErr(t.data, base.cache.get(name)!.data) > 1e-9)
        .map(([name]) => name.replace(/^blocks\.\d+\./, 'blocks.L.'));
    };
    const set = (names: string[]): string[] => [...new Set(names)].sort();
    const only = (k: keyof ProcessingOptions): ProcessingOptions => ({ ...NO_PROCESSING, [k]: true });
    assert.deepEqual(set(changed(only('fold_ln'), '3.x')), ['unembed.hook_in']);
    assert.deepEqual(set(changed(only('fold_ln'), '2.x')), [
      'blocks.L.ln1.hook_normalized',
      'blocks.L.ln2.hook_normalized',
      'ln_final.hook_normalized',
    ]);
    assert.deepEqual(
      set(changed(only('center_writing_weights'), '3.x')),
      set([
        'hook_embed',
        'hook_pos_embed',
        ...['hook_resid_pre', 'hook_resid_mid', 'hook_resid_post', 'hook_attn_out', 'hook_mlp_out', 'attn.hook_result'].map(
          (n) => `blocks.L.${n}`,
        ),
        ...['hook_attn_in', 'hook_q_input', 'hook_k_input', 'hook_v_input', 'hook_mlp_in'].map((n) => `blocks.L.${n}`),
      ]),
    );
    assert.deepEqual(set(changed(only('center_unembed'), '3.x')), ['unembed.hook_out']);
    assert.deepEqual(set(changed(only('fold_value_biases'), '3.x')), [
      'blocks.L.attn.hook_result',
      'blocks.L.attn.hook_v',
      'blocks.L.attn.hook_z',
    ]);
  });

  for (const p of COMBINATIONS) {
    it(`engine = reference on every hook: ${short(p)}`, async () => {
      const expected = referenceRun(ref.cfg, processReferenceWeights(ref.weights, ref.cfg, p), TOKENS, ALL_FLAGS);
      const { worst: w, count, problems } = compare(await engineRun(dir, p), expected);
      assert.deepEqual(problems, []);
      assert.equal(count, expected.cache.size + 1);
      assert.ok(w.err <= TOL, `worst ${w.name}: relErr ${w.err.toExponential(3)} > ${TOL}`);
    });
  }

  for (const p of COMBINATIONS) {
    it(`tied unembedding: engine = reference on every hook: ${short(p)}`, async () => {
      const expected = referenceRun(tiedRef.cfg, processReferenceWeights(tiedRef.weights, tiedRef.cfg, p), TOKENS, ALL_FLAGS);
      const { worst: w, count, problems } = compare(await engineRun(tiedDir, p), expected);
      assert.deepEqual(problems, []);
      assert.equal(count, expected.cache.size + 1);
      assert.ok(w.err <= TOL, `worst ${w.name}: relErr ${w.err.toExponential(3)} > ${TOL}`);
    });
  }

  it("the seed notebook's from_pretrained(fold_ln=True, center_writing_weights=False, center_unembed=False): every hook, and logits and residual streams equal the unprocessed model's", async () => {
    const expected = referenceRun(ref.cfg, processReferenceWeights(ref.weights, ref.cfg, SEED), TOKENS, ALL_FLAGS);
    const engine = await engineRun(dir, SEED);
    const { worst: w, problems } = compare(engine, expected);
    assert.deepEqual(problems, []);
    assert.ok(w.err <= TOL, `worst ${w.name}: relErr ${w.err.toExponential(3)}`);
    // What the notebook's user sees: with no centring, the logits and every residual-stream and
    // block-output hook are the unprocessed model's (fold_ln changes only what reads LayerNorm).
    const same = [
      'blocks.0.hook_resid_pre',
      'blocks.1.hook_resid_mid',
      'blocks.1.hook_resid_post',
      'blocks.0.hook_attn_out',
      'blocks.1.hook_mlp_out',
      'hook_embed',
    ];
    for (const name of same) {
      const err = relErr(engine.acts.get(name)!.data, raw.cache.get(name)!.data);
      assert.ok(err <= TOL, `${name} differs from the unprocessed model: ${err}`);
    }
    assert.ok(relErr(engine.logits.data, raw.logits.data) <= TOL);
    // ... and they are not what TransformerLens's defaults give (which centre them).
    const defaults = referenceRun(ref.cfg, processReferenceWeights(ref.weights, ref.cfg, DEFAULT_PROCESSING), TOKENS, ALL_FLAGS);
    assert.ok(relErr(engine.acts.get('blocks.1.hook_resid_post')!.data, defaults.cache.get('blocks.1.hook_resid_post')!.data) > 1e-3);
    assert.ok(relErr(engine.logits.data, defaults.logits.data) > 1e-3);
  });
});

describe('weight processing: how the switches are named', () => {
  it("says each combination in TransformerLens's words", () => {
    assert.equal(processingCall(NO_PROCESSING), 'from_pretrained_no_processing');
    assert.equal(
      processingCall(SEED),
      'from_pretrained(fold_ln=True, center_writing_weights=False, center_unembed=False, fold_value_biases=True)',
    );
    assert.equal(
      processingCall(DEFAULT_PROCESSING),
      'from_pretrained(fold_ln=True, center_writing_weights=True, center_unembed=True, fold_value_biases=True)',
    );
    assert.equal(
      processingCall({ ...NO_PROCESSING, center_unembed: true }),
      'from_pretrained(fold_ln=False, center_writing_weights=False, center_unembed=True, fold_value_biases=False)',
    );
    assert.deepEqual(processingMetadata(SEED), {
      processing: processingCall(SEED),
      fold_ln: 'True',
      center_writing_weights: 'False',
      center_unembed: 'False',
      fold_value_biases: 'True',
    });
  });

  it("package.json declares modelLens.processing.<switch> for each, a boolean defaulting to TransformerLens's", () => {
    const pkg = JSON.parse(readFileSync(join(__dirname, '../../package.json'), 'utf8')) as {
      contributes: { configuration: { properties: Record<string, { type: string; default: unknown }> } };
    };
    const props = pkg.contributes.configuration.properties;
    const declared = Object.keys(props)
      .filter((k) => k.startsWith(`${PROCESSING_SETTING}.`))
      .sort();
    assert.deepEqual(declared, PROCESSING_SWITCHES.map((k) => `${PROCESSING_SETTING}.${processingSettingKey(k)}`).sort());
    for (const k of PROCESSING_SWITCHES) {
      const p = props[`${PROCESSING_SETTING}.${processingSettingKey(k)}`]!;
      assert.equal(p.type, 'boolean');
      assert.equal(p.default, DEFAULT_PROCESSING[k]);
    }
    assert.equal(processingSettingKey('center_writing_weights'), 'centerWritingWeights');
  });

  it('presets: defaults, the seed notebook, none; anything else is custom', () => {
    assert.equal(presetOf(DEFAULT_PROCESSING)?.id, 'defaults');
    assert.equal(presetOf(SEED)?.id, 'seed');
    assert.equal(presetOf(NO_PROCESSING)?.id, 'none');
    assert.equal(presetOf({ ...NO_PROCESSING, fold_ln: true }), undefined);
    assert.equal(new Set(PROCESSING_PRESETS.map((p) => processingCall(p.options))).size, PROCESSING_PRESETS.length);
  });

  it('ModelOptions: processing:false is all off; otherwise each switch defaults to on', () => {
    assert.deepEqual(resolveProcessing({}), DEFAULT_PROCESSING);
    assert.deepEqual(resolveProcessing({ processing: false, fold_ln: true }), NO_PROCESSING);
    assert.deepEqual(resolveProcessing({ center_writing_weights: false, center_unembed: false }), SEED);
  });

  it('fold_ln on weights already folded (LNPre) is skipped with a warning, as TransformerLens does', async () => {
    const d = mkdtempSync(join(tmpdir(), 'modellens-switches-'));
    try {
      await generateTinyGpt2(d, { seed: 2 });
      const { cfg, weights } = await loadCheckpoint(d);
      const once = processWeights(cfg, weights, { ...NO_PROCESSING, fold_ln: true });
      assert.deepEqual(once.warnings, []);
      const twice = processWeights(once.cfg, once.weights, { ...NO_PROCESSING, fold_ln: true });
      assert.equal(twice.warnings.length, 1);
      assert.match(twice.warnings[0]!, /fold_ln=True but no LayerNorm weights/);
      assert.equal(twice.weights.W_U.data, once.weights.W_U.data, 'nothing folded twice');
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });
});

describe('model-lens run: the processing flags', { timeout: 120_000 }, () => {
  const flags = (...args: string[]): Record<string, unknown> => {
    const v: Record<string, unknown> = {};
    for (const a of args) v[a.replace(/^--/, '')] = true;
    return v;
  };

  it('each switch has --X and --no-X over the TransformerLens defaults; --no-processing is all off', () => {
    assert.deepEqual(processingFromFlags({}), DEFAULT_PROCESSING);
    assert.deepEqual(processingFromFlags(flags('--no-center-writing-weights', '--no-center-unembed')), SEED);
    assert.deepEqual(processingFromFlags(flags('--no-processing')), NO_PROCESSING);
    assert.deepEqual(processingFromFlags(flags('--no-processing', '--no-fold-ln')), NO_PROCESSING);
    assert.deepEqual(processingFromFlags(flags('--fold-ln', '--no-fold-value-biases')), {
      ...DEFAULT_PROCESSING,
      fold_value_biases: false,
    });
  });

  it('refuses contradictions, naming both flags', () => {
    assert.throws(
      () => processingFromFlags(flags('--no-processing', '--center-unembed')),
      (e: unknown) => e instanceof UsageError && /--no-processing .*contradicts --center-unembed/.test(e.message),
    );
    assert.throws(
      () => processingFromFlags(flags('--fold-ln', '--no-fold-ln')),
      (e: unknown) => e instanceof UsageError && /--fold-ln and --no-fold-ln contradict/.test(e.message),
    );
  });

  it('runs the seed combination, prints it, and records it in the export', async () => {
    const d = mkdtempSync(join(tmpdir(), 'modellens-switches-cli-'));
    try {
      await generateTinyGpt2(join(d, 'model'), { seed: 5 });
      const out = join(d, 'cache.safetensors');
      let stdout = '';
      let stderr = '';
      const code = await runCommand.run(
        [
          '--model',
          join(d, 'model'),
          '--tokens',
          '50256,464,3290',
          '--no-center-writing-weights',
          '--no-center-unembed',
          '--out',
          out,
          '--top-k',
          '1',
        ],
        { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t) },
      );
      assert.equal(code, 0, stderr);
      assert.match(
        stdout,
        /^processing: from_pretrained\(fold_ln=True, center_writing_weights=False, center_unembed=False, fold_value_biases=True\)$/m,
      );
      const bytes = readFileSync(out);
      const meta = (
        JSON.parse(bytes.subarray(8, 8 + Number(bytes.readBigUInt64LE(0))).toString('utf8')) as { __metadata__: Record<string, string> }
      ).__metadata__;
      assert.deepEqual(
        {
          processing: meta.processing,
          fold_ln: meta.fold_ln,
          center_writing_weights: meta.center_writing_weights,
          center_unembed: meta.center_unembed,
          fold_value_biases: meta.fold_value_biases,
        },
        processingMetadata(SEED),
      );
      await assert.rejects(
        runCommand.run(['--model', join(d, 'model'), '--tokens', '1', '--no-processing', '--fold-ln'], {
          stdout: () => undefined,
          stderr: () => undefined,
        }),
        (e: unknown) => e instanceof UsageError && /contradicts --fold-ln/.test(e.message),
      );
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });
});
