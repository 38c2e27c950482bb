// The tensor view: any tensor of any rank (a weight, one head's OV or QK circuit, a hook's
// activation on the current selection, a tensor of a .safetensors file) in a panel with its
// statistics, histogram, a 2-D slice as a heatmap and, along a vocabulary axis, the top tokens.
// The tensor stays in an engine worker (tensorOps.ts); the panel asks for what it draws. A file's
// tensors are read by a worker of their own that loads no model, so opening an exported cache
// never downloads or loads GPT-2.
import { basename, join } from 'node:path';
import * as vscode from 'vscode';
import { isAbortError } from '../../common/errors';
import type { EngineClient } from '../../engine/worker/engineClient';
import { EngineClient as EngineClientImpl } from '../../engine/worker/engineClient';
import type { OpenedTensor, TensorSource } from '../../engine/worker/tensorOps';
import { assertNever } from '../../protocol/envelope';
import {
  TENSOR_VIEW_TYPE,
  tensorWebviewSchemas,
  type TensorProtocol,
  type TensorDirectionsReply,
  type TensorRankReply,
  type TensorShowMessage,
  type TensorSliceReply,
  type TensorSliceRequest,
  type WireStats,
  type WireToken,
} from '../../protocol/tensor';
import { tokenDisplay } from '../../tokenizer';
import type { EngineService } from '../activation/engineService';
import { besideColumn, copyToClipboard, createPanel, PanelSession, panelIcon, type PanelKind } from '../panel';
import { exportPathFrom } from '../pathPolicy';

export const TENSOR_PANEL: PanelKind = { viewType: TENSOR_VIEW_TYPE, title: 'Tensor', bundle: 'tensor' };
const HISTOGRAM_BINS = 64;

/** What to open, and how to say where it came from. */
export interface TensorTarget {
  readonly source: TensorSource;
  /** Shown under the title: the model and its processing, the prompt, or the file. */
  readonly origin?: string;
}

/** One open view, for in-host tests (the hidden state command). */
export interface TensorViewState {
  readonly title: string;
  readonly dims: readonly number[];
  readonly axisNames: readonly string[];
  readonly dtype: string;
  readonly stats: WireStats;
  readonly vocabAxis: number | null;
  /** Set once the webview has drawn a heatmap window. */
  readonly rendered?: { readonly rows: number; readonly cols: number; readonly index: readonly number[] };
  /** A circuit's singular directions as last sent to the webview (σ and the tokens at each end). */
  readonly directions?: TensorDirectionsReply;
}

const finiteOrNull = (x: number): number | null => (Number.isFinite(x) ? x : null);

function titleOf(source: TensorSource): string {
  switch (source.kind) {
    case 'weight':
    case 'hook':
    case 'file':
      return source.name;
    case 'circuit':
      return `blocks.${source.layer}.attn.${source.which}[${source.head}]`;
    default:
      return assertNever(source, 'tensor source');
  }
}

const tokenText = (id: number): string => {
  try {
    return tokenDisplay(id);
  } catch {
    return `#${id}`;
  }
};

/** One panel showing one tensor. */
class TensorPanel implements vscode.Disposable {
  readonly session: PanelSession<TensorProtocol>;
  private opened: OpenedTensor | undefined;
  private opening: Promise<OpenedTensor> | undefined;
  private ready = false;
  rendered: TensorViewState['rendered'];
  private lastDirections: TensorDirectionsReply | undefined;

