// Inline next-token logits: the model's top-k next tokens with probabilities as an inlay hint AT
// THE CURSOR (or the selection's end), so it is in view on long lines and with word wrap on or
// off (inlay hints are laid out with the text, wrapping included). Its tooltip lists the top-k
// and double-clicking it inserts the top token.
//
// Scheduling: at most one request is in the engine at a time. A keystroke does not abort it (a
// plain forward cannot stop mid-way in the worker, so an aborted run would still hold the worker
// and the next one would queue behind it); instead, when it answers, the latest position is asked
// for if the document or the cursor moved meanwhile. While the new answer is computed, the
// previous one stays at the cursor, marked stale ("⋯", tooltip says so). A result is shown as
// current only for the document version and position it was computed for.
//
// While a steering vector is active (SteeringState), a second hint beside it shows the next token
// with the vector ("steered 20.1% ' love'"), from a second, steered forward (steeredNext.ts).
import * as vscode from 'vscode';
import { isAbortError } from '../../common/errors';
import type { EngineService } from '../activation/engineService';
import { NonFiniteLogitsError } from '../logitRows';
import type { SteeringState } from '../activation/steering';
import { topNextTokens, type NextToken } from './nextTokens';
import { steeredNextTokens } from './steeredNext';

export const INLINE_LOGITS_SETTING = 'modelLens.inlineLogits';
/** Coalesces the events of one keystroke (the edit and the selection change); not a wait for typing to stop. */
const COALESCE_MS = 5;
/** Lines shorter than this fit the editor: no scrolling to make room for the hint. */
const MAKE_ROOM_MIN_LINE = 40;
/** The editor renders the hints a provider returned within a frame or two. */
const MAKE_ROOM_AFTER_MS = 60;

/** Where the time went from the keystroke to the hint, for the last hint shown (milliseconds). */
export interface InlineLogitsTiming {
  /** From the keystroke (the last edit or cursor move) to the hint handed to the editor. */
  readonly total: number;
  /** The engine's own time: request sent to answer received. */
  readonly engine: number;
  /** Tokenizing the context on the host. */
  readonly tokenize: number;
  /** Waiting for a request already in the engine (for an older position) to finish. */
  readonly queued: number;
  /** What the host added: total - engine - queued. */
  readonly host: number;
}

export interface InlineLogitsState {
  /** The current hint's text, '' when none is current. */
  readonly text: string;
  readonly uri: string | undefined;
  readonly version: number | undefined;
  readonly offset: number | undefined;
  /** The previous hint's text while it is shown marked stale; '' otherwise. */
  readonly stale: string;
  readonly timing: InlineLogitsTiming | undefined;
}

interface Target {
  readonly editor: vscode.TextEditor;
  readonly uri: string;
  readonly version: number;
  readonly offset: number;
}

interface Result {
  readonly target: Target;
  readonly text: string;
  readonly top: readonly NextToken[];
  /** The next tokens with the steering vector, while one is active. */
  readonly steered?: readonly NextToken[];
  readonly error: boolean;
}

function readConfig(): { enabled: boolean; topK: number } {
  const c = vscode.workspace.getConfiguration(INLINE_LOGITS_SETTING);
  const topK = c.get<number>('topK', 5);
  return { enabled: c.get<boolean>('enabled', false), topK: Number.isInteger(topK) ? Math.max(1, Math.min(20, topK)) : 5 };
}

function currentTarget(): Target | undefined {
  const editor = vscode.window.activeTextEditor;
  if (!editor) return undefined;
  const doc = editor.document;
  return { editor, uri: doc.uri.toString(), version: doc.version, offset: doc.offsetAt(editor.selection.end) };
}

function sameTarget(a: Target | undefined, b: Target | undefined): boolean {
  return a !== undefined && b !== undefined && a.uri === b.uri && a.version === b.version && a.offset === b.offset;
}

export class InlineLogits implements vscode.Disposable, vscode.InlayHintsProvider {
  private readonly subscriptions: vscode.Disposable[] = [];
  private readonly hintsChanged = new vscode.EventEmitter<void>();
  readonly onDidChangeInlayHints = this.hintsChanged.event;
  private timer: ReturnType<typeof setTimeout> | undefined;
  /** The request in the engine now, if any. */
  private running: Promise<void> | undefined;
  private inflight: AbortController | undefined;
  /** The last answer; shown as current when its target is the cursor's, else as stale. */
  private last: Result | undefined;
  /** When the last keystroke (edit or cursor move) happened. */
  private keystrokeAt = performance.now();
  private timing: InlineLogitsTiming | undefined;
  /** The cursor position the editor was last scrolled for (see makeRoom). */
  private roomFor: Target | undefined;
  private readonly changed = new vscode.EventEmitter<InlineLogitsState>();
  /** Fires whenever what is shown changes (tests wait on it). */
  readonly onDidChange = this.changed.event;

