// The Model Lens activity-bar container: tree views Model, Modules and hooks, and Weights.
// Everything shown comes from the loaded model's config (the engine worker's `loaded` reply,
// kept by EngineService): the module tree and the weight shapes need no weights and no extra
// worker request. Hook shapes follow the active editor's selection length (BOS first).
import * as vscode from 'vscode';
import { tokenize } from '../../tokenizer';
import { DEFAULT_PROCESSING, type HookedGPT2Config } from '../../engine/types';
import type { EngineService } from '../activation/engineService';
import { readModelSetting } from '../model/modelSettings';
import { modelNodes, moduleNodes, weightNodes, type LoadedModelState, type SidebarNode } from './sidebarNodes';

export const SIDEBAR_VIEWS = {
  model: 'modelLens.model',
  modules: 'modelLens.modules',
  weights: 'modelLens.weights',
} as const;

export const SIDEBAR_COMMANDS = {
  load: 'modelLens.sidebar.loadModel',
  copyName: 'modelLens.sidebar.copyName',
  refresh: 'modelLens.sidebar.refresh',
  /** Hidden: the three trees' nodes, fully expanded, for in-host tests. */
  state: 'modelLens.sidebar.state',
} as const;

export interface SidebarState {
  readonly model: readonly SidebarNode[];
  readonly modules: readonly SidebarNode[];
  readonly weights: readonly SidebarNode[];
  /** The token count hook shapes are shown for (undefined: symbolic). */
  readonly pos: number | undefined;
}

// A token is at least one character, but a run of spaces can be one token: 32 characters per
// token of context is far more than any real text needs to reach n_ctx, and it bounds the work
// a huge selection costs on the host's thread.
const CHARS_PER_TOKEN_BOUND = 32;

/** One tree view over SidebarNodes computed on demand. */
class NodeTree implements vscode.TreeDataProvider<SidebarNode>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChangeTreeData = this.changed.event;

  constructor(private readonly roots: () => Promise<readonly SidebarNode[]>) {}

  refresh(): void {
    this.changed.fire();
  }

  async getChildren(node?: SidebarNode): Promise<SidebarNode[]> {
    return [...(node ? (node.children ?? []) : await this.roots())];
  }

  getTreeItem(node: SidebarNode): vscode.TreeItem {
    const collapsible =
      node.children && node.children.length > 0 ? vscode.TreeItemCollapsibleState.Collapsed : vscode.TreeItemCollapsibleState.None;
    const item = new vscode.TreeItem(node.label, collapsible);
    item.id = node.id;
    if (node.description !== undefined) item.description = node.description;
    if (node.tooltip !== undefined) item.tooltip = node.tooltip;
    if (node.contextValue !== undefined) item.contextValue = node.contextValue;
    if (node.command !== undefined) item.command = { command: node.command, title: node.label, arguments: [node] };
    return item;
  }

  dispose(): void {
    this.changed.dispose();
  }
}

export class ModelLensSidebar implements vscode.Disposable {
  private readonly disposables: vscode.Disposable[] = [];
  private readonly modelTree = new NodeTree(() => this.modelRoots());
  private readonly modulesTree = new NodeTree(() => this.moduleRoots());
  private readonly weightsTree = new NodeTree(() => this.weightRoots());
  private pos: number | undefined;
  /** The config the Modules and Weights trees were last told to show (undefined: no model). */
  private shownCfg: HookedGPT2Config | undefined;
  private readonly modulesView: vscode.TreeView<SidebarNode>;

