// The activation panel's ablations and steering, turned into the engine's interventions in the
// worker: the panel lists single heads and neurons with the way each is ablated (zero, mean,
// resample); heads and neurons of one layer ablated the same way become one intervention, and the
// mean or resampled values are read from the prompts here (ablation.ts), next to the model.
import type { Intervention } from '../interventions';
import type { HookedGPT2 } from '../model';
import { headAblation, neuronAblation, steering, type AblationKind, type SteeringRequest } from './ablation';

export interface AblationSpec {
  readonly target: 'head' | 'neuron';
  readonly layer: number;
  readonly index: number;
  readonly kind: AblationKind;
}

export interface PanelInterventionRequest {
  /** The prompt the ablations apply to (mean over its positions by default). */
  readonly tokens: readonly number[];
  readonly ablations: readonly AblationSpec[];
  /** Mean ablation over these tokens instead of the prompt's (e.g. a file's text). */
  readonly meanTokens?: readonly number[];
  /** Resample ablation takes values from this prompt, at the same positions. */
  readonly resampleTokens?: readonly number[];
  readonly steering?: SteeringRequest;
}

/** Every ablation and the steering vector as interventions, in a stable order (heads, neurons, steering). */
export async function panelInterventions(model: HookedGPT2, req: PanelInterventionRequest, signal?: AbortSignal): Promise<Intervention[]> {
  const groups = new Map<string, { target: 'head' | 'neuron'; layer: number; kind: AblationKind; indices: number[] }>();
  for (const a of req.ablations) {
    const key = `${a.target}:${a.layer}:${a.kind}`;
    const g = groups.get(key) ?? { target: a.target, layer: a.layer, kind: a.kind, indices: [] };
    if (!g.indices.includes(a.index)) g.indices.push(a.index);
    groups.set(key, g);
  }
  const src = {
    ...(req.meanTokens ? { meanTokens: req.meanTokens } : {}),
    ...(req.resampleTokens ? { resampleTokens: req.resampleTokens } : {}),
    ...(signal ? { signal } : {}),
  };
  const sorted = [...groups.values()].sort((x, y) => (x.target === y.target ? x.layer - y.layer : x.target === 'head' ? -1 : 1));
  const out: Intervention[] = [];
  for (const g of sorted) {
    out.push(
      g.target === 'head'
        ? await headAblation(model, req.tokens, { kind: g.kind, layer: g.layer, heads: g.indices }, src)
        : await neuronAblation(model, req.tokens, { kind: g.kind, layer: g.layer, neurons: g.indices }, src),
    );
  }
  if (req.steering) out.push(await steering(model, req.steering, signal));
  return out;
}
