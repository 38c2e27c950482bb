// The activation panel's ablations and where mean and resample ablations take their values: the
// list of ablated heads and neurons (each with zero, mean or resample), the mean's source (this
// prompt, or a file's text) and the resample prompt. resolve() turns them into the engine's
// interventions in the worker for one run's tokens (the means and resampled values are read there).
import type { Intervention } from '../../engine/interventions';
import type { PanelAblation } from '../../protocol/activation';
import { END_OF_TEXT_ID, encode } from '../../tokenizer';
import type { LoadedEngine } from './engineService';

export class PanelAblations {
  private list: PanelAblation[] = [];
  /** undefined: the mean over the prompt's own positions. */
  private meanFrom: { readonly label: string; readonly tokens: readonly number[] } | undefined;
  private resample = '';

  get ablations(): readonly PanelAblation[] {
    return this.list;
  }

  /** '' for the prompt's own positions, else "notes.md (312 tokens)". */
  get meanSource(): string {
    return this.meanFrom?.label ?? '';
  }

  get resamplePrompt(): string {
    return this.resample;
  }

  /** Adds one ablation; the same head or neuron again replaces its method. */
  add(a: PanelAblation): void {
    const same = (x: PanelAblation): boolean => x.kind === a.kind && x.layer === a.layer && x.index === a.index;
    // Zero is the default and stays unsaid (an ablation without a method is a zero-ablation).
    const method = a.method && a.method !== 'zero' ? { method: a.method } : {};
    this.list = [...this.list.filter((x) => !same(x)), { kind: a.kind, layer: a.layer, index: a.index, ...method }];
  }

  clear(): void {
    this.list = [];
  }

  uses(method: 'mean' | 'resample'): boolean {
    return this.list.some((a) => a.method === method);
  }

  setMeanSource(src: { label: string; tokens: readonly number[] } | undefined): void {
    this.meanFrom = src;
  }

  setResamplePrompt(text: string): void {
    this.resample = text;
  }

  /** The interventions for a run on `tokens`; resample ablations need the resample prompt to be as long. */
  async resolve(engine: LoadedEngine, tokens: readonly number[], signal: AbortSignal): Promise<Intervention[]> {
    if (this.list.length === 0) return [];
    if (this.uses('resample') && this.resample === '') {
      throw new Error('resample ablation takes values from another prompt: type one under "resample from" first');
    }
    const r = await engine.client.experiment(
      {
        op: 'interventions',
        tokens,
        ablations: this.list.map((a) => ({ target: a.kind, layer: a.layer, index: a.index, kind: a.method ?? 'zero' })),
        ...(this.meanFrom ? { meanTokens: this.meanFrom.tokens } : {}),
        ...(this.uses('resample') ? { resampleTokens: [END_OF_TEXT_ID, ...encode(this.resample)] } : {}),
      },
      signal,
    );
    if (r.op !== 'interventions') throw new Error('unexpected engine reply');
    return r.interventions;
  }
}