  constructor(private readonly engine: EngineService) {
    this.modulesView = vscode.window.createTreeView(SIDEBAR_VIEWS.modules, { treeDataProvider: this.modulesTree });
    this.pos = this.selectionTokens(vscode.window.activeTextEditor);
    this.disposables.push(
      this.modelTree,
      this.modulesTree,
      this.weightsTree,
      this.modulesView,
      vscode.window.createTreeView(SIDEBAR_VIEWS.model, { treeDataProvider: this.modelTree }),
      vscode.window.createTreeView(SIDEBAR_VIEWS.weights, { treeDataProvider: this.weightsTree }),
      engine.onDidChangeProvider(() => void this.refreshAll()),
      engine.onDidChangeModel(() => void this.refreshAll()),
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (e.affectsConfiguration('modelLens.model')) this.modelTree.refresh();
      }),
      vscode.window.onDidChangeTextEditorSelection((e) => this.onSelection(e.textEditor)),
      vscode.window.onDidChangeActiveTextEditor((e) => this.onSelection(e)),
      // Selections made while the view was hidden were not followed.
      this.modulesView.onDidChangeVisibility(() => this.onSelection(vscode.window.activeTextEditor)),
      vscode.commands.registerCommand(SIDEBAR_COMMANDS.load, () => this.load()),
      vscode.commands.registerCommand(SIDEBAR_COMMANDS.refresh, () => this.refreshAll(true)),
      vscode.commands.registerCommand(SIDEBAR_COMMANDS.copyName, (node?: SidebarNode) => this.copyName(node)),
      vscode.commands.registerCommand(SIDEBAR_COMMANDS.state, () => this.state()),
    );
  }

  /**
   * The Model tree refreshes every time (provider, memory); the config-only trees only when the
   * config changed. A refresh re-issues every row's command, and VS Code forgets the old rows'
   * arguments: a click landing between a row's first render and a needless second refresh
   * (a load fires this up to three times) did nothing but log "Actual command not found".
   */
  private async refreshAll(force = false): Promise<void> {
    this.modelTree.refresh();
    const cfg = (await this.engine.peek())?.cfg;
    if (cfg === this.shownCfg && !force) return;
    this.shownCfg = cfg;
    this.modulesTree.refresh();
    this.weightsTree.refresh();
  }

  /** Tokens in the selection with BOS, capped at the loaded model's n_ctx (1024 before one loads). */
  private selectionTokens(editor: vscode.TextEditor | undefined, nCtx = 1024): number | undefined {
    if (!editor || editor.selection.isEmpty) return undefined;
    const text = editor.document.getText(editor.selection).slice(0, CHARS_PER_TOKEN_BOUND * nCtx);
    return Math.min(nCtx, tokenize(text).length + 1);
  }

  private onSelection(editor: vscode.TextEditor | undefined): void {
    // Only an editor's selection counts: focusing the sidebar itself must not reset the shapes.
    if (!editor || !this.modulesView.visible) return;
    void this.engine.peek().then((loaded) => {
      const pos = this.selectionTokens(editor, loaded?.cfg.n_ctx);
      if (pos !== this.pos) {
        this.pos = pos;
        this.modulesTree.refresh();
      }
    });
  }

  private async loadedState(): Promise<LoadedModelState | undefined> {
    const loaded = await this.engine.peek();
    const provider = this.engine.provider;
    if (!loaded || !provider) return undefined;
    // Asked of the worker each time the view refreshes; a dead or busy-then-dead worker leaves it out.
    const memory = await loaded.client.tensor({ op: 'memory' }).catch(() => undefined);
    return {
      cfg: loaded.cfg,
      label: loaded.label,
      provider: provider.provider,
      requested: provider.requested,
      notice: provider.notice,
      // The extension's engine loads as from_pretrained does, every switch on.
      processing: DEFAULT_PROCESSING,
      dtype: loaded.dtype,
      ...(memory ? { memory } : {}),
    };
  }

  private async modelRoots(): Promise<readonly SidebarNode[]> {
    return modelNodes(await this.loadedState(), readModelSetting().spec, SIDEBAR_COMMANDS.load);
  }

  private async moduleRoots(): Promise<readonly SidebarNode[]> {
    const loaded = await this.engine.peek();
    return loaded ? moduleNodes(loaded.cfg, this.pos) : [];
  }

  private async weightRoots(): Promise<readonly SidebarNode[]> {
    const loaded = await this.engine.peek();
    return loaded ? weightNodes(loaded.cfg) : [];
  }

  private async load(): Promise<void> {
    try {
      await this.engine.get();
    } catch (e) {
      void vscode.window.showErrorMessage(`Model Lens: ${e instanceof Error ? e.message : String(e)}`);
    }
    await this.refreshAll();
  }

  private async copyName(node: SidebarNode | undefined): Promise<string | undefined> {
    if (node?.name === undefined) return undefined;
    await vscode.env.clipboard.writeText(node.name);
    return node.name;
  }

  private async state(): Promise<SidebarState> {
    const loaded = await this.engine.peek();
    this.pos = this.selectionTokens(vscode.window.activeTextEditor, loaded?.cfg.n_ctx);
    return {
      model: await this.modelRoots(),
      modules: await this.moduleRoots(),
      weights: await this.weightRoots(),
      pos: this.pos,
    };
  }

  dispose(): void {
    for (const d of this.disposables) d.dispose();
  }
}