  constructor(
    panel: vscode.WebviewPanel,
    readonly target: TensorTarget,
    private readonly client: () => Promise<EngineClient>,
    private readonly origin: () => Promise<string>,
    log: (line: string) => void,
    onDispose: () => void,
  ) {
    this.session = new PanelSession<TensorProtocol>(
      panel,
      {
        schemas: tensorWebviewSchemas,
        log,
        handlers: {
          copyText: async (req) => {
            const reply = await copyToClipboard(req.text);
            vscode.window.setStatusBarMessage(`Model Lens: copied ${req.what}`, 3000);
            return reply;
          },
          'tensor/slice': (req) => this.slice(req),
          'tensor/rank': (req) => this.rank(req.index, req.k),
          'tensor/directions': (req) => this.directions(req.k, req.tokens),
        },
        onNotification: (msg) => {
          switch (msg.type) {
            case 'ready':
              this.ready = true;
              void this.show();
              break;
            case 'tensor/export':
              void this.exportTo(undefined).catch(
                (e: unknown) => void vscode.window.showErrorMessage(`Model Lens: ${(e as Error).message}`),
              );
              break;
            case 'tensor/rendered':
              this.rendered = { rows: msg.rows, cols: msg.cols, index: msg.index };
              break;
            default:
              assertNever(msg, 'tensor view notification');
          }
        },
      },
      () => {
        void this.release();
        onDispose();
      },
    );
  }

  get state(): TensorViewState | undefined {
    const o = this.opened;
    if (!o) return undefined;
    return {
      title: o.name,
      dims: o.dims,
      axisNames: o.axisNames,
      dtype: o.dtype,
      stats: this.wireStats(o),
      vocabAxis: o.vocabAxis,
      ...(this.rendered ? { rendered: this.rendered } : {}),
      ...(this.lastDirections ? { directions: this.lastDirections } : {}),
    };
  }

  private wireStats(o: OpenedTensor): WireStats {
    const s = o.stats;
    return { ...s, min: finiteOrNull(s.min), max: finiteOrNull(s.max), mean: finiteOrNull(s.mean), std: finiteOrNull(s.std) };
  }

  /** Opens (or re-opens, after the worker dropped it) the tensor in the worker. */
  open(): Promise<OpenedTensor> {
    this.opening ??= this.client()
      .then((c) => c.tensor({ op: 'open', source: this.target.source, bins: HISTOGRAM_BINS }))
      .then((o) => {
        this.opened = o;
        return o;
      })
      .finally(() => (this.opening = undefined));
    return this.opening;
  }

  /** Re-reads the tensor (the model was reloaded) and shows it again. */
  async reload(): Promise<void> {
    this.opened = undefined;
    await this.show();
  }

  private async show(): Promise<void> {
    if (!this.ready || this.session.isDisposed) return;
    const channel = this.session.channel;
    try {
      if (!this.opened) {
        void channel.post({ type: 'tensor/status', message: `Reading ${titleOf(this.target.source)}…`, error: false });
      }
      const o = this.opened ?? (await this.open());
      const msg: TensorShowMessage = {
        type: 'tensor/show',
        title: o.name,
        origin: this.target.origin ?? (await this.origin()),
        dtype: o.dtype,
        dims: o.dims,
        axisNames: o.axisNames,
        vocabAxis: o.vocabAxis,
        stats: this.wireStats(o),
        histLo: o.histogram.lo,
        histHi: o.histogram.hi,
        // A copy: the description is kept for re-shows, and a posted array may be transferred.
        histCounts: o.histogram.counts.slice(),
        canExport: true,
        circuit: this.target.source.kind === 'circuit' ? this.target.source.which : null,
      };
      await channel.post(msg);
    } catch (e) {
      if (isAbortError(e)) return;
      await channel.post({ type: 'tensor/status', message: e instanceof Error ? e.message : String(e), error: true });
    }
  }

  /** Runs a request on the held tensor, opening it again once when the worker no longer holds it. */
  private async withKey<T>(fn: (c: EngineClient, key: number) => Promise<T>): Promise<T> {
    const o = this.opened ?? (await this.open());
    const c = await this.client();
    try {
      return await fn(c, o.key);
    } catch (e) {
      if (!(e instanceof Error) || e.name !== 'TensorNotHeldError') throw e;
      const again = await this.open();
      return fn(c, again.key);
    }
  }

