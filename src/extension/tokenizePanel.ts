// "Model Lens: Tokenize Selection": the selection (or the whole document) as token chips in a
// panel, linked both ways with the editor: hovering a chip highlights its span, moving the
// cursor highlights the chip. Large selections are tokenized in slices and sent as typed arrays.
import * as vscode from 'vscode';
import {
  isTokensPanelState,
  TOKENS_VIEW_TYPE,
  tokensWebviewSchemas,
  type TokenSourceInfo,
  type TokensProtocol,
  type TokensResult,
} from '../protocol/tokens';
import { assertNever } from '../protocol/envelope';
import { END_OF_TEXT_ID, tokenDisplay } from '../tokenizer';
import { besideColumn, copyToClipboard, createPanel, PanelSession, panelIcon, restorePanel, type PanelKind } from './panel';
import type { ModelLensSettings } from './settings';
import type { DocumentTokenRegistry } from './documentTokens';
import { documentLength } from './documentText';
import { revivableUri } from './pathPolicy';
import { numberArrayInTurns, rangeTokens, vocabularyInTurns } from './rangeTokens';
import { SLICE_CHARS, tokenizeInSlices } from './sliceTokenize';
import { TokenizeCancelled } from './turns';

/**
 * Tokens per message when a result is sent in parts: 3 MB of arrays. VS Code copies a
 * message's buffers in one go; a 10 MB selection's 65 MB held the host for 60 to 80 ms.
 */
export const RESULT_PART_TOKENS = 256 * 1024;

export const TOKENS_PANEL: PanelKind = { viewType: TOKENS_VIEW_TYPE, title: 'Tokens', bundle: 'tokens' };
const BOS_MEMENTO_KEY = 'modelLens.tokenize.prependBos';

/** What a Tokenize Selection run produced (the command's return value; tests read it). */
export interface TokenizeOutcome {
  readonly uri: string;
  readonly start: number;
  readonly end: number;
  readonly chars: number;
  readonly ids: number[];
}

interface Shown {
  readonly uri: string;
  readonly version: number;
  readonly start: number;
  readonly starts: Uint32Array;
  readonly ends: Uint32Array;
}

export class TokenizePanelController implements vscode.Disposable {
  private session: PanelSession<TokensProtocol> | undefined;
  private ready = false;
  private latest: TokensProtocol['toWebview'] | undefined;
  private shown: Shown | undefined;
  private job = 0;
  private readonly highlight: vscode.TextEditorDecorationType;
  private readonly subscriptions: vscode.Disposable[] = [];

  constructor(
    private readonly extensionUri: vscode.Uri,
    private readonly memento: vscode.Memento,
    private readonly settings: () => ModelLensSettings,
    private readonly log: (line: string) => void,
    /** When given, large selections come from the document's token cache instead of re-tokenizing. */
    private readonly registry?: DocumentTokenRegistry,
  ) {
    this.highlight = vscode.window.createTextEditorDecorationType({
      backgroundColor: new vscode.ThemeColor('editor.findMatchHighlightBackground'),
      borderColor: new vscode.ThemeColor('editor.findMatchBorder'),
      borderStyle: 'solid',
      borderWidth: '1px',
    });
    this.subscriptions.push(
      this.highlight,
      vscode.window.onDidChangeTextEditorSelection((e) => this.followCursor(e)),
    );
  }

  /** Tokenizes the editor's selection (the whole document when it is empty) into the panel. */
  async tokenizeEditor(editor = vscode.window.activeTextEditor): Promise<TokenizeOutcome | undefined> {
    if (!editor) {
      void vscode.window.showInformationMessage('Model Lens: open a file and select some text to tokenize.');
      return undefined;
    }
    const document = editor.document;
    const selection = editor.selection;
    const range = selection.isEmpty ? fullRange(document) : new vscode.Range(selection.start, selection.end);
    this.ensurePanel();
    return this.run(document, document.offsetAt(range.start), document.offsetAt(range.end));
  }

  /** Serializer entry point: VS Code restored a panel after a reload. */
  async revive(panel: vscode.WebviewPanel, state: unknown): Promise<void> {
    this.session?.dispose();
    restorePanel(panel, TOKENS_PANEL, this.extensionUri);
    this.attach(panel);
    if (!isTokensPanelState(state)) {
      this.send({ type: 'tokens/failed', message: 'Nothing to show yet: run "Model Lens: Tokenize Selection".' });
      return;
    }
    try {
      const uri = vscode.Uri.parse(state.uri, true);
      const allowed = revivableUri(
        uri.toString(),
        uri.scheme,
        vscode.workspace.textDocuments.map((d) => d.uri.toString()),
      );
      if (!allowed.ok) {
        this.send({ type: 'tokens/failed', message: `Not reopening ${state.uri}: ${allowed.reason}.` });
        return;
      }
      const document = await vscode.workspace.openTextDocument(uri);
      const length = documentLength(document);
      await this.run(document, Math.min(state.start, length), Math.min(state.end, length));
    } catch (e) {
      this.send({ type: 'tokens/failed', message: `Could not reopen ${state.uri}: ${(e as Error).message}` });
    }
  }

