// A second, deliberately different float64 GPT-2: logits only, straight from the Hugging Face
// tensors in their own Conv1D layout (x @ W + b, fused c_attn), the way GPT2LMHeadModel
// computes them. The self-checks compare it with the hooked reference to catch mistakes in
// the reference's conversion to TransformerLens's layout (head splits, transposes, tying).

import { geluNew } from './gpt2Float64';
import type { RefConfig } from './gpt2Weights64';
import type { RawTensor } from './safetensorsRaw';

export function hfLogits64(raw: Map<string, RawTensor>, cfg: RefConfig, tokens: readonly number[]): Float64Array {
  const { d_model: d, n_heads, d_head, d_vocab } = cfg;
  const P = tokens.length;
  const pre = raw.has('transformer.wte.weight') ? 'transformer.' : '';
  const w = (k: string): Float64Array => {
    const t = raw.get(pre + k);
    if (!t) throw new Error(`hfLogits64: missing ${pre}${k}`);
    return t.data;
  };
  const linear = (x: Float64Array, W: Float64Array, b: Float64Array, nIn: number, nOut: number): Float64Array => {
    const y = new Float64Array(P * nOut);
    for (let p = 0; p < P; p++)
      for (let j = 0; j < nOut; j++) {
        let s = b[j];
        for (let i = 0; i < nIn; i++) s += x[p * nIn + i] * W[i * nOut + j];
        y[p * nOut + j] = s;
      }
    return y;
  };
  const ln = (x: Float64Array, g: Float64Array, b: Float64Array): Float64Array => {
    const y = new Float64Array(x.length);
    for (let p = 0; p < P; p++) {
      const row = x.subarray(p * d, (p + 1) * d);
      const mu = row.reduce((a, v) => a + v, 0) / d;
      const variance = row.reduce((a, v) => a + (v - mu) ** 2, 0) / d;
      for (let i = 0; i < d; i++) y[p * d + i] = ((row[i] - mu) / Math.sqrt(variance + cfg.eps)) * g[i] + b[i];
    }
    return y;
  };

  let h = new Float64Array(P * d); // [pos, d_model]
  const wte = w('wte.weight');
  const wpe = w('wpe.weight');
  for (let p = 0; p < P; p++) for (let i = 0; i < d; i++) h[p * d + i] = wte[tokens[p] * d + i] + wpe[p * d + i];

  for (let l = 0; l < cfg.n_layers; l++) {
    const L = `h.${l}.`;
    const qkv = linear(ln(h, w(`${L}ln_1.weight`), w(`${L}ln_1.bias`)), w(`${L}attn.c_attn.weight`), w(`${L}attn.c_attn.bias`), d, 3 * d); // [pos, 3*d_model]
    const merged = new Float64Array(P * d); // [pos, d_model], heads side by side
    for (let hd = 0; hd < n_heads; hd++)
      for (let qp = 0; qp < P; qp++) {
        const att = new Float64Array(qp + 1);
        for (let kp = 0; kp <= qp; kp++) {
          let s = 0;
          for (let e = 0; e < d_head; e++) s += qkv[qp * 3 * d + hd * d_head + e] * qkv[kp * 3 * d + d + hd * d_head + e];
          att[kp] = s / Math.sqrt(d_head);
        }
        const mx = Math.max(...att);
        let sum = 0;
        for (let kp = 0; kp <= qp; kp++) sum += att[kp] = Math.exp(att[kp] - mx);
        for (let e = 0; e < d_head; e++) {
          let s = 0;
          for (let kp = 0; kp <= qp; kp++) s += (att[kp] / sum) * qkv[kp * 3 * d + 2 * d + hd * d_head + e];
          merged[qp * d + hd * d_head + e] = s;
        }
      }
    const attnOut = linear(merged, w(`${L}attn.c_proj.weight`), w(`${L}attn.c_proj.bias`), d, d);
    h = h.map((v, i) => v + attnOut[i]);
    const fc = linear(ln(h, w(`${L}ln_2.weight`), w(`${L}ln_2.bias`)), w(`${L}mlp.c_fc.weight`), w(`${L}mlp.c_fc.bias`), d, cfg.d_mlp);
    const mlpOut = linear(fc.map(geluNew), w(`${L}mlp.c_proj.weight`), w(`${L}mlp.c_proj.bias`), cfg.d_mlp, d);
    h = h.map((v, i) => v + mlpOut[i]);
  }
  const f = ln(h, w('ln_f.weight'), w('ln_f.bias'));
  // nn.Linear [d_vocab, d_model]: logits = f @ head^T; tied to wte unless the config unties it
  const head = cfg.tie_word_embeddings ? wte : raw.get('lm_head.weight')!.data;
  const logits = new Float64Array(P * d_vocab);
  for (let p = 0; p < P; p++)
    for (let v = 0; v < d_vocab; v++) {
      let s = 0;
      for (let i = 0; i < d; i++) s += f[p * d + i] * head[v * d + i];
      logits[p * d_vocab + v] = s;
    }
  return logits;
}