  private async slice(req: TensorSliceRequest): Promise<TensorSliceReply> {
    const { rowAxis, colAxis, index, rowFrom, rowCount, colFrom, colCount } = req;
    const s = await this.withKey((c, key) => c.tensor({ op: 'slice', key, rowAxis, colAxis, index, rowFrom, rowCount, colFrom, colCount }));
    const vocab = this.opened?.vocabAxis ?? null;
    const tokens = (axis: number | null, from: number, n: number): string[] =>
      axis !== null && axis === vocab ? Array.from({ length: n }, (_, i) => tokenText(from + i)) : [];
    return {
      type: 'tensor/sliceData',
      rowFrom: s.rowFrom,
      rows: s.rows,
      colFrom: s.colFrom,
      cols: s.cols,
      totalRows: s.totalRows,
      totalCols: s.totalCols,
      data: s.data,
      rowTokens: tokens(req.rowAxis, s.rowFrom, s.rows),
      colTokens: tokens(req.colAxis, s.colFrom, s.cols),
    };
  }

  async rank(index: readonly number[], k: number): Promise<TensorRankReply> {
    const vocabAxis = this.opened?.vocabAxis ?? null;
    if (vocabAxis === null) throw new Error(`${titleOf(this.target.source)} has no vocabulary axis`);
    const r = await this.withKey((c, key) => c.tensor({ op: 'rank', key, vocabAxis, index, k }));
    return {
      type: 'tensor/ranked',
      topIds: r.topIds,
      topValues: r.topValues,
      topTokens: [...r.topIds].map(tokenText),
      bottomIds: r.bottomIds,
      bottomValues: r.bottomValues,
      bottomTokens: [...r.bottomIds].map(tokenText),
    };
  }

  /** The top singular directions of a head's circuit, computed in the worker from the head's factors. */
  async directions(k: number, tokens: number): Promise<TensorDirectionsReply> {
    const source = this.target.source;
    if (source.kind !== 'circuit') throw new Error(`${titleOf(source)} is not a head's OV or QK circuit`);
    const { which, layer, head } = source;
    const r = await (await this.client()).tensor({ op: 'directions', which, layer, head, k, tokens });
    const t = r.tokens;
    const side = (ids: Int32Array, values: Float32Array, i: number): WireToken[] =>
      [...ids.subarray(i * t, (i + 1) * t)].map((id, j) => ({ id, text: tokenText(id), value: values[i * t + j]! }));
    const reply: TensorDirectionsReply = {
      type: 'tensor/directionsData',
      which: r.which,
      directions: [...r.sigma].map((sigma, i) => ({
        sigma,
        inputTop: side(r.inputTopIds, r.inputTopValues, i),
        inputBottom: side(r.inputBottomIds, r.inputBottomValues, i),
        outputTop: side(r.outputTopIds, r.outputTopValues, i),
        outputBottom: side(r.outputBottomIds, r.outputBottomValues, i),
      })),
    };
    this.lastDirections = reply;
    return reply;
  }

  /** Writes the tensor to a .safetensors file (a save dialog when no path is given). */
  async exportTo(path: unknown): Promise<string | undefined> {
    const checked = path === undefined ? undefined : exportPathFrom(path, '.safetensors');
    const name = titleOf(this.target.source);
    const target =
      checked ??
      (
        await vscode.window.showSaveDialog({
          filters: { Safetensors: ['safetensors'] },
          saveLabel: 'Export tensor',
          defaultUri: vscode.Uri.file(`${name.replace(/[^\w.-]+/g, '_')}.safetensors`),
        })
      )?.fsPath;
    if (!target) return undefined;
    await this.withKey((c, key) => c.tensor({ op: 'export', key, path: target, name }));
    vscode.window.setStatusBarMessage(`Model Lens: ${name} written to ${target}`, 5000);
    return target;
  }

  private async release(): Promise<void> {
    const o = this.opened;
    this.opened = undefined;
    if (!o) return;
    try {
      await (await this.client()).tensor({ op: 'release', key: o.key });
    } catch {
      // The worker is gone or was reloaded: nothing is held any more.
    }
  }

