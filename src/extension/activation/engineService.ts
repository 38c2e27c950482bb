// One engine worker for the extension's model features (activation panel, inline logits,
// loss highlight, prediction hover): started on first use, loaded with the model acquireModel
// finds, reloaded when modelLens.model changes, ended on deactivation. Every forward pass runs
// in the worker thread, never on the extension host's.
import { join } from 'node:path';
import * as vscode from 'vscode';
import { describeModel, type ResolvedModel } from '../../engine/hub';
import type { HookedGPT2Config } from '../../engine/types';
import { EngineClient } from '../../engine/worker/engineClient';
import { acquireModel } from '../model/acquire';
import { affectsModelSetting } from '../model/modelSettings';

export interface LoadedEngine {
  readonly client: EngineClient;
  readonly cfg: HookedGPT2Config;
  readonly model: ResolvedModel;
  /** Shown wherever numbers are; says "demo model: random weights" for the demo. */
  readonly label: string;
}

export const DEMO_LABEL = 'demo model: random weights';

export class EngineService implements vscode.Disposable {
  private loading: Promise<LoadedEngine> | null = null;
  private client: EngineClient | null = null;
  private readonly subscription: vscode.Disposable;
  private readonly changed = new vscode.EventEmitter<void>();
  /** Fires when the model was unloaded (setting changed): cached results are stale. */
  readonly onDidChangeModel = this.changed.event;

  constructor(private readonly context: vscode.ExtensionContext) {
    this.subscription = vscode.workspace.onDidChangeConfiguration((e) => {
      if (affectsModelSetting(e)) void this.unload().then(() => this.changed.fire());
    });
  }

  /** The loaded model, loading it (and asking for it) on first use. */
  get(token?: vscode.CancellationToken): Promise<LoadedEngine> {
    this.loading ??= this.load(token).catch((e: unknown) => {
      this.loading = null;
      throw e;
    });
    return this.loading;
  }

  /** True once a model is loaded (features that must not trigger a load check this). */
  async peek(): Promise<LoadedEngine | undefined> {
    if (!this.loading) return undefined;
    return this.loading.catch(() => undefined);
  }

  private async load(token?: vscode.CancellationToken): Promise<LoadedEngine> {
    const model = await acquireModel(this.context, token);
    const client = new EngineClient({ workerPath: join(this.context.extensionUri.fsPath, 'dist', 'engineWorker.js') });
    this.client = client;
    const info = await client.load(model.folder, { device: 'cpu' });
    const label = model.isDemo ? `${DEMO_LABEL}` : `${info.cfg.model_name} · ${describeModel(model)}`;
    return { client, cfg: info.cfg, model, label };
  }

  private async unload(): Promise<void> {
    const c = this.client;
    this.client = null;
    this.loading = null;
    if (c) await c.dispose().catch(() => 0);
  }

  dispose(): void {
    this.subscription.dispose();
    this.changed.dispose();
    void this.unload();
  }
}
