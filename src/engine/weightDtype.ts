// Weights stored at 16 bits (ModelOptions.dtype 'fp16' or 'bf16', like TransformerLens's
// dtype=torch.float16 / torch.bfloat16): the model keeps one 16-bit copy of each weight, sessions
// are fed it and decode it to float32 inside the graph (a Cast for float16; for bfloat16, which
// onnxruntime-node cannot feed, its bits as uint16 looked up in a table: onnx/weightInputs.ts), so
// every activation is computed in float32 from weights rounded once. Half the weights' memory;
// the hooks' error against the float64 reference is in README.md.
//
// Views that read weights (the logit lens, direct logit attribution, ActivationCache) see
// float32 tensors decoded on access; a decoded array lives only while something holds it.
import { decodeHalf, halfSourceOf, setHalfSource, type HalfEncoding, type HalfSource } from './halfSource';
import { numberToBf16Bits, numberToF16Bits } from './safetensors/dtypes';
import { tiedW_U } from './tiedUnembed';
import type { BlockWeights, GPT2Weights, HookedGPT2Config, Tensor } from './types';

export type WeightDtype = 'fp32' | 'fp16' | 'bf16';
export const WEIGHT_DTYPES: readonly WeightDtype[] = ['fp32', 'fp16', 'bf16'];

export function isWeightDtype(s: string): s is WeightDtype {
  return (WEIGHT_DTYPES as readonly string[]).includes(s);
}

/** How a dtype stores the weights at 16 bits; null for fp32. */
export function halfEncodingOf(dtype: WeightDtype): HalfEncoding | null {
  return dtype === 'fp16' ? 'float16' : dtype === 'bf16' ? 'bfloat16' : null;
}

/**
 * float32 → float16 bits, rounding to nearest, ties to even. Normal halves take the inline path
 * (a hundred million weights: a function call each would be seconds); zeros, subnormals,
 * overflow, infinities and NaN go through numberToF16Bits.
 *
 * The inline path is written for V8's speed (gpt2-xl's shape has 1.5 billion weights): the bits
 * are read as int32, whose values stay small integers (as uint32 a negative weight's bits exceed
 * 2^31 and are handled as doubles), and rounding is an addition, not a branch (random low bits make
 * a branch mispredicted half the time): 13 dropped bits plus 0xfff plus the kept last bit carry
 * into bit 13 exactly when they are over half, or half with an odd last bit. 8.5 → 3.4 ns an
 * element here, the same bits.
 */
export function toF16(data: Float32Array, out: Uint16Array = new Uint16Array(data.length)): Uint16Array {
  const bits = new Int32Array(data.buffer, data.byteOffset, data.length);
  const n = bits.length;
  for (let i = 0; i < n; i++) {
    const x = bits[i]!;
    const exp = (x >> 23) & 0xff;
    // exp outside 113..142 (the float16 normals) in one unsigned comparison.
    if ((exp - 113) >>> 0 > 29) {
      out[i] = numberToF16Bits(data[i]!);
      continue;
    }
    const mant = x & 0x7fffff;
    const h = ((x >> 16) & 0x8000) | ((exp - 112) << 10) | (mant >> 13);
    out[i] = h + (((mant & 0x1fff) + 0x0fff + (h & 1)) >> 13); // a carry into the exponent is right, up to infinity
  }
  return out;
}

/**
 * float32 → bfloat16 bits: the top half of each float32, rounded to nearest, ties to even (a carry
 * into the exponent is right, up to infinity; subnormals round the same way, bfloat16 having
 * float32's exponent). NaN goes through numberToBf16Bits, which keeps it a NaN (rounding a NaN's
 * low payload bits could make it infinity).
 */
export function toBf16(data: Float32Array, out: Uint16Array = new Uint16Array(data.length)): Uint16Array {
  const bits = new Uint32Array(data.buffer, data.byteOffset, data.length);
  for (let i = 0; i < bits.length; i++) {
    const x = bits[i]!;
    if ((x & 0x7f800000) === 0x7f800000) {
      out[i] = numberToBf16Bits(data[i]!);
      continue;
    }
    out[i] = (x + 0x7fff + ((x >>> 16) & 1)) >>> 16;
  }
  return out;
}

/** `data` rounded to `encoding`'s 16 bits, written into `slab` where it has room. */
export function toHalf(data: Float32Array, encoding: HalfEncoding, slab?: HalfSlab): HalfSource {
  const out = slab?.take(data.length) ?? new Uint16Array(data.length);
  return { bits: encoding === 'float16' ? toF16(data, out) : toBf16(data, out), encoding };
}

/**
 * One buffer that a load's 16-bit block weights are written into, end to end, instead of an
 * array each. Why: a load reads each float32 tensor into a buffer of its own and frees it once
 * rounded; glibc raises its mmap threshold as such buffers are freed, so the 16-bit arrays made
 * between them land in its heaps among the holes, and the heaps cannot be given back (gpt2-medium's
 * shape in fp16: 909–930 MiB resident after a first load against 822 from the processed-weights
 * cache; 817 with the slab). A buffer this large is mapped on its own and comes back whole.
 * Full, it hands out arrays of their own (a wrong estimate costs memory, not correctness).
 */