  dispose(): void {
    this.session.dispose();
  }
}

export class TensorViewController implements vscode.Disposable {
  private readonly panels = new Set<TensorPanel>();
  /** Reads .safetensors files' tensors; loads no model. Ended when the last file view closes. */
  private fileClient: EngineClient | undefined;
  private readonly subscription: vscode.Disposable;

  constructor(
    private readonly extensionUri: vscode.Uri,
    private readonly engine: EngineService,
    private readonly log: (line: string) => void,
  ) {
    // A reloaded model (setting change) holds other weights: views of it read them again.
    this.subscription = engine.onDidChangeModel(() => {
      for (const p of this.panels) if (p.target.source.kind !== 'file') void p.reload();
    });
  }

  /** Opens a view of `target` beside the editor; resolves once the tensor is open in the worker. */
  async open(target: TensorTarget): Promise<TensorViewState> {
    const panel = createPanel({ ...TENSOR_PANEL, title: titleOf(target.source) }, this.extensionUri, besideColumn());
    panel.iconPath = panelIcon(this.extensionUri, 'tensor');
    const isFile = target.source.kind === 'file';
    const view: TensorPanel = new TensorPanel(
      panel,
      target,
      isFile ? async () => this.files() : async () => (await this.engine.get()).client,
      async () => {
        const loaded = await this.engine.get();
        return `${loaded.label} · ${loaded.processing}`;
      },
      this.log,
      () => {
        this.panels.delete(view);
        if (isFile && ![...this.panels].some((p) => p.target.source.kind === 'file')) this.endFiles();
      },
    );
    this.panels.add(view);
    try {
      await view.open();
    } catch (e) {
      // Nothing to show (a gated hook, a folded LayerNorm weight, a bad file): the error is the answer.
      view.dispose();
      throw e;
    }
    return view.state!;
  }

  /** Writes a tensor to a .safetensors file without showing it (the hook tree's Export). */
  async exportTensor(source: TensorSource, path?: unknown): Promise<string | undefined> {
    const client = source.kind === 'file' ? this.files() : (await this.engine.get()).client;
    const opened = await client.tensor({ op: 'open', source, bins: 1 });
    try {
      const name = titleOf(source);
      const checked = path === undefined ? undefined : exportPathFrom(path, '.safetensors');
      const target =
        checked ??
        (
          await vscode.window.showSaveDialog({
            filters: { Safetensors: ['safetensors'] },
            saveLabel: 'Export',
            defaultUri: vscode.Uri.file(`${name.replace(/[^\w.-]+/g, '_')}.safetensors`),
          })
        )?.fsPath;
      if (!target) return undefined;
      await client.tensor({ op: 'export', key: opened.key, path: target, name });
      vscode.window.setStatusBarMessage(`Model Lens: ${name} written to ${target}`, 5000);
      return target;
    } finally {
      await client.tensor({ op: 'release', key: opened.key }).catch(() => undefined);
    }
  }

  /** Every open view (for tests). */
  get states(): TensorViewState[] {
    return [...this.panels].flatMap((p) => (p.state ? [p.state] : []));
  }

  private files(): EngineClient {
    this.fileClient ??= new EngineClientImpl({
      workerPath: join(this.extensionUri.fsPath, 'dist', 'engineWorker.js'),
      exhaustedHint: 'Close the tensor views of files and open one again.',
    });
    return this.fileClient;
  }

  private endFiles(): void {
    const c = this.fileClient;
    this.fileClient = undefined;
    void c?.dispose().catch(() => 0);
  }

  dispose(): void {
    this.subscription.dispose();
    for (const p of [...this.panels]) p.dispose();
    this.endFiles();
  }
}

/** "model.safetensors · blocks.0.attn.hook_q": the origin line of a file's tensor. */
export function fileOrigin(path: string): string {
  return `${basename(path)} · ${path}`;
}
