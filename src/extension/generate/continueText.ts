// "Model Lens: Continue Text": continues from the cursor (the end of the selection), streaming the
// tokens the engine worker generates into the document as they come. The whole continuation is
// one undo step: every step replaces the range inserted so far with the text of all tokens so far,
// and only the first edit opens an undo stop. Esc or the notification's Cancel stops it; so does
// closing or editing the document or switching the model, with nothing written afterwards. Each
// generated token is coloured by its probability, with a hover (GeneratedTokens), until edited.
import * as vscode from 'vscode';
import type { StopReason } from '../../engine/generate';
import { checkSamplingOptions, type SampledToken } from '../../engine/sampler';
import { isAbortError } from '../../common/errors';
import type { EngineService } from '../activation/engineService';
import { tailInput } from '../modelInput';
import { GeneratedTokens } from './generatedTokens';
import { insertedText } from './tokenInfo';

export const GENERATE_COMMANDS = {
  continueText: 'modelLens.continueText',
  /** Esc while generating (the `modelLens.generating` context key), and tests. */
  cancel: 'modelLens.continueText.cancel',
} as const;

const SETTINGS = 'modelLens.generate';
const GENERATING_CONTEXT = 'modelLens.generating';
/** Text before the cursor that is tokenized: enough for n_ctx tokens of ordinary text (as inline logits). */
const CONTEXT_CHARS = 8000;

export type ContinueStop = StopReason | 'cancelled' | 'edited' | 'closed' | 'modelChanged' | 'error';

/** What a Continue Text run did (the command's return value; tests read it). */
export interface ContinueOutcome {
  readonly prompt: number;
  readonly tokens: readonly SampledToken[];
  /** Where the continuation starts in the document (UTF-16 offset) and what was inserted. */
  readonly offset: number;
  readonly text: string;
  readonly stop: ContinueStop;
  readonly message?: string;
}

interface GenerateSettings {
  readonly maxNewTokens: number;
  readonly temperature: number;
  readonly topK: number;
  readonly topP: number;
  readonly seed: number;
}

/** The settings, checked: a bad value is an error message naming the setting, before anything runs. */
export function readGenerateSettings(): GenerateSettings {
  const c = vscode.workspace.getConfiguration(SETTINGS);
  const s = {
    maxNewTokens: c.get<number>('maxNewTokens', 32),
    temperature: c.get<number>('temperature', 1),
    topK: c.get<number>('topK', 50),
    topP: c.get<number>('topP', 1),
    seed: c.get<number>('seed', 0),
  };
  if (!Number.isInteger(s.maxNewTokens) || s.maxNewTokens < 1)
    throw new Error(`${SETTINGS}.maxNewTokens must be a whole number ≥ 1, not ${s.maxNewTokens}`);
  if (!Number.isInteger(s.seed)) throw new Error(`${SETTINGS}.seed must be a whole number, not ${s.seed}`);
  try {
    checkSamplingOptions(s);
  } catch (e) {
    throw new Error(`${SETTINGS}: ${(e as Error).message}`, { cause: e });
  }
  return s;
}

/** Thrown inside a run to stop it for a reason other than the engine's. */
class Stopped extends Error {
  constructor(readonly stop: ContinueStop) {
    super(stop);
  }
}

export class ContinueText implements vscode.Disposable {
  private current: AbortController | undefined;
  readonly generated = new GeneratedTokens();

  constructor(private readonly engine: EngineService) {}

  cancel(): void {
    this.current?.abort(new Stopped('cancelled'));
  }

