// "Model Lens: Open Activation Panel": runs the model on the selection in the engine worker and
// shows attention, neurons, logit lens, residual stream and loss views. A new request or a
// closed panel cancels the run in flight; ablations (zero, mean, resample) and the steering
// vector re-run it with the engine's interventions (panelAblations.ts, steering.ts).
import * as vscode from 'vscode';
import { tokenCount } from '../../common/counts';
import { abortError, isAbortError } from '../../common/errors';
import type { Intervention } from '../../engine/interventions';
import type { PanelResult } from '../../engine/worker/panelCompute';
import {
  ACTIVATION_VIEW_TYPE,
  activationWebviewSchemas,
  isActivationPanelState,
  MAX_SAVED_TEXT,
  type ActivationPanelState,
  type ActivationProtocol,
  type ActivationView,
  type ActBusy,
  type ActExperiment,
  type ActRun,
  type CompareReply,
  type PanelAblation,
  type PanelSteering,
  type SteerTopReply,
} from '../../protocol/activation';
import { assertNever } from '../../protocol/envelope';
import { END_OF_TEXT_ID, encode, tokenDisplay } from '../../tokenizer';
import { documentLength, documentReader } from '../documentText';
import { writeFileAtomic } from '../atomicWrite';
import { headInput, MAX_INPUT_CHARS, truncationNotice } from '../modelInput';
import { exportPathFrom } from '../pathPolicy';

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
import { besideColumn, createPanel, PanelSession, restorePanel, type PanelKind } from '../panel';
import type { EngineService, LoadedEngine } from './engineService';
import type { LoadProgressText } from './loadProgressText';
import { PanelAblations } from './panelAblations';
import type { SteeringState } from './steering';

/** workspaceState key of the last text the panel ran on (see the constructor). */
const LAST_INPUT_KEY = 'modelLens.activation.lastInput';

export const ACTIVATION_PANEL: PanelKind = { viewType: ACTIVATION_VIEW_TYPE, title: 'Activations', bundle: 'activation' };
const TOP_K = 10;
const THUMB = 24;

/** What a panel run produced (the command's return value; tests read it). */
export interface ActivationOutcome {
  readonly runId: number;
  readonly tokens: number[];
  readonly meanLoss: number;
  readonly loss: number[];
  readonly truncated: boolean;
  /** Characters of the input tokenized for this run (a bounded head, never a whole large document). */
  readonly charsTokenized: number;
}

interface Input {
  readonly text: string;
  readonly source: string;
}

type Run = Extract<PanelResult, { op: 'run' }>;

/** An experiment on show: its message, what Export writes, and how a clicked cell gets its top next tokens. */
export interface ShownExperiment {
  readonly msg: ActExperiment;
  readonly json: unknown;
  readonly csv: string;
  /** A file name stem for the save dialog, e.g. "patching-resid_pre". */
  readonly fileStem: string;
  readonly patchTop?: (cell: number) => Promise<{ ids: Int32Array; probs: Float32Array }>;
}

export class ActivationPanelController implements vscode.Disposable {
  private session: PanelSession<ActivationProtocol> | undefined;
  private ready = false;
  private latest: ActRun | undefined;
  // The last status line, replayed when the webview says ready: "Loading the model…" is set
  // before the page has loaded, and a first-use download can take minutes.
  private lastStatus: { message: string; error: boolean } | undefined;
  /** The work in progress the panel shows moving, replayed on ready like lastStatus. */
  private lastBusy: Omit<ActBusy, 'type'> = { label: '', phase: 'idle' };
  /** Aborts the views' engine requests (pattern, neurons, logit lens, DLA) on Cancel. */
  private viewAbort = new AbortController();
  private input: Input | undefined;
  private readonly abl = new PanelAblations();
  /** The latest run's tokens and interventions (steering last, when set), for the steering and compare views. */
  private lastRun: { readonly runId: number; readonly ids: readonly number[]; readonly interventions: readonly Intervention[] } | undefined;
  private readonly steeringSub: vscode.Disposable | undefined;
  private inflight: AbortController | undefined;
  private runId = 0;
  private view: ActivationView = 'attention';
  private pngWaiters = new Map<number, (msg: { view: ActivationView; dataUrl: string }) => void>();
  private nextPng = 1;
  private experiment: ShownExperiment | undefined;

