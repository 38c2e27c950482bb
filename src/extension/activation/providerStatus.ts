// Status bar item for the execution provider the model runs on ("$(chip) GPT-2 · webgpu"),
// hidden while no model is loaded. A fallback is logged, shown in the tooltip and, when the
// user asked for a provider by name or a GPU provider failed while running, announced once in
// a non-modal warning. 'auto' landing on the CPU of a machine without a usable GPU is logged
// and shown in the tooltip only: that is auto working as described, and a popup on every
// start would be noise.
import * as vscode from 'vscode';
import type { EngineService, ProviderState } from './engineService';
import { autoCpuFallbackIsNews } from '../../engine/ort/providerPlan';

/** What in-host tests read (hidden command modelLens.engine.state). */
export interface ProviderStatusSnapshot {
  readonly state: ProviderState | undefined;
  readonly visible: boolean;
  readonly text: string;
  readonly tooltip: string;
}

export class ProviderStatus implements vscode.Disposable {
  readonly item: vscode.StatusBarItem;
  private visible = false;
  private readonly subscription: vscode.Disposable;
  /** Notices already announced, so a reload with the same outcome does not pop up again. */
  private readonly announced = new Set<string>();

  constructor(
    private readonly engine: EngineService,
    private readonly log: (line: string) => void,
  ) {
    this.item = vscode.window.createStatusBarItem('modelLens.executionProvider', vscode.StatusBarAlignment.Right, 99);
    this.item.name = 'Model Lens: execution provider';
    this.item.command = {
      title: 'Execution provider setting',
      command: 'workbench.action.openSettings',
      arguments: ['modelLens.executionProvider'],
    };
    this.subscription = engine.onDidChangeProvider((s) => this.show(s));
    this.show(engine.provider);
  }

  get snapshot(): ProviderStatusSnapshot {
    const tooltip = this.item.tooltip;
    return {
      state: this.engine.provider,
      visible: this.visible,
      text: this.visible ? this.item.text : '',
      tooltip: typeof tooltip === 'string' ? tooltip : (tooltip?.value ?? ''),
    };
  }

  private show(s: ProviderState | undefined): void {
    if (s === undefined) {
      const idle = this.engine.idleNotice;
      if (idle !== undefined) {
        // Unloaded for being idle (modelLens.idleDisposeMinutes): said until the next request reloads it.
        this.item.text = '$(chip) GPT-2 · unloaded';
        this.item.tooltip = `Model Lens: the model was ${idle}.`;
        this.item.show();
        this.visible = true;
        return;
      }
      this.item.hide();
      this.visible = false;
      return;
    }
    // 'auto' falling back is announced when it fails at run time, or lands on the CPU where a GPU
    // was expected (macOS, Windows); otherwise the tooltip says why.
    const autoMissedGpu = s.requested === 'auto' && s.provider === 'cpu' && autoCpuFallbackIsNews(process.platform);
    const fellBack = s.notice !== null && (s.requested !== 'auto' || s.failedAtRunTime || autoMissedGpu);
    this.item.text = `$(chip) GPT-2 · ${s.provider}${fellBack || s.workerNotice !== undefined ? ' $(warning)' : ''}`;
    this.item.tooltip = [
      `Model: ${s.label}`,
      `Execution provider: ${s.provider} (modelLens.executionProvider: ${s.requested})`,
      ...(s.weightsFrom === 'processed-weights cache'
        ? ['Weights: read already processed from the cache (modelLens.cacheProcessedWeights)']
        : []),
      ...(s.notice !== null ? [`Fallback: ${s.notice}`] : []),
      ...(s.workerNotice !== undefined ? [`Engine: ${s.workerNotice}`] : []),
      'Click to change the execution provider.',
    ].join('\n');
    this.item.show();
    this.visible = true;
    if (s.notice === null) return;
    this.log(`execution provider: asked for ${s.requested}, running on ${s.provider}: ${s.notice}`);
    if (fellBack && !this.announced.has(s.notice)) {
      this.announced.add(s.notice);
      void vscode.window.showWarningMessage(`Model Lens runs GPT-2 on ${s.provider}: ${s.notice}`);
    }
  }

  dispose(): void {
    this.subscription.dispose();
    this.item.dispose();
  }
}
