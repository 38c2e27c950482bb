// A small random GPT-2 checkpoint (F32, tiny vocabulary) that the oracle's self-checks use.
// It is written here rather than with the project's generator so the reference can be
// checked without depending on the code it is meant to judge.

import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { seededRandom } from '../support/random';

export interface RandomGpt2Options {
  readonly n_layer: number;
  readonly n_embd: number;
  readonly n_head: number;
  readonly vocab_size: number;
  readonly n_positions: number;
  readonly seed: number;
  /** Key prefix "transformer." as in GPT2LMHeadModel checkpoints. */
  readonly prefix: boolean;
  /** Write a separate lm_head.weight (untied) instead of relying on wte. */
  readonly separateLmHead: boolean;
}

/** Writes an F32 safetensors file from float64 data (rounded to float32). */
export function writeSafetensorsF32(
  path: string,
  tensors: ReadonlyMap<string, { shape: readonly number[]; data: ArrayLike<number> }>,
): void {
  const header: Record<string, unknown> = {};
  let offset = 0;
  for (const [name, t] of tensors) {
    header[name] = { dtype: 'F32', shape: t.shape, data_offsets: [offset, offset + 4 * t.data.length] };
    offset += 4 * t.data.length;
  }
  let json = JSON.stringify(header);
  while ((8 + json.length) % 8) json += ' '; // the format pads the header with spaces to 8-byte alignment
  const headerBytes = Buffer.from(json, 'utf8');
  const out = Buffer.alloc(8 + headerBytes.length + offset);
  out.writeBigUInt64LE(BigInt(headerBytes.length), 0);
  headerBytes.copy(out, 8);
  let at = 8 + headerBytes.length;
  for (const t of tensors.values()) for (let i = 0; i < t.data.length; i++, at += 4) out.writeFloatLE(t.data[i], at);
  writeFileSync(path, out);
}

/** Writes config.json and model.safetensors for a random GPT-2 into `dir`. */
export function writeRandomGpt2(dir: string, o: RandomGpt2Options): void {
  mkdirSync(dir, { recursive: true });
  const rand = seededRandom(o.seed);
  const normal = (): number => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
  const d = o.n_embd;
  const tensors = new Map<string, { shape: number[]; data: Float64Array }>();
  // Biases and LayerNorm parameters are far from 0 and 1 so that every processing step moves numbers.
  const add = (key: string, shape: number[], std: number, mean = 0): void => {
    const data = new Float64Array(shape.reduce((a, b) => a * b, 1));
    for (let i = 0; i < data.length; i++) data[i] = mean + std * normal();
    tensors.set((o.prefix ? 'transformer.' : '') + key, { shape, data });
  };
  add('wte.weight', [o.vocab_size, d], 0.5);
  add('wpe.weight', [o.n_positions, d], 0.2, 0.1);
  for (let l = 0; l < o.n_layer; l++) {
    const h = `h.${l}.`;
    add(`${h}ln_1.weight`, [d], 0.2, 1);
    add(`${h}ln_1.bias`, [d], 0.2);
    add(`${h}attn.c_attn.weight`, [d, 3 * d], 0.4);
    add(`${h}attn.c_attn.bias`, [3 * d], 0.3);
    add(`${h}attn.c_proj.weight`, [d, d], 0.2);
    add(`${h}attn.c_proj.bias`, [d], 0.2);
    add(`${h}ln_2.weight`, [d], 0.2, 1);
    add(`${h}ln_2.bias`, [d], 0.2);
    add(`${h}mlp.c_fc.weight`, [d, 4 * d], 0.3);
    add(`${h}mlp.c_fc.bias`, [4 * d], 0.3);
    add(`${h}mlp.c_proj.weight`, [4 * d, d], 0.2);
    add(`${h}mlp.c_proj.bias`, [d], 0.2);
  }
  add('ln_f.weight', [d], 0.2, 1);
  add('ln_f.bias', [d], 0.2);
  if (o.separateLmHead) {
    const data = new Float64Array(o.vocab_size * d);
    for (let i = 0; i < data.length; i++) data[i] = 0.5 * normal();
    tensors.set('lm_head.weight', { shape: [o.vocab_size, d], data });
  }
  writeSafetensorsF32(join(dir, 'model.safetensors'), tensors);
  const config = {
    architectures: ['GPT2LMHeadModel'],
    model_type: 'gpt2',
    activation_function: 'gelu_new',
    n_layer: o.n_layer,
    n_embd: d,
    n_head: o.n_head,
    n_positions: o.n_positions,
    n_ctx: o.n_positions,
    n_inner: null,
    vocab_size: o.vocab_size,
    layer_norm_epsilon: 1e-5,
    tie_word_embeddings: !o.separateLmHead,
  };
  writeFileSync(join(dir, 'config.json'), JSON.stringify(config, null, 2));
}