  dispose(): void {
    this.job++;
    this.session?.dispose();
    for (const s of this.subscriptions) s.dispose();
  }

  private ensurePanel(): void {
    if (this.session && !this.session.isDisposed) {
      this.session.panel.reveal(undefined, true);
      return;
    }
    this.attach(createPanel(TOKENS_PANEL, this.extensionUri, besideColumn()));
  }

  private attach(panel: vscode.WebviewPanel): void {
    panel.iconPath = panelIcon(this.extensionUri, 'tokens');
    this.ready = false;
    this.latest = undefined;
    const session = new PanelSession<TokensProtocol>(
      panel,
      {
        schemas: tokensWebviewSchemas,
        handlers: { copyText: (req) => copyToClipboard(req.text) },
        onNotification: (msg) => this.onNotification(msg),
        log: this.log,
      },
      () => {
        if (this.session === session) {
          this.session = undefined;
          this.shown = undefined;
          this.job++;
          this.clearHighlight();
        }
      },
    );
    panel.onDidChangeViewState(() => {
      // Hidden webviews are torn down; the page announces itself again when shown.
      if (!panel.visible) this.ready = false;
    });
    this.session = session;
  }

  private onNotification(msg: TokensProtocol['toHost']): void {
    switch (msg.type) {
      case 'ready':
        this.ready = true;
        if (this.latest) this.post(this.latest);
        break;
      case 'tokens/hover':
        this.highlightToken(msg.index);
        break;
      case 'tokens/reveal':
        void this.revealToken(msg.index);
        break;
      case 'tokens/setBos':
        void this.memento.update(BOS_MEMENTO_KEY, msg.value);
        if (this.latest?.type === 'tokens/result') this.latest = { ...this.latest, prependBos: msg.value };
        break;
      default:
        assertNever(msg, 'tokens panel message');
    }
  }

  private send(msg: TokensProtocol['toWebview']): void {
    if (msg.type !== 'tokens/focus') this.latest = msg;
    if (this.ready) this.post(msg);
  }

  private post(msg: TokensProtocol['toWebview']): void {
    if (msg.type === 'tokens/result' && msg.ids.length > RESULT_PART_TOKENS) void this.postInParts(msg);
    else void this.session?.channel.post(msg);
  }

  /** A large result as a first part plus tokens/more messages, one per event-loop turn. */
  private async postInParts(msg: TokensResult): Promise<void> {
    const session = this.session;
    const job = this.job;
    const n = msg.ids.length;
    // slice, not subarray: VS Code would send a view's whole underlying buffer.
    const part = (a: number, b: number) => ({ ids: msg.ids.slice(a, b), starts: msg.starts.slice(a, b), ends: msg.ends.slice(a, b) });
    if (!session) return;
    await session.channel.post({ ...msg, ...part(0, RESULT_PART_TOKENS), total: n });
    this.registry?.workMeter.record('postTokens', Math.min(n, RESULT_PART_TOKENS));
    for (let at = RESULT_PART_TOKENS; at < n; at += RESULT_PART_TOKENS) {
      await new Promise((resolve) => setImmediate(resolve));
      // A newer run, a closed or hidden panel: the page will get the latest result again.
      if (this.job !== job || this.session !== session || !this.ready) return;
      await session.channel.post({ type: 'tokens/more', offset: at, ...part(at, Math.min(n, at + RESULT_PART_TOKENS)) });
      this.registry?.workMeter.record('postTokens', Math.min(n, at + RESULT_PART_TOKENS) - at);
    }
  }

  private async run(document: vscode.TextDocument, start: number, end: number): Promise<TokenizeOutcome | undefined> {
    const job = ++this.job;
    const session = this.session;
    const version = document.version;
    // A current cache gives the tokens of a large range from its chunks, and its text without
    // VS Code joining 10 MB of lines in one turn; otherwise the text now, tokenized in slices.
    const cache = this.registry && end - start > SLICE_CHARS ? this.registry.peek(document) : undefined;
    const text = cache
      ? cache.textIn(start, end)
      : document.getText(new vscode.Range(document.positionAt(start), document.positionAt(end)));
    const source = sourceInfo(document, start, end);
    if (session) session.panel.title = `Tokens: ${source.label}`;
    this.shown = undefined;
    this.clearHighlight();
    let lastProgress = 0;
    if (text.length > SLICE_CHARS) this.send({ type: 'tokens/loading', source, chars: text.length, progress: 0 });
    const isCancelled = (): boolean => job !== this.job;
    const meter = this.registry?.workMeter;
    let result: TokensResult;
    let ids: number[];
    try {
      const packed = cache
        ? await rangeTokens(cache, start, end, { isCancelled, meter })
        : await tokenizeInSlices(text, {
            isCancelled,
            meter,
            onProgress: (progress) => {
              if (progress - lastProgress < 0.05) return;
              lastProgress = progress;
              this.send({ type: 'tokens/loading', source, chars: text.length, progress });
            },
          });
      const { vocabIds, vocabDisplays } = await vocabularyInTurns(packed.ids, { isCancelled, meter });
      ids = await numberArrayInTurns(packed.ids, { isCancelled, meter });
      result = {
        type: 'tokens/result',
        source,
        chars: text.length,
        note: noteFor(text, packed.length),
        ids: packed.ids,
        // Offsets are never negative, so the int32 buffers reinterpret as uint32 without a copy.
        starts: new Uint32Array(packed.starts.buffer, packed.starts.byteOffset, packed.length),
        ends: new Uint32Array(packed.ends.buffer, packed.ends.byteOffset, packed.length),
        vocabIds,
        vocabDisplays,
        bosDisplay: tokenDisplay(END_OF_TEXT_ID),
        prependBos: this.memento.get<boolean>(BOS_MEMENTO_KEY, this.settings().prependBos),
      };
    } catch (e) {
      if (e instanceof TokenizeCancelled) return undefined;
      this.send({ type: 'tokens/failed', message: `Tokenization failed: ${(e as Error).message}` });
      return undefined;
    }
    this.shown = { uri: source.uri, version, start, starts: result.starts, ends: result.ends };
    this.send(result);
    return { uri: source.uri, start, end, chars: text.length, ids };
  }

