// One engine worker for the extension's model features (activation panel, inline logits,
// loss highlight, prediction hover): started on first use, loaded with the model acquireModel
// finds on the provider modelLens.executionProvider asks for, with the processing switches of
// modelLens.processing.*, reloaded when any of these settings changes, ended on deactivation.
// Every forward pass runs in the worker thread, never on the extension host's. The provider
// actually in use (and why, when it is not the one asked for) is published through
// onDidChangeProvider, including a GPU provider failing at run time.
// The worker is supervised by EngineClient: when it dies, the service logs why, shows it in the
// provider status item and says so once in a notification; when it died too often to be
// restarted, an error notification offers the retry (a setting change retries too).
import { join } from 'node:path';
import * as vscode from 'vscode';
import { describeModel, type ResolvedModel } from '../../engine/hub';
import type { DeviceOption, ExecutionProviderName, HookedGPT2Config } from '../../engine/types';
import { EngineClient, type WorkerDeath } from '../../engine/worker/engineClient';
import type { LoadedReply } from '../../engine/worker/protocol';
import { acquireModel } from '../model/acquire';
import { describeLoadProgress, type LoadProgressText } from './loadProgressText';
import {
  affectsModelSetting,
  PROCESSING_SETTING,
  readProcessingSetting,
  readTransformerLensVersion,
  TL_VERSION_SETTING,
  DTYPE_SETTING,
  readIdleDisposeMinutes,
  readWeightDtype,
  readCacheProcessedWeights,
} from '../model/modelSettings';
import { processingCall } from '../../engine/processing';
import type { WeightDtype } from '../../engine/weightDtype';

/** Under the extension's global storage: processed weights kept between loads (checkpoint/processedCache.ts). */
const PROCESSED_WEIGHTS_FOLDER = 'processed-weights';

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
  /** modelLens.dtype as it was when the model loaded. */
  readonly dtype: WeightDtype;
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
  /** Set after the engine worker died: what happened and whether it restarts; absent while it never did. */
  readonly workerNotice?: string;
  /** Where the loaded weights came from: the checkpoint, processed on load, or the processed-weights cache. */
  readonly weightsFrom?: 'checkpoint' | 'processed-weights cache';
}

/** The provider state of a model just loaded (or loaded again after the worker restarted). */
function loadedProvider(info: LoadedReply, requested: DeviceOption, label: string): ProviderState {
  return {
    requested,
    provider: info.provider,
    notice: info.notice,
    failedAtRunTime: false,
    label,
    weightsFrom: info.fromProcessedCache ? 'processed-weights cache' : 'checkpoint',
  };
}

const LOG_PLACE = 'the log is in the Output panel, channel "Model Lens"';
const LOG_SENTENCE = 'The log is in the Output panel, channel "Model Lens".';
const RESTART_ACTION = 'Restart engine';

export class EngineService implements vscode.Disposable {
  private loading: Promise<LoadedEngine> | null = null;
  /** The previous model's worker ending: a new one loads only after it, so two models are never held at once. */
  private unloading: Promise<void> = Promise.resolve();
  private client: EngineClient | null = null;
  /** The client whose model is being read into the worker now (cancelLoad ends it); null otherwise. */
  private clientLoading: EngineClient | null = null;
  private readonly subscription: vscode.Disposable;
  private readonly changed = new vscode.EventEmitter<void>();
  /** Fires when the model was unloaded (setting changed): cached results are stale. */
  readonly onDidChangeModel = this.changed.event;
  private readonly changing = new vscode.EventEmitter<void>();
  /**
   * Fires when a setting change is about to unload the model, before the worker ends: a feature
   * whose request is in flight (Continue Text) hears why it stops before the request fails with
   * the worker's AbortError, and without waiting for the unload as onDidChangeModel does.
   */
  readonly onWillChangeModel = this.changing.event;
  private providerState: ProviderState | undefined;
  private readonly providerChanged = new vscode.EventEmitter<ProviderState | undefined>();
  /** Fires with the new state when a model loads or changes provider, and with undefined when it is unloaded. */
  readonly onDidChangeProvider = this.providerChanged.event;
  private readonly loadProgressed = new vscode.EventEmitter<LoadProgressText>();
  /** Fires as the worker reads, processes and builds the model being loaded (the panel's busy line shows it). */
  readonly onLoadProgress = this.loadProgressed.event;