  constructor(
    private readonly extensionUri: vscode.Uri,
    private readonly engine: EngineService,
    private readonly log: (line: string) => void,
    /**
     * workspaceState: the last input is kept here too, because a reload can restore the panel's
     * tab with webview state saved before the run (VS Code saves the layout when the editor opens,
     * and in the browser a reload may cut the last save short).
     */
    private readonly memento?: vscode.Memento,
    /** Told of every run shown (the sidebar's Runs view, src/extension/sidebar/runsView.ts). */
    private readonly onRun?: (run: ActRun) => void,
    /** The steering vector shared with the inline logits; a change re-runs the open panel. */
    private readonly steering?: SteeringState,
  ) {
    this.steeringSub = steering?.onDidChange(() => {
      if (this.session && !this.session.isDisposed) void this.run();
    });
  }

  /** Opens the panel on the editor's selection (the document when nothing is selected) and runs the model. */
  async openOnEditor(
    editor: Pick<vscode.TextEditor, 'document' | 'selection'> | undefined = vscode.window.activeTextEditor,
  ): Promise<ActivationOutcome | undefined> {
    if (!editor) {
      void vscode.window.showInformationMessage('Model Lens: open a file and select some text for the activation panel.');
      return undefined;
    }
    const doc = editor.document;
    const sel = editor.selection;
    const range = sel.isEmpty ? new vscode.Range(doc.positionAt(0), doc.positionAt(documentLength(doc))) : sel;
    const lines =
      range.start.line === range.end.line ? `line ${range.start.line + 1}` : `lines ${range.start.line + 1}–${range.end.line + 1}`;
    const name = doc.uri.path.split('/').pop() ?? doc.uri.toString();
    // Only a bounded head of the range can reach the model (see MAX_INPUT_CHARS): a 20 MB
    // document is neither joined nor tokenized whole.
    const start = doc.offsetAt(range.start);
    const end = Math.min(doc.offsetAt(range.end), start + MAX_INPUT_CHARS);
    this.input = { text: documentReader(doc, start)(0, end - start), source: `${name}, ${sel.isEmpty ? 'whole document' : lines}` };
    const saved: ActivationPanelState = { text: this.input.text.slice(0, MAX_SAVED_TEXT), source: this.input.source, view: this.view };
    void this.memento?.update(LAST_INPUT_KEY, saved);
    this.abl.clear();
    this.ensurePanel();
    return this.run();
  }

  /** Serializer entry point: a reloaded window restores the panel and runs the saved text again. */
  async revive(panel: vscode.WebviewPanel, state: unknown): Promise<void> {
    this.session?.dispose();
    restorePanel(panel, ACTIVATION_PANEL, this.extensionUri);
    this.attach(panel);
    const fallback: unknown = this.memento?.get(LAST_INPUT_KEY);
    const saved = isActivationPanelState(state) ? state : isActivationPanelState(fallback) ? fallback : undefined;
    if (saved === undefined) {
      this.status('Nothing to show yet: select text and run "Model Lens: Open Activation Panel".', false);
      return;
    }
    this.input = { text: saved.text, source: saved.source };
    this.view = saved.view;
    // Not awaited: VS Code keeps a revived webview blank until the serializer returns, and the run
    // (worker start, model load, forward) can take seconds; the panel shows its progress instead.
    // run() reports its own failures in the panel.
    void this.run();
  }

  /** The panel's state for tests: current view, last outcome, and how the last few requests ended. */
  get current(): { view: ActivationView; runId: number; ablations: readonly PanelAblation[]; runEnds: readonly string[] } {
    return { view: this.view, runId: this.latest?.runId ?? 0, ablations: this.abl.ablations, runEnds: [...this.runEnds] };
  }

  /** How recent requests ended, newest last, for a test's failure message (a run that shows nothing says why). */
  private readonly runEnds: string[] = [];

  private ended(job: number, how: string): undefined {
    this.runEnds.push(`request ${job}: ${how}`);
    if (this.runEnds.length > 8) this.runEnds.shift();
    return undefined;
  }

  async ablate(a: PanelAblation): Promise<ActivationOutcome | undefined> {
    this.abl.add(a);
    return this.run();
  }