  /** The shown tokens' document range of token `index`, if the document has not changed since. */
  private tokenRange(
    index: number | null,
  ): { editor: vscode.TextEditor | undefined; document: vscode.TextDocument; range: vscode.Range } | undefined {
    const shown = this.shown;
    if (index === null || !shown || index >= shown.starts.length) return undefined;
    const document = vscode.workspace.textDocuments.find((d) => d.uri.toString() === shown.uri);
    if (!document || document.version !== shown.version) return undefined;
    const range = new vscode.Range(
      document.positionAt(shown.start + shown.starts[index]!),
      document.positionAt(shown.start + shown.ends[index]!),
    );
    const editor = vscode.window.visibleTextEditors.find((e) => e.document === document);
    return { editor, document, range };
  }

  private highlightToken(index: number | null): void {
    const found = this.tokenRange(index);
    this.clearHighlight();
    if (found?.editor) {
      found.editor.setDecorations(this.highlight, [found.range]);
      found.editor.revealRange(found.range, vscode.TextEditorRevealType.InCenterIfOutsideViewport);
    }
  }

  private clearHighlight(): void {
    for (const editor of vscode.window.visibleTextEditors) editor.setDecorations(this.highlight, []);
  }

  private async revealToken(index: number): Promise<void> {
    const found = this.tokenRange(index);
    if (!found) return;
    const editor =
      found.editor ?? (await vscode.window.showTextDocument(found.document, { viewColumn: vscode.ViewColumn.One, preserveFocus: false }));
    editor.selection = new vscode.Selection(found.range.start, found.range.end);
    editor.revealRange(found.range, vscode.TextEditorRevealType.InCenterIfOutsideViewport);
  }

  private followCursor(e: vscode.TextEditorSelectionChangeEvent): void {
    const shown = this.shown;
    if (!shown || !this.ready || e.textEditor.document.uri.toString() !== shown.uri) return;
    if (e.textEditor.document.version !== shown.version) return;
    const offset = e.textEditor.document.offsetAt(e.selections[0]!.active) - shown.start;
    this.send({ type: 'tokens/focus', index: tokenIndexAt(shown.starts, shown.ends, offset) });
  }
}

/** Index of the token covering UTF-16 `offset` (the last whose start is <= offset), or null outside them. */
export function tokenIndexAt(starts: Uint32Array, ends: Uint32Array, offset: number): number | null {
  if (starts.length === 0 || offset < starts[0]! || offset > ends[ends.length - 1]!) return null;
  let lo = 0;
  let hi = starts.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (starts[mid]! <= offset) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

export function noteFor(text: string, tokens: number): string {
  if (text.length === 0) return 'Nothing to tokenize: the selection and the document are empty.';
  if (text.trim().length === 0) {
    return `The selection is whitespace only: ${tokens} ${tokens === 1 ? 'token' : 'tokens'} of spaces, tabs or newlines.`;
  }
  return '';
}

function fullRange(document: vscode.TextDocument): vscode.Range {
  return new vscode.Range(new vscode.Position(0, 0), document.positionAt(documentLength(document)));
}

function sourceInfo(document: vscode.TextDocument, start: number, end: number): TokenSourceInfo {
  const label = document.uri.path.split('/').pop() || document.uri.toString();
  const whole = start === 0 && end === documentLength(document);
  const from = document.positionAt(start);
  const to = document.positionAt(end);
  const range = whole
    ? 'whole document'
    : from.line === to.line
      ? `line ${from.line + 1}, columns ${from.character + 1}–${to.character + 1}`
      : `lines ${from.line + 1}–${to.line + 1}`;
  return { label, range, uri: document.uri.toString(), start, end };
}