  async run(editor = vscode.window.activeTextEditor): Promise<ContinueOutcome | undefined> {
    if (!editor) {
      void vscode.window.showInformationMessage('Model Lens: Continue Text needs a text editor.');
      return undefined;
    }
    let settings: GenerateSettings;
    try {
      settings = readGenerateSettings();
    } catch (e) {
      void vscode.window.showErrorMessage(`Model Lens: ${(e as Error).message}`);
      return undefined;
    }
    this.current?.abort(new Stopped('cancelled'));
    const abort = new AbortController();
    this.current = abort;
    void vscode.commands.executeCommand('setContext', GENERATING_CONTEXT, true);
    try {
      return await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title: 'Model Lens: continuing text', cancellable: true },
        (progress, token) => {
          token.onCancellationRequested(() => abort.abort(new Stopped('cancelled')));
          return this.generate(editor, settings, abort, (n) => progress.report({ message: `${n} / ${settings.maxNewTokens} tokens` }));
        },
      );
    } finally {
      if (this.current === abort) {
        this.current = undefined;
        void vscode.commands.executeCommand('setContext', GENERATING_CONTEXT, false);
      }
    }
  }

  private async generate(
    editor: vscode.TextEditor,
    settings: GenerateSettings,
    abort: AbortController,
    report: (n: number) => void,
  ): Promise<ContinueOutcome> {
    const doc = editor.document;
    const offset = doc.offsetAt(editor.selection.end);
    const tokens: SampledToken[] = [];
    let written = '';
    /** The edit in flight, to tell its change event from anyone else's (theirs can arrive while ours is in flight). */
    let expected: { rangeOffset: number; rangeLength: number; text: string } | null = null;
    let firstEdit = true;
    let promptLength = 0;
    const outcome = (stop: ContinueStop, message?: string): ContinueOutcome => ({
      prompt: promptLength,
      tokens,
      offset,
      text: written,
      stop,
      ...(message !== undefined ? { message } : {}),
    });
    const stopWith = (s: ContinueStop) => () => abort.abort(new Stopped(s));
    const watchers = [
      vscode.workspace.onDidChangeTextDocument((e) => {
        if (e.document !== doc) return;
        const ours = (c: vscode.TextDocumentContentChangeEvent): boolean =>
          expected !== null && c.rangeOffset === expected.rangeOffset && c.rangeLength === expected.rangeLength && c.text === expected.text;
        if (e.contentChanges.some((c) => !ours(c))) stopWith('edited')();
      }),
      vscode.workspace.onDidCloseTextDocument((d) => {
        if (d === doc) stopWith('closed')();
      }),
      // Before the unload ends the worker (which fails the request with an AbortError), so the stop says why.
      this.engine.onWillChangeModel(stopWith('modelChanged')),
    ];
    // Writes are serialized: each replaces what was inserted so far with the text of every token so far.
    let writing: Promise<void> = Promise.resolve();
    const write = (): Promise<void> =>
      (writing = writing.then(async () => {
        const want = insertedText(tokens.map((t) => t.id));
        if (want === written || abort.signal.aborted) return;
        const range = new vscode.Range(doc.positionAt(offset), doc.positionAt(offset + written.length));
        expected = { rangeOffset: offset, rangeLength: written.length, text: want };
        let ok: boolean;
        try {
          // Refused (false) when the document changed since `range` was computed.
          ok = await editor.edit((b) => b.replace(range, want), { undoStopBefore: firstEdit, undoStopAfter: false });
        } finally {
          expected = null;
        }
        if (!ok) throw new Stopped('edited');
        firstEdit = false;
        written = want;
        this.generated.set(editor, offset, tokens, written.length);
      }));
    try {
      const engine = await this.engine.get();
      if (abort.signal.aborted) throw abort.signal.reason;
      const nCtx = engine.cfg.n_ctx;
      const from = Math.max(0, offset - CONTEXT_CHARS);
      const before = doc.getText(new vscode.Range(doc.positionAt(from), doc.positionAt(offset)));
      // Room for the new tokens: the prompt keeps the last n_ctx − maxNewTokens tokens (at least one).
      const { ids } = tailInput(before, from === 0, Math.max(1, nCtx - settings.maxNewTokens));
      promptLength = ids.length;
      if (ids.length === 0) return outcome('contextFull', 'nothing to continue from');
      this.generated.demo = engine.model.isDemo;
      const r = await engine.client.generate(ids, settings, {
        signal: abort.signal,
        onToken: (p) => {
          if (abort.signal.aborted) return;
          tokens.push(p.token);
          report(tokens.length);
          write().catch((e: unknown) => abort.abort(e instanceof Stopped ? e : new Stopped('error')));
        },
      });
      await write();
      if (abort.signal.aborted) throw abort.signal.reason;
      return outcome(r.stop);
    } catch (e) {
      await writing.catch(() => undefined);
      const reason: unknown = abort.signal.aborted ? abort.signal.reason : e;
      if (reason instanceof Stopped) return outcome(reason.stop);
      if (isAbortError(reason)) return outcome('cancelled');
      const message = reason instanceof Error ? reason.message : String(reason);
      void vscode.window.showErrorMessage(`Model Lens: Continue Text stopped: ${message}`);
      return outcome('error', message);
    } finally {
      for (const w of watchers) w.dispose();
      // Close the undo group, so the user's next typing is a step of its own.
      if (!firstEdit && !doc.isClosed && editor === vscode.window.visibleTextEditors.find((e) => e === editor)) {
        await Promise.resolve(editor.edit(() => undefined, { undoStopBefore: false, undoStopAfter: true })).catch(() => undefined);
      }
    }
  }

  dispose(): void {
    this.cancel();
    this.generated.dispose();
  }
}
