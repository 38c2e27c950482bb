// Weights stored at half precision (ModelOptions.dtype 'fp16', like TransformerLens's
// dtype=torch.float16): the model keeps one float16 copy of each weight, sessions are fed it and
// Cast it to float32 inside the graph, so every activation is computed in float32 from weights
// rounded once to float16. Half the weights' memory; the hooks' error against the float64
// reference is in README.md.
//
// Views that read weights (the logit lens, direct logit attribution, ActivationCache) see
// float32 tensors decoded on access; a decoded array lives only while something holds it.
import { halfSourceOf, setHalfSource } from './halfSource';
import { f16BitsToNumber, numberToF16Bits } from './safetensors/dtypes';
import { tiedW_U } from './tiedUnembed';
import type { BlockWeights, GPT2Weights, Tensor } from './types';

export type WeightDtype = 'fp32' | 'fp16' | 'bf16';
export const WEIGHT_DTYPES: readonly WeightDtype[] = ['fp32', 'fp16', 'bf16'];

/** Why bf16 is refused: said once, where the option is checked. */
export const BF16_UNAVAILABLE =
  "dtype 'bf16' is not available: onnxruntime-node 1.30 has no bfloat16 tensor type to feed the weights with; use 'fp16' (half the memory, float16's rounding)";

export function isWeightDtype(s: string): s is WeightDtype {
  return (WEIGHT_DTYPES as readonly string[]).includes(s);
}

/**
 * float32 → float16 bits, rounding to nearest, ties to even. Normal halves take the inline path
 * (a hundred million weights: a function call each would be seconds); zeros, subnormals,
 * overflow, infinities and NaN go through numberToF16Bits.
 */
export function toF16(data: Float32Array): Uint16Array {
  const bits = new Uint32Array(data.buffer, data.byteOffset, data.length);
  const out = new Uint16Array(data.length);
  for (let i = 0; i < bits.length; i++) {
    const x = bits[i]!;
    const exp = (x >>> 23) & 0xff;
    if (exp < 113 || exp > 142) {
      out[i] = numberToF16Bits(data[i]!);
      continue;
    }
    const mant = x & 0x7fffff;
    let h = ((x >>> 16) & 0x8000) | ((exp - 112) << 10) | (mant >>> 13);
    const rest = mant & 0x1fff;
    if (rest > 0x1000 || (rest === 0x1000 && (h & 1) === 1)) h += 1; // a carry into the exponent is right, up to infinity
    out[i] = h;
  }
  return out;
}

/** float16 → float32 through a 64K-entry table: every half value is exactly a float32 value. */
let table: Float32Array | null = null;
export function fromF16(bits: Uint16Array): Float32Array {
  if (table === null) {
    table = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) table[h] = f16BitsToNumber(h);
  }
  const out = new Float32Array(bits.length);
  for (let i = 0; i < bits.length; i++) out[i] = table[bits[i]!]!;
  return out;
}

/**
 * A model's weights held once in float16, handed to sessions as float16 (their graphs name each
 * weight by its source, halfSource.ts) and to views as float32 tensors decoded on access (what
 * HookedGPT2.processedWeights returns). Tensors already stored so (halfBlock's) are kept as they are.
 */
export function halfWeights(fp32: GPT2Weights): GPT2Weights {
  const W_E = halfTensor(fp32.W_E);
  const tie = fp32.tiedUnembed;
  return {
    W_E,
    W_pos: halfTensor(fp32.W_pos),
    blocks: fp32.blocks.map(halfBlock),
    ln_final_w: halfOrNull(fp32.ln_final_w),
    ln_final_b: halfOrNull(fp32.ln_final_b),
    // Tied: W_U is computed from the float16 W_E on access (tiedUnembed.ts), not stored again.
    W_U: tie === undefined ? halfTensor(fp32.W_U) : tiedW_U(W_E, tie),
    b_U: halfTensor(fp32.b_U),
    ...(tie === undefined ? {} : { tiedUnembed: tie }),
  };
}

/**
 * One block's tensors stored at half precision, each a float32 view decoded on access (fromPretrained
 * converts each block as soon as it is processed, so its float32 arrays can go).
 */
export function halfBlock(b: BlockWeights): BlockWeights {
  return {
    ln1_w: halfOrNull(b.ln1_w),
    ln1_b: halfOrNull(b.ln1_b),
    W_Q: halfTensor(b.W_Q),
    W_K: halfTensor(b.W_K),
    W_V: halfTensor(b.W_V),
    W_O: halfTensor(b.W_O),
    b_Q: halfTensor(b.b_Q),
    b_K: halfTensor(b.b_K),
    b_V: halfTensor(b.b_V),
    b_O: halfTensor(b.b_O),
    ln2_w: halfOrNull(b.ln2_w),
    ln2_b: halfOrNull(b.ln2_b),
    W_in: halfTensor(b.W_in),
    b_in: halfTensor(b.b_in),
    W_out: halfTensor(b.W_out),
    b_out: halfTensor(b.b_out),
  };
}

function halfOrNull(t: Tensor | null): Tensor | null {
  return t === null ? null : halfTensor(t);
}

/** `t` rounded to float16 and held so; its `data` decodes on access and lives while something holds it. */
function halfTensor(t: Tensor): Tensor {
  return halfSourceOf(t) !== undefined ? t : halfTensorOf(t.dims, toF16(t.data));
}

/** A tensor held as the float16 bits `half`: `data` decodes them on access, kept while something holds it. */
export function halfTensorOf(dims: readonly number[], half: Uint16Array): Tensor {
  let ref: WeakRef<Float32Array> | null = null;
  const view: Tensor = {
    dims: [...dims],
    get data(): Float32Array {
      let d = ref?.deref();
      if (d === undefined) {
        d = fromF16(half);
        ref = new WeakRef(d);
      }
      return d;
    },
  };
  setHalfSource(view, half);
  return view;
}