export class HalfSlab {
  /** Each array starts on a 64-byte line, as onnxruntime's own allocations do. */
  private static readonly ALIGN = 64;
  private readonly buffer: ArrayBuffer;
  private used = 0;

  constructor(elements: number, tensors: number) {
    this.buffer = new ArrayBuffer(elements * 2 + tensors * HalfSlab.ALIGN);
  }

  /** The 16-bit block weights of a model with `cfg`'s shape: every tensor halfBlock may store. */
  static forBlocks(cfg: Pick<HookedGPT2Config, 'n_layers' | 'd_model' | 'd_mlp'>): HalfSlab {
    const { d_model: d, d_mlp: m } = cfg;
    const perBlock = 4 * d * d + 2 * d * m + 4 * d /* biases of Q, K, V, O */ + m + d /* MLP biases */ + 4 * d; /* LayerNorms */
    return new HalfSlab(cfg.n_layers * perBlock, cfg.n_layers * 16);
  }

  /** `n` elements of the slab, or null when it has no room left. */
  take(n: number): Uint16Array | null {
    const bytes = n * 2;
    if (this.used + bytes > this.buffer.byteLength) return null;
    const out = new Uint16Array(this.buffer, this.used, n);
    this.used = Math.ceil((this.used + bytes) / HalfSlab.ALIGN) * HalfSlab.ALIGN;
    return out;
  }
}

/**
 * A model's weights held once at 16 bits, handed to sessions so (their graphs name each weight by
 * its source, halfSource.ts) and to views as float32 tensors decoded on access (what
 * HookedGPT2.processedWeights returns). Tensors already stored so (halfBlock's) are kept as they are.
 */
export function halfWeights(fp32: GPT2Weights, encoding: HalfEncoding): GPT2Weights {
  const half = (t: Tensor): Tensor => halfTensor(t, encoding);
  const W_E = half(fp32.W_E);
  const tie = fp32.tiedUnembed;
  return {
    W_E,
    W_pos: half(fp32.W_pos),
    blocks: fp32.blocks.map((b) => halfBlock(b, encoding)),
    ln_final_w: halfOrNull(fp32.ln_final_w, encoding),
    ln_final_b: halfOrNull(fp32.ln_final_b, encoding),
    // Tied: W_U is computed from the 16-bit W_E on access (tiedUnembed.ts), not stored again.
    W_U: tie === undefined ? half(fp32.W_U) : tiedW_U(W_E, tie),
    b_U: half(fp32.b_U),
    ...(tie === undefined ? {} : { tiedUnembed: tie }),
  };
}

/**
 * One block's tensors stored at 16 bits, each a float32 view decoded on access (fromPretrained
 * converts each block as soon as it is processed, so its float32 arrays can go).
 */
export function halfBlock(b: BlockWeights, encoding: HalfEncoding, slab?: HalfSlab): BlockWeights {
  const half = (t: Tensor): Tensor => halfTensor(t, encoding, slab);
  return {
    ln1_w: halfOrNull(b.ln1_w, encoding, slab),
    ln1_b: halfOrNull(b.ln1_b, encoding, slab),
    W_Q: half(b.W_Q),
    W_K: half(b.W_K),
    W_V: half(b.W_V),
    W_O: half(b.W_O),
    b_Q: half(b.b_Q),
    b_K: half(b.b_K),
    b_V: half(b.b_V),
    b_O: half(b.b_O),
    ln2_w: halfOrNull(b.ln2_w, encoding, slab),
    ln2_b: halfOrNull(b.ln2_b, encoding, slab),
    W_in: half(b.W_in),
    b_in: half(b.b_in),
    W_out: half(b.W_out),
    b_out: half(b.b_out),
  };
}

function halfOrNull(t: Tensor | null, encoding: HalfEncoding, slab?: HalfSlab): Tensor | null {
  return t === null ? null : halfTensor(t, encoding, slab);
}

/**
 * `t` rounded to `encoding` and held so; its `data` decodes on access and lives while something
 * holds it. A tensor already held so is kept; one held in the other encoding is rounded again.
 */
function halfTensor(t: Tensor, encoding: HalfEncoding, slab?: HalfSlab): Tensor {
  return halfSourceOf(t)?.encoding === encoding ? t : halfTensorOf(t.dims, toHalf(t.data, encoding, slab));
}

/** A tensor held as the 16-bit `source`: `data` decodes it on access, kept while something holds it. */
export function halfTensorOf(dims: readonly number[], source: HalfSource): Tensor {
  let ref: WeakRef<Float32Array> | null = null;
  const view: Tensor = {
    dims: [...dims],
    get data(): Float32Array {
      let d = ref?.deref();
      if (d === undefined) {
        d = decodeHalf(source);
        ref = new WeakRef(d);
      }
      return d;
    },
  };
  setHalfSource(view, source);
  return view;
}