  async reset(): Promise<ActivationOutcome | undefined> {
    this.abl.clear();
    return this.run();
  }

  /** Where mean ablations take their mean: the prompt, or a file chosen in an open dialog (its first n_ctx tokens). */
  async chooseMeanSource(from: 'prompt' | 'file', file?: vscode.Uri): Promise<void> {
    if (from === 'prompt') {
      this.abl.setMeanSource(undefined);
    } else {
      const uri = file ?? (await vscode.window.showOpenDialog({ canSelectMany: false, openLabel: 'Take the mean over this file' }))?.[0];
      if (!uri) {
        if (this.latest) void this.session?.channel.post(this.latest); // the webview's choice goes back to what it was
        return;
      }
      const engine = await this.engine.get();
      const bytes = await vscode.workspace.fs.readFile(uri);
      const text = Buffer.from(bytes.subarray(0, MAX_INPUT_CHARS)).toString('utf8');
      const { ids } = headInput((a, b) => text.slice(a, b), text.length, engine.cfg.n_ctx);
      this.abl.setMeanSource({ label: `${uri.path.split('/').pop() ?? uri.fsPath} (${ids.length} tokens)`, tokens: ids });
    }
    await this.run();
  }

  async setResamplePrompt(text: string): Promise<ActivationOutcome | undefined> {
    this.abl.setResamplePrompt(text);
    return this.run();
  }

  /** Sets or removes the steering vector (the change re-runs the panel). */
  async steer(s: PanelSteering | null): Promise<void> {
    if (!this.steering) throw new Error('steering is not available here');
    try {
      this.busy(s ? 'Computing the steering vector…' : 'Removing the steering vector…', 'running');
      await this.steering.set(s);
    } catch (e) {
      this.status(`Steering: ${(e as Error).message}`, true);
    } finally {
      if (this.inflight === undefined) this.busy('', 'idle');
    }
  }

  /** Writes the current run's cache (every hook point, TransformerLens names) as .safetensors. */
  async exportCache(path?: unknown): Promise<string | undefined> {
    // A command argument comes from any caller: only an absolute .safetensors file path or file URI.
    const checked = path === undefined ? undefined : exportPathFrom(path, '.safetensors');
    const runId = this.latest?.runId;
    if (runId === undefined) throw new Error('no activation run to export: open the activation panel first');
    const target =
      checked ??
      (
        await vscode.window.showSaveDialog({
          filters: { Safetensors: ['safetensors'] },
          saveLabel: 'Export cache',
          defaultUri: vscode.Uri.file('activation_cache.safetensors'),
        })
      )?.fsPath;
    if (!target) return undefined;
    const engine = await this.engine.get();
    await engine.client.panel({ op: 'export', runId, path: target });
    void vscode.window.setStatusBarMessage(`Model Lens: cache written to ${target}`, 5000);
    return target;
  }