  constructor(
    private readonly engine: EngineService,
    private readonly steering?: SteeringState,
  ) {
    if (steering) {
      this.subscriptions.push(
        steering.onDidChange(() => {
          this.last = undefined;
          this.schedule();
        }),
      );
    }
    this.subscriptions.push(
      this.changed,
      this.hintsChanged,
      vscode.languages.registerInlayHintsProvider([{ scheme: 'file' }, { scheme: 'untitled' }], this),
      vscode.workspace.onDidChangeTextDocument((e) => {
        if (e.document === vscode.window.activeTextEditor?.document) this.schedule();
      }),
      vscode.window.onDidChangeTextEditorSelection(() => this.schedule()),
      vscode.window.onDidChangeActiveTextEditor(() => this.schedule()),
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (e.affectsConfiguration(INLINE_LOGITS_SETTING)) this.schedule();
      }),
      engine.onDidChangeModel(() => {
        this.last = undefined;
        this.schedule();
      }),
    );
    this.schedule();
  }

  get state(): InlineLogitsState {
    const target = currentTarget();
    const last = this.last;
    const current = last !== undefined && sameTarget(last.target, target);
    return {
      text: current ? last.text : '',
      uri: current ? last.target.uri : undefined,
      version: current ? last.target.version : undefined,
      offset: current ? last.target.offset : undefined,
      stale: !current && last !== undefined && last.target.uri === target?.uri ? last.text : '',
      timing: this.timing,
    };
  }

  async toggle(): Promise<boolean> {
    const next = !readConfig().enabled;
    await vscode.workspace.getConfiguration(INLINE_LOGITS_SETTING).update('enabled', next, vscode.ConfigurationTarget.Global);
    return next;
  }

  /** After a keystroke: the hint goes stale at once, and the latest position is asked for when the engine is free. */
  private schedule(): void {
    this.keystrokeAt = performance.now();
    clearTimeout(this.timer);
    if (!readConfig().enabled) {
      this.inflight?.abort();
      this.inflight = undefined;
      this.last = undefined;
      this.publish();
      return;
    }
    this.publish();
    this.timer = setTimeout(() => this.kick(), COALESCE_MS);
  }

  /** Starts the request loop unless a request is in the engine; that one's end continues the loop. */
  private kick(): void {
    if (this.running) return;
    this.running = this.loop().finally(() => (this.running = undefined));
  }

  private async loop(): Promise<void> {
    let queuedSince: number | undefined;
    let asked: Target | undefined;
    for (;;) {
      const target = currentTarget();
      // Asked already (an empty context, an error): wait for the next keystroke, never spin.
      if (!target || !readConfig().enabled || sameTarget(this.last?.target, target) || sameTarget(asked, target)) return;
      asked = target;
      const started = performance.now();
      // A keystroke that came while the previous request ran waited for it: that is the queue.
      const queued = queuedSince !== undefined ? Math.max(0, started - Math.max(queuedSince, this.keystrokeAt)) : 0;
      const keystroke = this.keystrokeAt;
      await this.compute(target, keystroke, queued);
      queuedSince = performance.now();
    }
  }

  private async compute(target: Target, keystroke: number, queued: number): Promise<void> {
    const abort = new AbortController();
    this.inflight = abort;
    try {
      const engine = await this.engine.get();
      if (abort.signal.aborted) return;
      const doc = target.editor.document;
      if (doc.version !== target.version) return; // moved on before the request left: the loop asks again
      let text: string;
      let top: readonly NextToken[] = [];
      let steered: readonly NextToken[] | undefined;
      let error = false;
      let engineMs = 0;
      let tokenizeMs = 0;
      try {
        const r = await topNextTokens(engine, doc, target.offset, readConfig().topK, abort.signal);
        if (r === undefined) return;
        top = r.top;
        engineMs = r.engineMs;
        tokenizeMs = r.tokenizeMs;
        const steer = this.steering?.intervention;
        if (steer) steered = await steeredNextTokens(engine, doc, target.offset, readConfig().topK, steer, abort.signal);
        text = formatHint(top, engine.model.isDemo) + (steered ? ` · ${formatSteered(steered)}` : '');
      } catch (e) {
        if (!(e instanceof NonFiniteLogitsError)) throw e;
        text = `next: unavailable (${e.message})`;
        error = true;
      }
      if (abort.signal.aborted) return;
      this.last = { target, text, top, error, ...(steered ? { steered } : {}) };
      const total = performance.now() - keystroke;
      this.timing = { total, engine: engineMs, tokenize: tokenizeMs, queued, host: Math.max(0, total - engineMs - queued) };
      this.publish();
    } catch (e) {
      if (!isAbortError(e) && !(e instanceof vscode.CancellationError)) {
        void vscode.window.setStatusBarMessage(`Model Lens inline logits: ${(e as Error).message}`, 5000);
      }
    } finally {
      if (this.inflight === abort) this.inflight = undefined;
    }
  }

  /**
   * With word wrap off, typing at the end of a long line keeps the cursor at the viewport's right
   * edge, and a hint after it would be cut off: scroll right by the hint's width. Only at the end
   * of a line, where the editor's own scroll limit (the line's end plus a few columns) keeps the
   * cursor and the hint in view however often it runs; with word wrap on it does nothing.
   */
  private makeRoom(target: Target, label: string): void {
    const editor = vscode.window.activeTextEditor;
    if (editor !== target.editor || !sameTarget(currentTarget(), target)) return;
    const at = editor.document.positionAt(target.offset);
    const line = editor.document.lineAt(at.line);
    if (at.character !== line.range.end.character || line.text.length < MAKE_ROOM_MIN_LINE) return;
    void vscode.commands.executeCommand('editorScroll', { to: 'right', by: 'column', value: label.length + 2, revealCursor: false });
  }

  /** Asks the editor for the hints again and tells listeners. */
  private publish(): void {
    this.hintsChanged.fire();
    this.changed.fire(this.state);
  }

  provideInlayHints(doc: vscode.TextDocument, range: vscode.Range): vscode.InlayHint[] {
    const last = this.last;
    const target = currentTarget();
    if (!last || !target || !readConfig().enabled || target.uri !== doc.uri.toString() || last.target.uri !== target.uri) return [];
    const at = doc.positionAt(target.offset);
    if (!range.contains(at)) return [];
    const current = sameTarget(last.target, target);
    const hint = new vscode.InlayHint(at, current ? hintLabel(last) : `⋯ ${hintLabel(last)}`);
    hint.paddingLeft = true;
    hint.tooltip = tooltip(last, current);
    const best = last.top[0];
    // Double-click inserts the top token, as accepting a suggestion would.
    if (current && best) hint.textEdits = [vscode.TextEdit.insert(at, best.text)];
    if (!sameTarget(this.roomFor, target)) {
      this.roomFor = target;
      // After the editor has laid the hint out: its width then counts in how far the editor may scroll.
      setTimeout(() => this.makeRoom(target, hint.label as string), MAKE_ROOM_AFTER_MS);
    }
    const steered = steeredLabel(last);
    if (steered === undefined) return [hint];
    const second = new vscode.InlayHint(at, current ? steered : `⋯ ${steered}`);
    second.paddingLeft = true;
    second.tooltip = hint.tooltip;
    return [hint, second];
  }

  dispose(): void {
    clearTimeout(this.timer);
    this.inflight?.abort();
    for (const s of this.subscriptions) s.dispose();
  }
}

