// One engine worker for the extension's model features (activation panel, inline logits,
// loss highlight, prediction hover): started on first use, loaded with the model acquireModel
// finds on the provider modelLens.executionProvider asks for, with the processing switches of
// modelLens.processing.*, reloaded when any of these settings changes, ended on deactivation.
// Every forward pass runs in the worker thread, never on the extension host's. The provider
// actually in use (and why, when it is not the one asked for) is published through
// onDidChangeProvider, including a GPU provider failing at run time.
import { join } from 'node:path';
import * as vscode from 'vscode';
import { describeModel, type ResolvedModel } from '../../engine/hub';
import type { DeviceOption, ExecutionProviderName, HookedGPT2Config } from '../../engine/types';
import { EngineClient } from '../../engine/worker/engineClient';
import { acquireModel } from '../model/acquire';
import { affectsModelSetting, PROCESSING_SETTING, readProcessingSetting, readTransformerLensVersion, TL_VERSION_SETTING } from '../model/modelSettings';
import { processingCall } from '../../engine/processing';

export interface LoadedEngine {
  readonly client: EngineClient;
  readonly cfg: HookedGPT2Config;
  readonly model: ResolvedModel;
  /** Shown wherever numbers are; says "demo model: random weights" for the demo. */
  readonly label: string;
  /**
   * The weight processing in TransformerLens's words, shown next to `label` wherever numbers are:
   * e.g. `from_pretrained(fold_ln=True, center_writing_weights=False, center_unembed=False, fold_value_biases=True)`.
   */
  readonly processing: string;
}

export const DEMO_LABEL = 'demo model: random weights';

export const EXECUTION_PROVIDER_SETTING = 'modelLens.executionProvider';
const DEVICES: readonly DeviceOption[] = ['auto', 'webgpu', 'cuda', 'cpu'];

/** modelLens.executionProvider; an unknown value (hand-edited settings.json) counts as 'auto'. */
export function readExecutionProvider(): DeviceOption {
  const v = vscode.workspace.getConfiguration('modelLens').get<string>('executionProvider');
  return DEVICES.find((d) => d === v) ?? 'auto';
}

/** Where the loaded model runs, for the status bar and tests. */
export interface ProviderState {
  /** What modelLens.executionProvider asked for when the model was loaded. */
  readonly requested: DeviceOption;
  readonly provider: ExecutionProviderName;
  /** Why the provider is not the one asked for (fallback at load or at run time); null when it is. */
  readonly notice: string | null;
  /** True when a GPU provider failed while running and the model moved to the CPU. */
  readonly failedAtRunTime: boolean;
  readonly label: string;
}

export class EngineService implements vscode.Disposable {
  private loading: Promise<LoadedEngine> | null = null;
  private client: EngineClient | null = null;
  private readonly subscription: vscode.Disposable;
  private readonly changed = new vscode.EventEmitter<void>();
  /** Fires when the model was unloaded (setting changed): cached results are stale. */
  readonly onDidChangeModel = this.changed.event;
  private providerState: ProviderState | undefined;
  private readonly providerChanged = new vscode.EventEmitter<ProviderState | undefined>();
  /** Fires with the new state when a model loads or changes provider, and with undefined when it is unloaded. */
  readonly onDidChangeProvider = this.providerChanged.event;

  constructor(private readonly context: vscode.ExtensionContext) {
    this.subscription = vscode.workspace.onDidChangeConfiguration((e) => {
      // The old model is disposed now; the next request loads one with the new settings.
      if (affectsModelSetting(e) || e.affectsConfiguration(EXECUTION_PROVIDER_SETTING) || e.affectsConfiguration(TL_VERSION_SETTING) || e.affectsConfiguration(PROCESSING_SETTING)) void this.unload().then(() => this.changed.fire());
    });
  }

  /** The provider of the loaded model; undefined while none is loaded. */
  get provider(): ProviderState | undefined {
    return this.providerState;
  }

  private setProvider(state: ProviderState | undefined): void {
    this.providerState = state;
    this.providerChanged.fire(state);
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
    const requested = readExecutionProvider();
    let label = '';
    const client = new EngineClient({
      workerPath: join(this.context.extensionUri.fsPath, 'dist', 'engineWorker.js'),
      onProviderChange: (e) => {
        // A late event from a worker that was unloaded since says nothing about the current model.
        if (this.client !== client) return;
        this.setProvider({ requested, provider: e.provider, notice: e.notice, failedAtRunTime: true, label });
      },
    });
    this.client = client;
    const info = await client.load(model.folder, { device: requested, transformerLensVersion: readTransformerLensVersion(), ...readProcessingSetting() });
    // A step TransformerLens would skip with a warning is skipped here too, and the user hears of it.
    for (const w of info.processing?.warnings ?? []) void vscode.window.showWarningMessage(`Model Lens: ${w}`);
    const processing = info.processing ? processingCall(info.processing.options) : 'weights used as given';
    // The demo model, or a folder/repository holding the generated tiny GPT-2: random weights either way.
    label = model.isDemo
      ? model.source === 'demo'
        ? DEMO_LABEL
        : `${DEMO_LABEL} · ${describeModel(model)}`
      : `${info.cfg.model_name} · ${describeModel(model)}`;
    if (this.client === client) this.setProvider({ requested, provider: info.provider, notice: info.notice, failedAtRunTime: false, label });
    return { client, cfg: info.cfg, model, label, processing };
  }

  private async unload(): Promise<void> {
    const c = this.client;
    this.client = null;
    this.loading = null;
    if (this.providerState !== undefined) this.setProvider(undefined);
    if (c) await c.dispose().catch(() => 0);
  }

  dispose(): void {
    this.subscription.dispose();
    this.changed.dispose();
    void this.unload().finally(() => this.providerChanged.dispose());
  }
}