  /** Saves the current view as PNG (the webview draws it; the host writes the file). */
  async exportPng(path?: unknown): Promise<string | undefined> {
    const checked = path === undefined ? undefined : exportPathFrom(path, '.png');
    const session = this.session;
    if (!session || !this.ready) throw new Error('the activation panel is not open');
    const requestId = this.nextPng++;
    const png = await new Promise<{ view: ActivationView; dataUrl: string }>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pngWaiters.delete(requestId);
        reject(new Error('the panel did not answer with a PNG within 15 s'));
      }, 15000);
      this.pngWaiters.set(requestId, (m) => {
        clearTimeout(timer);
        resolve(m);
      });
      void session.channel.post({ type: 'act/wantPng', requestId });
    });
    const prefix = 'data:image/png;base64,';
    const bytes = png.dataUrl.startsWith(prefix) ? Buffer.from(png.dataUrl.slice(prefix.length), 'base64') : Buffer.alloc(0);
    if (!bytes.subarray(0, 8).equals(PNG_SIGNATURE)) throw new Error('the panel did not send a PNG image');
    const target =
      checked ??
      (await vscode.window.showSaveDialog({ filters: { PNG: ['png'] }, defaultUri: vscode.Uri.file(`${png.view}.png`) }))?.fsPath;
    if (!target) return undefined;
    await writeFileAtomic(target, bytes);
    return target;
  }

  /** Shows an experiment's heatmaps in the panel's Experiment view (opening the panel if needed). */
  showExperiment(e: ShownExperiment): void {
    this.experiment = e;
    this.view = 'experiment';
    this.ensurePanel();
    if (this.ready) void this.session?.channel.post(e.msg);
  }

  /** The experiment on show, for tests: its title and first map's values. */
  get shownExperiment(): { title: string; values: number[] } | undefined {
    const e = this.experiment;
    return e && { title: e.msg.title, values: Array.from(e.msg.maps[0]!.values) };
  }

  /** Writes the experiment's numbers (with prompts, metric and token ids) as JSON or CSV. */
  async exportExperiment(format: 'json' | 'csv', path?: unknown): Promise<string | undefined> {
    const checked = path === undefined ? undefined : exportPathFrom(path, `.${format}`);
    const e = this.experiment;
    if (!e) throw new Error('no experiment to export: run "Model Lens: Activation Patching…" or "Model Lens: Detect Heads" first');
    const target =
      checked ??
      (
        await vscode.window.showSaveDialog({
          filters: format === 'json' ? { JSON: ['json'] } : { CSV: ['csv'] },
          defaultUri: vscode.Uri.file(`${e.fileStem}.${format}`),
        })
      )?.fsPath;
    if (!target) return undefined;
    await writeFileAtomic(target, Buffer.from(format === 'json' ? `${JSON.stringify(e.json, null, 1)}\n` : e.csv, 'utf8'));
    return target;
  }

  dispose(): void {
    this.steeringSub?.dispose();
    this.inflight?.abort();
    this.session?.dispose();
  }

  private ensurePanel(): void {
    if (this.session && !this.session.isDisposed) {
      this.session.panel.reveal(undefined, true);
      return;
    }
    this.attach(createPanel(ACTIVATION_PANEL, this.extensionUri, besideColumn()));
  }

  private attach(panel: vscode.WebviewPanel): void {
    this.ready = false;
    this.latest = undefined;
    this.lastStatus = undefined;
    const session = new PanelSession<ActivationProtocol>(
      panel,
      {
        schemas: activationWebviewSchemas,
        handlers: {
          'act/pattern': async (req) => {
            const r = await this.ask({ op: 'pattern', runId: req.runId, layer: req.layer, head: req.head });
            if (r.op !== 'pattern') throw new Error('unexpected engine reply');
            return { type: 'act/patternData', layer: r.layer, head: r.head, data: r.data };
          },
          'act/neurons': async (req) => {
            const pos = this.latest?.tokens.length ?? 1;
            const r = await this.ask({
              op: 'neurons',
              runId: req.runId,
              layer: req.layer,
              count: 32,
              neuron: req.neuron,
              from: 0,
              to: pos,
            });
            if (r.op !== 'neurons') throw new Error('unexpected engine reply');
            return {
              type: 'act/neuronsData',
              layer: r.layer,
              ids: r.ids,
              values: r.values,
              neuron: r.neuron,
              neuronValues: r.neuronValues,
            };
          },
          'act/logitLens': async (req) => {
            const r = await this.ask({ op: 'logitLens', runId: req.runId, from: req.from, to: req.to });
            if (r.op !== 'logitLens') throw new Error('unexpected engine reply');
            const dict = displays([r.topIds]);
            return {
              type: 'act/logitLensData',
              labels: r.labels,
              from: r.from,
              to: r.to,
              topIds: r.topIds,
              topProbs: r.topProbs,
              nextProb: r.nextProb,
              ...dict,
            };
          },
          'act/dla': async (req) => {
            const r = await this.ask({ op: 'dla', runId: req.runId, pos: req.pos, token: req.token });
            if (r.op !== 'dla') throw new Error('unexpected engine reply');
            return {
              type: 'act/dlaData',
              pos: r.pos,
              token: r.token,
              tokenText: tokenDisplay(r.token),
              labels: r.labels,
              values: r.values,
            };
          },
          'act/steerTop': (req) => this.steerTop(req.runId),
          'act/compare': (req) => this.compare(req.runId, req.other, req.layer, req.head),
          'act/patchTop': async (req) => {
            const top = this.experiment?.patchTop;
            if (!top) throw new Error('this experiment has no per-cell runs');
            const r = await top(req.cell);
            return {
              type: 'act/patchTopData',
              cell: req.cell,
              ids: r.ids,
              probs: r.probs,
              strings: Array.from(r.ids, (id) => tokenDisplay(id)),
            };
          },
        },
        onNotification: (msg) => this.onNotification(msg),
        log: this.log,
        // The logit lens comes in windows of positions, but a queued window may wait behind another request.
        requestTimeoutMs: 180_000,
      },
      () => {
        if (this.session === session) {
          const runId = this.latest?.runId;
          this.session = undefined;
          this.inflight?.abort();
          this.inflight = undefined;
          this.latest = undefined;
          // The closed panel's run state (and the worker's readout sessions) go now, not at the next run.
          if (runId !== undefined) void this.releaseRun(runId);
        }
      },
    );
    panel.onDidChangeViewState(() => {
      if (!panel.visible) this.ready = false;
    });
    this.session = session;
  }

  /** Tells the worker a closed panel's run is gone; never loads a model to do so. */
  private async releaseRun(runId: number): Promise<void> {
    const engine = await this.engine.peek();
    await engine?.client
      .panel({ op: 'release', runId })
      .catch((e: unknown) => this.log(`release of run ${runId} failed: ${(e as Error).message}`));
  }

  private async ask(op: Parameters<LoadedEngine['client']['panel']>[0]): Promise<PanelResult> {
    const engine = await this.engine.get();
    return engine.client.panel(op, this.viewAbort.signal);
  }

  /**
   * The panel's Cancel: stops the run in flight in the engine (or the model load, which the worker
   * cannot stop from inside, so its thread ends) and every view computation; the panel stays usable.
   */
  cancel(): void {
    const phase = this.lastBusy.phase;
    const hadRun = this.inflight !== undefined;
    this.inflight?.abort();
    this.inflight = undefined;
    this.viewAbort.abort();
    this.viewAbort = new AbortController();
    if (phase === 'loading' && this.engine.isLoadingWeights) this.engine.cancelLoad();
    // The webview says what was cancelled and offers "Run again".
    this.busy('', 'idle');
    if (hadRun) this.status('', false);
  }

  private onNotification(msg: ActivationProtocol['toHost']): void {
    switch (msg.type) {
      case 'ready':
        this.ready = true;
        if (this.lastStatus) void this.session?.channel.post({ type: 'act/status', ...this.lastStatus });
        if (this.lastBusy.phase !== 'idle') void this.session?.channel.post({ type: 'act/busy', ...this.lastBusy });
        if (this.latest) void this.session?.channel.post(this.latest);
        if (this.experiment) void this.session?.channel.post(this.experiment.msg);
        break;
      case 'act/png':
        this.pngWaiters.get(msg.requestId)?.({ view: msg.view, dataUrl: msg.dataUrl });
        this.pngWaiters.delete(msg.requestId);
        break;
      case 'act/view':
        this.view = msg.view;
        break;
      case 'act/ablate':
        void this.ablate(msg.ablation);
        break;
      case 'act/reset':
        void this.reset();
        break;
      case 'act/exportCache':
        void this.exportCache().catch((e: unknown) => void vscode.window.showErrorMessage(`Model Lens: ${(e as Error).message}`));
        break;
      case 'act/cancel':
        this.cancel();
        break;
      case 'act/rerun':
        void this.run();
        break;
      case 'act/meanSource':
        void this.chooseMeanSource(msg.from).catch((e: unknown) => this.status(`Mean ablation: ${(e as Error).message}`, true));
        break;
      case 'act/resamplePrompt':
        void this.setResamplePrompt(msg.text);
        break;
      case 'act/steer':
        void this.steer(msg.steering);
        break;
      case 'act/exportExperiment':
        void this.exportExperiment(msg.format).catch(
          (e: unknown) => void vscode.window.showErrorMessage(`Model Lens: ${(e as Error).message}`),
        );
        break;
      default:
        assertNever(msg, 'activation panel message');
    }
  }

  private busy(label: string, phase: 'idle' | 'loading' | 'running', progress?: LoadProgressText): void {
    this.lastBusy = { label, phase, ...(progress ? { detail: progress.detail, fraction: progress.fraction } : {}) };
    if (this.ready) void this.session?.channel.post({ type: 'act/busy', ...this.lastBusy });
  }

  private status(message: string, error: boolean): void {
    this.lastStatus = { message, error };
    if (this.ready) void this.session?.channel.post({ type: 'act/status', message, error });
  }

  /** The run `runId` as the views last saw it; a newer run makes their request moot. */
  private runFor(runId: number): { ids: readonly number[]; interventions: readonly Intervention[] } {
    const last = this.lastRun;
    if (!last || last.runId !== runId) throw new Error('the panel has run again since; ask again');
    return last;
  }

  private async topAtLast(
    ids: readonly number[],
    interventions: readonly Intervention[],
  ): Promise<{ ids: Int32Array; probs: Float32Array }> {
    const engine = await this.engine.get();
    const r = await engine.client.experiment(
      { op: 'nextTokens', tokens: Int32Array.from(ids), interventions, k: TOP_K },
      this.viewAbort.signal,
    );
    if (r.op !== 'nextTokens') throw new Error('unexpected engine reply');
    return r;
  }

  /** Top next tokens at the last position with the steering vector and without it (other interventions kept in both). */
  private async steerTop(runId: number): Promise<SteerTopReply> {
    const run = this.runFor(runId);
    const steer = this.steering?.intervention;
    const withSteer = await this.topAtLast(run.ids, run.interventions);
    const without = await this.topAtLast(
      run.ids,
      run.interventions.filter((i) => i !== steer),
    );
    return {
      type: 'act/steerTopData',
      withIds: withSteer.ids,
      withProbs: withSteer.probs,
      withoutIds: without.ids,
      withoutProbs: without.probs,
      ...displays([withSteer.ids, without.ids]),
    };
  }

  /** The Compare view: this prompt with vs without its interventions, or this prompt vs another (neither with interventions). */
  private async compare(runId: number, other: string | null, layer: number, head: number): Promise<CompareReply> {
    const run = this.runFor(runId);
    if (other === null && run.interventions.length === 0) {
      throw new Error('nothing to compare: this run has no ablations or steering; add some, or type another prompt');
    }
    const engine = await this.engine.get();
    const otherIds = other === null ? run.ids : [END_OF_TEXT_ID, ...encode(other)].slice(0, engine.cfg.n_ctx);
    const r = await engine.client.experiment(
      {
        op: 'compare',
        a: { tokens: run.ids, interventions: other === null ? run.interventions : [] },
        b: { tokens: otherIds, interventions: [] },
        layer,
        head,
        k: 5,
      },
      this.viewAbort.signal,
    );
    if (r.op !== 'compare') throw new Error('unexpected engine reply');
    const shown = (ids: readonly number[]): string[] => ids.slice(0, r.m).map((id) => tokenDisplay(id));
    return {
      type: 'act/compareData',
      labelA: other === null ? 'with the interventions' : 'this prompt',
      labelB: other === null ? 'without them' : 'the other prompt',
      layers: [...r.layers],
      targets: r.targets,
      lensA: r.lensA,
      lensB: r.lensB,
      layer,
      head,
      m: r.m,
      patternA: r.patternA,
      patternB: r.patternB,
      topIdsA: r.topA.ids,
      topProbsA: r.topA.probs,
      topIdsB: r.topB.ids,
      topProbsB: r.topB.probs,
      tokensA: shown(run.ids),
      tokensB: shown(otherIds),
      ...displays([r.targets, r.topA.ids, r.topB.ids]),
    };
  }

  private async run(): Promise<ActivationOutcome | undefined> {
    const input = this.input;
    if (!input) return undefined;
    this.inflight?.abort();
    const abort = new AbortController();
    this.inflight = abort;
    const job = ++this.runId;
    const session = this.session;
    try {
      this.status('', false);
      this.busy('Loading the model…', 'loading');
      // The engine's steps while it loads (bytes read, processing, sessions), for this run only.
      const loadProgress = this.engine.onLoadProgress((p) => {
        if (this.inflight === abort && this.lastBusy.phase === 'loading') this.busy('Loading the model…', 'loading', p);
      });
      const engine = await untilAborted(this.engine.get(), abort.signal).finally(() => loadProgress.dispose());
      if (abort.signal.aborted) return this.ended(job, 'cancelled while the model loaded');
      const nCtx = engine.cfg.n_ctx;
      const head = headInput((a, b) => input.text.slice(a, b), input.text.length, nCtx);
      const { ids, truncated, charsTokenized } = head;
      this.busy(`Running ${engine.cfg.model_name} on ${tokenCount(ids.length - 1, vscode.env.language)} + BOS…`, 'running');
      const steer = this.steering?.intervention;
      const interventions = [...(await this.abl.resolve(engine, ids, abort.signal)), ...(steer ? [steer] : [])];
      if (abort.signal.aborted) return this.ended(job, 'cancelled before the run');
      const r = (await engine.client.panel(
        { op: 'run', tokens: Int32Array.from(ids), interventions, topK: TOP_K, thumb: THUMB },
        abort.signal,
      )) as Run;
      if (abort.signal.aborted) return this.ended(job, 'cancelled during the run');
      if (job !== this.runId) return this.ended(job, `superseded by run ${this.runId}`);
      if (!session || session.isDisposed) return this.ended(job, 'the panel was closed');
      if (this.session !== session) return this.ended(job, 'the panel was replaced');
      this.lastRun = { runId: r.runId, ids, interventions };
      const msg = toRunMessage(r, Int32Array.from(ids), input, engine, truncated ? truncationNotice(nCtx) : '', {
        ablations: [...this.abl.ablations],
        meanSource: this.abl.meanSource,
        resamplePrompt: this.abl.resamplePrompt,
        steering: this.steering?.setting ?? null,
      });
      this.latest = msg;
      this.onRun?.(msg);
      session.panel.title = `Activations: ${input.source.split(',')[0]}`;
      if (this.ready) void session.channel.post(msg);
      this.status('', false);
      this.ended(job, `shown: ${ids.length} tokens of ${input.source}`);
      return { runId: r.runId, tokens: ids, meanLoss: r.meanLoss, loss: Array.from(r.loss), truncated, charsTokenized };
    } catch (e) {
      if (isAbortError(e) || e instanceof vscode.CancellationError) return this.ended(job, `cancelled: ${(e as Error).message}`);
      const m = `The model run failed: ${(e as Error).message}`;
      this.log(m);
      this.status(m, true);
      return this.ended(job, m);
    } finally {
      if (this.inflight === abort) {
        this.inflight = undefined;
        this.busy('', 'idle');
      }
    }
  }
}