  constructor(
    private readonly context: vscode.ExtensionContext,
    private readonly log: (line: string) => void = () => undefined,
  ) {
    this.subscription = vscode.workspace.onDidChangeConfiguration((e) => {
      // The old model is disposed now (a run in progress is not waited for); the next request
      // loads one with the new settings, with a fresh restart allowance.
      if (
        affectsModelSetting(e) ||
        e.affectsConfiguration(EXECUTION_PROVIDER_SETTING) ||
        e.affectsConfiguration(TL_VERSION_SETTING) ||
        e.affectsConfiguration(DTYPE_SETTING) ||
        e.affectsConfiguration(PROCESSING_SETTING)
      ) {
        this.changing.fire();
        this.unloading = this.unload();
        void this.unloading.then(() => this.changed.fire());
      }
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

  /** Set while the model is unloaded for being idle: what the status item says until the next request. */
  idleNotice: string | undefined;
  private idleTimer: NodeJS.Timeout | undefined;

  /**
   * Every request passes get(): it (re)starts the idle countdown (modelLens.idleDisposeMinutes).
   * When it runs out with nothing in flight the worker and its model are ended; the next get()
   * loads them again. A request still running puts the unload off by another period.
   */
  private touch(): void {
    clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    const minutes = readIdleDisposeMinutes();
    if (minutes <= 0) return;
    this.idleTimer = setTimeout(() => {
      this.idleTimer = undefined;
      const client = this.client;
      if (client === null) return;
      if (client.inFlight > 0) return this.touch();
      this.log(`model unloaded after ${minutes} minute(s) unused (modelLens.idleDisposeMinutes); the next request loads it again`);
      this.idleNotice = `unloaded after ${minutes} min unused; the next request loads it again (modelLens.idleDisposeMinutes)`;
      // onDidChangeModel is not fired: the model is the same, and listeners would load it right back.
      this.unloading = this.unload();
    }, minutes * 60_000);
    this.idleTimer.unref();
  }

  /** The loaded model, loading it (and asking for it) on first use. */
  get(token?: vscode.CancellationToken): Promise<LoadedEngine> {
    this.touch();
    if (this.loading === null) {
      const loading: Promise<LoadedEngine> = this.load(token).catch((e: unknown) => {
        // Only this load's failure clears it: a cancelled load may settle after the next one began.
        if (this.loading === loading) this.loading = null;
        throw e;
      });
      this.loading = loading;
      void loading.then(
        (e) => {
          if (this.loading === loading) this.settled = e;
        },
        () => undefined,
      );
    }
    return this.loading;
  }

  /** The model once its load has finished; undefined while none is loaded or one is still loading. */
  private settled: LoadedEngine | undefined;

  /**
   * The loaded model, without waiting: for features that must stay instant (hovers). peek() waits
   * for a load in progress, which may be waiting on the user (a model to pick, a download to
   * allow); a hover must not.
   */
  loadedNow(): LoadedEngine | undefined {
    return this.loading === null ? undefined : this.settled;
  }

  /** True while the weights are being read into the worker (after the model was found). */
  get isLoadingWeights(): boolean {
    return this.clientLoading !== null;
  }

  /**
   * Stops a model load in progress: the worker reading the weights is ended (its memory goes with
   * it), and every feature waiting for the model gets an AbortError. The next request loads again.
   */
  cancelLoad(): void {
    if (this.clientLoading === null || this.clientLoading !== this.client) return;
    this.log('model load cancelled by the user');
    this.unloading = this.unload();
  }

  /** True once a model is loaded (features that must not trigger a load check this). */
  async peek(): Promise<LoadedEngine | undefined> {
    if (!this.loading) return undefined;
    return this.loading.catch(() => undefined);
  }

  private async load(token?: vscode.CancellationToken): Promise<LoadedEngine> {
    this.idleNotice = undefined;
    const model = await acquireModel(this.context, token);
    await this.unloading;
    const requested = readExecutionProvider();
    let label = '';
    let announced = false;
    const client: EngineClient = new EngineClient({
      workerPath: join(this.context.extensionUri.fsPath, 'dist', 'engineWorker.js'),
      exhaustedHint: `Retry with "${RESTART_ACTION}" in the notification or by changing a Model Lens setting; ${LOG_PLACE}.`,
      onProviderChange: (e) => {
        // A late event from a worker that was unloaded since says nothing about the current model.
        if (this.client !== client) return;
        this.setProvider({ ...this.providerState, requested, provider: e.provider, notice: e.notice, failedAtRunTime: true, label });
      },
      onWorkerDied: (d) => {
        if (this.client !== client) return;
        const first = !announced;
        announced = true;
        this.workerDied(client, d, first);
      },
      onWorkerRestarted: (info) => {
        if (this.client !== client) return;
        this.log(`engine worker restarted; ${label} loaded again on ${info.provider}`);
        const previous = this.providerState?.workerNotice;
        this.setProvider({
          ...loadedProvider(info, requested, label),
          ...(previous !== undefined ? { workerNotice: `${previous.replace(/; it restarts.*$/, '')}; restarted since` } : {}),
        });
      },
    });
    this.client = client;
    this.clientLoading = client;
    const dtype = readWeightDtype();
    const info = await withLoadProgress(
      describeModel(model),
      () => this.cancelLoad(),
      (onProgress) =>
        client.load(
          model.folder,
          {
            device: requested,
            transformerLensVersion: readTransformerLensVersion(),
            dtype,
            ...readProcessingSetting(),
            ...(readCacheProcessedWeights()
              ? { processedWeightsCache: join(this.context.globalStorageUri.fsPath, PROCESSED_WEIGHTS_FOLDER) }
              : {}),
          },
          undefined,
          (p) => {
            if (this.clientLoading !== client) return; // a cancelled load's last words
            const text = describeLoadProgress(p, vscode.env.language);
            onProgress(text);
            this.loadProgressed.fire(text);
          },
        ),
    ).finally(() => {
      if (this.clientLoading === client) this.clientLoading = null;
    });
    // A step TransformerLens would skip with a warning is skipped here too, and the user hears of it.
    for (const w of info.processing?.warnings ?? []) void vscode.window.showWarningMessage(`Model Lens: ${w}`);
    const processing = info.processing ? processingCall(info.processing.options) : 'weights used as given';
    // The demo model, or a folder/repository holding the generated tiny GPT-2: random weights either way.
    label = model.isDemo
      ? model.source === 'demo'
        ? DEMO_LABEL
        : `${DEMO_LABEL} · ${describeModel(model)}`
      : `${info.cfg.model_name} · ${describeModel(model)}`;
    if (this.client === client) this.setProvider(loadedProvider(info, requested, label));
    if (this.client === client) {
      this.log(
        info.fromProcessedCache
          ? `${label}: processed weights read from the cache (modelLens.cacheProcessedWeights)`
          : `${label}: loaded and processed (${processing})`,
      );
    }
    if (this.client === client && info.warnings.length > 0) {
      // The model still loads (as TransformerLens would), but its numbers may be NaN: say which tensors.
      for (const w of info.warnings) this.log(`warning: ${label}: ${w}`);
      void vscode.window.showWarningMessage(`Model Lens: ${label}: ${info.warnings.join('; ')}`);
    }
    return { client, cfg: info.cfg, model, label, processing, dtype };
  }

  /** Logs a worker death, shows it in the status item, and tells the user (once per model, or when restarts ran out). */
  private workerDied(client: EngineClient, d: WorkerDeath, first: boolean): void {
    const what = `the engine worker stopped (${d.reason})`;
    const next = d.exhausted
      ? 'it is not restarted until you retry'
      : `it restarts with the model on the next request (${d.restartsLeft} more restart(s) this minute)`;
    this.log(`${what}; ${d.inFlight} request(s) in flight failed; ${next}`);
    const state = this.providerState;
    if (state !== undefined) this.setProvider({ ...state, workerNotice: `${what} at ${new Date().toLocaleTimeString()}; ${next}` });
    if (d.exhausted) {
      void vscode.window.showErrorMessage(`Model Lens: ${what} too often; ${next}. ${LOG_SENTENCE}`, RESTART_ACTION).then((choice) => {
        if (choice !== RESTART_ACTION || this.client !== client) return;
        client.resetRestarts();
        this.log('engine worker: restarts allowed again (retried by the user)');
        const now = this.providerState;
        if (now !== undefined) this.setProvider({ ...now, workerNotice: `${what}; retried: it restarts on the next request` });
      });
    } else if (first) {
      void vscode.window.showWarningMessage(`Model Lens: ${what}; ${next}. ${LOG_SENTENCE}`);
    }
  }

  private async unload(): Promise<void> {
    const c = this.client;
    this.client = null;
    this.clientLoading = null;
    this.loading = null;
    this.settled = undefined;
    if (this.providerState !== undefined) this.setProvider(undefined);
    if (c) await c.dispose().catch(() => 0);
  }

  dispose(): void {
    clearTimeout(this.idleTimer);
    this.subscription.dispose();
    this.changed.dispose();
    this.changing.dispose();
    this.loadProgressed.dispose();
    void this.unload().finally(() => this.providerChanged.dispose());
  }
}

/** How often the notification's bytes-read figure may change (the worker reports every tensor). */
const REPORT_EVERY_MS = 200;

/** Loads shorter than this show no notification (the demo model loads in a blink). */
const LOAD_NOTICE_AFTER_MS = 500;

/**
 * Runs `load` with a cancellable notification, shown once it has taken LOAD_NOTICE_AFTER_MS: the
 * stage the engine reports (bytes of weights read, processing, building sessions), a bar that
 * follows it, and the seconds so far. Loading serves every feature, so it is said where every
 * feature's user sees it.
 */
async function withLoadProgress<T>(
  what: string,
  cancel: () => void,
  load: (onProgress: (p: LoadProgressText) => void) => Promise<T>,
): Promise<T> {
  const started = Date.now();
  let latest: LoadProgressText | undefined;
  let report: (() => void) | undefined;
  let lastReport = 0;
  let finish: () => void = () => undefined;
  const done = new Promise<void>((resolve) => (finish = resolve));
  const timer = setTimeout(() => {
    void vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: `Model Lens: loading ${what}`, cancellable: true },
      async (progress, token) => {
        token.onCancellationRequested(cancel);
        // The notification's bar only takes increments (percent); `shown` is how far it is.
        let shown = 0;
        report = (): void => {
          const secs = `${Math.round((Date.now() - started) / 1000).toLocaleString()} s`;
          const target = Math.round((latest?.fraction ?? 0) * 100);
          const increment = Math.max(0, target - shown);
          shown += increment;
          progress.report({ message: latest ? `${latest.detail} · ${secs}` : secs, ...(increment > 0 ? { increment } : {}) });
        };
        report();
        const every = setInterval(report, 1000);
        await done;
        clearInterval(every);
        report = undefined;
      },
    );
  }, LOAD_NOTICE_AFTER_MS);
  try {
    return await load((p) => {
      const stageChanged = latest?.detail.split(' ')[0] !== p.detail.split(' ')[0];
      latest = p;
      // A new stage is said at once; bytes read (a message per tensor) at most every REPORT_EVERY_MS.
      if (stageChanged || Date.now() - lastReport >= REPORT_EVERY_MS) {
        lastReport = Date.now();
        report?.();
      }
    });
  } finally {
    clearTimeout(timer);
    finish();
  }
}
