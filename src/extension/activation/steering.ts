// The steering vector in use (the activation-addition recipe): set from the activation panel's
// Steering view or "Model Lens: Add Steering Vector…", read by the panel's runs and by the inline
// logits, which show the next token with it beside the normal hint. The vector is computed once in
// the worker when set (it does not depend on the prompt) and dropped when the model changes.
import * as vscode from 'vscode';
import type { Intervention } from '../../engine/interventions';
import { END_OF_TEXT_ID, encode } from '../../tokenizer';
import type { PanelSteering } from '../../protocol/activation';
import type { EngineService } from './engineService';

export class SteeringState implements vscode.Disposable {
  private active: { readonly setting: PanelSteering; readonly intervention: Intervention } | undefined;
  private readonly changed = new vscode.EventEmitter<PanelSteering | null>();
  /** Fires with the new setting (null: removed). */
  readonly onDidChange = this.changed.event;
  private readonly subscriptions: vscode.Disposable[];

  constructor(private readonly engine: EngineService) {
    this.subscriptions = [
      this.changed,
      // A vector read from one model's residual stream means nothing to another.
      engine.onDidChangeModel(() => {
        if (this.active) {
          this.active = undefined;
          this.changed.fire(null);
        }
      }),
    ];
  }

  get setting(): PanelSteering | null {
    return this.active?.setting ?? null;
  }

  /** The addVector intervention at the steering layer, or undefined when none is set. */
  get intervention(): Intervention | undefined {
    return this.active?.intervention;
  }

  /** Computes the vector in the worker (the two prompts' mean resid_pre at the layer) and makes it current; null removes it. */
  async set(s: PanelSteering | null, signal?: AbortSignal): Promise<void> {
    if (s === null) {
      this.active = undefined;
      this.changed.fire(null);
      return;
    }
    if (s.plus.trim() === '' || s.minus.trim() === '')
      throw new Error('steering needs two prompts: one to steer towards and one away from');
    const engine = await this.engine.get();
    if (s.layer >= engine.cfg.n_layers) throw new Error(`layer ${s.layer} is out of range 0..${engine.cfg.n_layers - 1}`);
    const r = await engine.client.experiment(
      {
        op: 'interventions',
        tokens: [],
        ablations: [],
        steering: {
          layer: s.layer,
          plus: [END_OF_TEXT_ID, ...encode(s.plus)],
          minus: [END_OF_TEXT_ID, ...encode(s.minus)],
          coefficient: s.coefficient,
        },
      },
      signal,
    );
    if (r.op !== 'interventions' || r.interventions.length !== 1) throw new Error('unexpected engine reply');
    this.active = { setting: s, intervention: r.interventions[0]! };
    this.changed.fire(s);
  }

  dispose(): void {
    for (const d of this.subscriptions) d.dispose();
  }
}