function percent(p: number): string {
  return `${(100 * p).toLocaleString(vscode.env.language, { minimumFractionDigits: 1, maximumFractionDigits: 1 })}%`;
}

/** What the hint shows at the cursor: the top token and its probability, short so it stays in view (the tooltip has the top-k). */
function hintLabel(r: Result): string {
  const best = r.top[0];
  if (r.error || !best) return r.text;
  // With a steering hint beside it the ellipsis goes: the line's hints share one length budget.
  const more = r.top.length > 1 && !r.steered ? ' …' : '';
  return `next: ${JSON.stringify(best.display)} ${percent(best.probability)}${more}`;
}

/**
 * The second hint while a steering vector is active: "steered 20.1% ' love'". The editor cuts the
 * hints of a line together at editor.inlayHints.maximumLength (43 characters by default), so it is
 * short and puts the probability before the token, whose tail is what a cut loses (the tooltip has
 * the whole top-k with and without steering).
 */
function steeredLabel(r: Result): string | undefined {
  const best = r.error ? undefined : r.steered?.[0];
  return best && `steered ${percent(best.probability)} ${JSON.stringify(best.display)}`;
}

/** "with steering: ' love' 20.1% · ' like' 9.3%" */
function formatSteered(top: readonly NextToken[]): string {
  return `with steering: ${top.map((t) => `${JSON.stringify(t.display)} ${percent(t.probability)}`).join(' · ')}`;
}

/** "next: ' the' 12.3% · ',' 8.1% …" */
export function formatHint(top: readonly NextToken[], isDemo: boolean): string {
  const parts = top.map((t) => `${JSON.stringify(t.display)} ${percent(t.probability)}`);
  return `next: ${parts.join(' · ')}${isDemo ? '  (demo model: random weights)' : ''}`;
}

function tooltip(r: Result, current: boolean): vscode.MarkdownString {
  const md = new vscode.MarkdownString();
  if (!current) md.appendMarkdown('*Stale: computed before your last edit; the new prediction is on its way.*\n\n');
  if (r.error) {
    md.appendText(r.text);
    return md;
  }
  md.appendMarkdown('**Model Lens: next token**\n\n| # | token | probability |\n|--:|:--|--:|\n');
  r.top.forEach((t, i) =>
    md.appendMarkdown(`| ${i + 1} | \`${t.display.replace(/[`|]/g, (c) => `\\${c}`)}\` | ${percent(t.probability)} |\n`),
  );
  if (r.steered) {
    md.appendMarkdown('\n**With the steering vector**\n\n| # | token | probability |\n|--:|:--|--:|\n');
    r.steered.forEach((t, i) =>
      md.appendMarkdown(`| ${i + 1} | \`${t.display.replace(/[`|]/g, (c) => `\\${c}`)}\` | ${percent(t.probability)} |\n`),
    );
  }
  md.appendMarkdown('\nDouble-click the hint to insert the top token.');
  return md;
}
