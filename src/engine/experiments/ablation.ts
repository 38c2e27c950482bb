// Ablation kinds and steering, each turned into the engine's in-graph interventions:
//   zero      the heads' (hook_z) or neurons' (mlp.hook_post) values set to 0;
//   mean      set to their mean over the positions of a prompt (the user's own by default, or any
//             other token sequence, e.g. a file's text), broadcast to every position;
//   resample  set to another prompt's values at the same positions (that prompt must be as long);
//   steering  the activation-addition recipe: the difference of two prompts' residual streams at
//             blocks.L.hook_resid_pre, times a coefficient, added at every position of that layer.
import type { Intervention } from '../interventions';
import type { HookedGPT2 } from '../model';
import type { Tensor } from '../types';

export type AblationKind = 'zero' | 'mean' | 'resample';

export interface HeadAblation {
  readonly kind: AblationKind;
  readonly layer: number;
  readonly heads: readonly number[];
}

export interface NeuronAblation {
  readonly kind: AblationKind;
  readonly layer: number;
  readonly neurons: readonly number[];
}

export interface AblationSources {
  /** The tokens whose positions the mean is taken over (mean). */
  readonly meanTokens?: readonly number[];
  /** The prompt the values are resampled from (resample); as long as the ablated prompt. */
  readonly resampleTokens?: readonly number[];
  readonly signal?: AbortSignal;
}

/** [1, pos, ...rest] → [1, 1, ...rest]: the mean over positions, in float64 sums. */
export function meanOverPositions(t: Tensor): Tensor {
  const [, pos] = t.dims as [number, number];
  const inner = t.data.length / pos;
  const sums = new Float64Array(inner);
  for (let p = 0; p < pos; p++) for (let i = 0; i < inner; i++) sums[i] += t.data[p * inner + i]!;
  return { dims: [1, 1, ...t.dims.slice(2)], data: Float32Array.from(sums, (s) => s / pos) };
}

async function hookOf(model: HookedGPT2, tokens: readonly number[], hook: string, signal?: AbortSignal): Promise<Tensor> {
  const { cache } = await model.runWithCache(tokens, { names: [hook], ...(signal ? { signal } : {}) });
  return cache.get(hook);
}

function needResample(src: AblationSources, pos: number): readonly number[] {
  const r = src.resampleTokens;
  if (!r) throw new Error('resample ablation needs another prompt to take the values from');
  if (r.length !== pos) {
    throw new Error(`resample ablation takes values at the same positions: the other prompt is ${r.length} tokens, this one ${pos}`);
  }
  return r;
}

/** The intervention that ablates heads of one layer on `tokens` the chosen way. */
export async function headAblation(
  model: HookedGPT2,
  tokens: readonly number[],
  a: HeadAblation,
  src: AblationSources = {},
): Promise<Intervention> {
  const hook = `blocks.${a.layer}.attn.hook_z`;
  switch (a.kind) {
    case 'zero':
      return { kind: 'ablateHeads', layer: a.layer, heads: a.heads };
    case 'mean': {
      const z = await hookOf(model, src.meanTokens ?? tokens, hook, src.signal); // [1, pos, n_heads, d_head]
      return { kind: 'ablateHeads', layer: a.layer, heads: a.heads, mean: meanOverPositions(z) };
    }
    case 'resample': {
      const other = needResample(src, tokens.length);
      // The other prompt's whole [1, pos, n_heads, d_head] as the ablation value: only the chosen heads take it.
      return { kind: 'ablateHeads', layer: a.layer, heads: a.heads, mean: await hookOf(model, other, hook, src.signal) };
    }
    default: {
      const exhaustive: never = a.kind;
      throw new Error(`unknown ablation ${String(exhaustive)}`);
    }
  }
}

/** The intervention that ablates MLP neurons (hook_post) of one layer the chosen way. */
export async function neuronAblation(
  model: HookedGPT2,
  tokens: readonly number[],
  a: NeuronAblation,
  src: AblationSources = {},
): Promise<Intervention> {
  const hook = `blocks.${a.layer}.mlp.hook_post`;
  switch (a.kind) {
    case 'zero':
      return { kind: 'ablateNeurons', layer: a.layer, neurons: a.neurons };
    case 'mean': {
      const post = await hookOf(model, src.meanTokens ?? tokens, hook, src.signal); // [1, pos, d_mlp]
      return { kind: 'ablateNeurons', layer: a.layer, neurons: a.neurons, mean: meanOverPositions(post) };
    }
    case 'resample': {
      const other = needResample(src, tokens.length);
      // The other prompt's whole [1, pos, d_mlp] as the ablation value: only the chosen neurons take it.
      return { kind: 'ablateNeurons', layer: a.layer, neurons: a.neurons, mean: await hookOf(model, other, hook, src.signal) };
    }
    default: {
      const exhaustive: never = a.kind;
      throw new Error(`unknown ablation ${String(exhaustive)}`);
    }
  }
}

export interface SteeringRequest {
  /** blocks.layer.hook_resid_pre is where the vector is read and added. */
  readonly layer: number;
  /** The prompt to steer towards and the one to steer away from (ActAdd's "Love" − "Hate"). */
  readonly plus: readonly number[];
  readonly minus: readonly number[];
  readonly coefficient: number;
}

/**
 * The steering vector [d_model]: coefficient × (mean resid_pre of `plus` − mean of `minus`) at the
 * layer. The means skip position 0 when both prompts start with the same token (BOS): its stream
 * is identical in both and very large, and with prompts of different lengths it would not cancel.
 */
export async function steeringVector(model: HookedGPT2, req: SteeringRequest, signal?: AbortSignal): Promise<Tensor> {
  if (!Number.isInteger(req.layer) || req.layer < 0 || req.layer >= model.cfg.n_layers) {
    throw new Error(`layer ${req.layer} is out of range 0..${model.cfg.n_layers - 1}`);
  }
  if (!Number.isFinite(req.coefficient)) throw new Error(`the coefficient ${req.coefficient} is not a finite number`);
  const hook = `blocks.${req.layer}.hook_resid_pre`;
  const skip = req.plus[0] === req.minus[0] ? 1 : 0;
  const mean = async (tokens: readonly number[]): Promise<Float64Array> => {
    if (tokens.length <= skip) throw new Error('a steering prompt needs at least one token after BOS');
    const r = await hookOf(model, tokens, hook, signal); // [1, pos, d_model]
    const D = model.cfg.d_model;
    const out = new Float64Array(D);
    for (let p = skip; p < tokens.length; p++) for (let d = 0; d < D; d++) out[d] += r.data[p * D + d]!;
    return out.map((s) => s / (tokens.length - skip));
  };
  const [a, b] = [await mean(req.plus), await mean(req.minus)];
  return { dims: [model.cfg.d_model], data: Float32Array.from(a, (x, d) => req.coefficient * (x - b[d]!)) };
}

/** The steering intervention: the vector added to resid_pre of the layer at every position. */
export async function steering(model: HookedGPT2, req: SteeringRequest, signal?: AbortSignal): Promise<Intervention> {
  return { kind: 'addVector', hook: `blocks.${req.layer}.hook_resid_pre`, vector: await steeringVector(model, req, signal) };
}