/** Settles with `p`, or rejects with an AbortError as soon as `signal` aborts (p goes on for others). */
function untilAborted<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(abortError());
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(abortError());
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

/** Display strings once per distinct id. */
function displays(arrays: readonly Int32Array[]): { stringIds: Int32Array; strings: string[] } {
  const seen = new Set<number>();
  for (const a of arrays) for (const id of a) if (id >= 0) seen.add(id);
  const stringIds = Int32Array.from(seen);
  return { stringIds, strings: Array.from(stringIds, (id) => tokenDisplay(id)) };
}

function toRunMessage(
  r: Run,
  tokens: Int32Array,
  input: Input,
  engine: LoadedEngine,
  truncation: string,
  interventions: Pick<ActRun, 'ablations' | 'meanSource' | 'resamplePrompt' | 'steering'>,
): ActRun {
  return {
    type: 'act/run',
    runId: r.runId,
    source: input.source,
    modelLabel: engine.label,
    processing: engine.processing,
    isDemo: engine.model.isDemo,
    truncation,
    nLayers: engine.cfg.n_layers,
    nHeads: engine.cfg.n_heads,
    dMlp: engine.cfg.d_mlp,
    tokens,
    ...displays([tokens, r.topIds]),
    topK: r.topK,
    loss: r.loss,
    meanLoss: r.meanLoss,
    topIds: r.topIds,
    topProbs: r.topProbs,
    nextProb: r.nextProb,
    nextRank: r.nextRank,
    thumb: r.thumb,
    thumbs: r.thumbs,
    residLabels: r.residLabels,
    residNorms: r.residNorms,
    ...interventions,
    savedText: input.text.slice(0, MAX_SAVED_TEXT),
  };
}

export function isActivationView(v: unknown): v is ActivationView {
  return typeof v === 'string' && ['attention', 'neurons', 'logitLens', 'residual', 'loss'].includes(v);
}
