// "Model Lens: Activation Patching…" and "Model Lens: Detect Heads": ask for the prompts (the
// selection first), run one batched experiment in the engine worker under a progress
// notification with Cancel, and show the heatmaps in the activation panel's Experiment view.
// Both commands take an optional argument object so tests and keybindings can skip the prompts.
import * as vscode from 'vscode';
import { isAbortError } from '../../common/errors';
import { parsePrompts, promptPairAt } from '../../common/promptsFile';
import { repeatedRandomTokens } from '../../engine/experiments/headDetector';
import { describeMetric, type Metric } from '../../engine/experiments/metric';
import { answerToken, checkPromptPair, SWEEP_KINDS, type SweepKind } from '../../engine/experiments/patching';
import type { ExperimentOp, ExperimentResult } from '../../engine/worker/experimentCompute';
import { encode, END_OF_TEXT_ID, tokenDisplay } from '../../tokenizer';
import type { ActivationPanelController } from './activationPanel';
import type { EngineService, LoadedEngine } from './engineService';

export const EXPERIMENT_COMMANDS = {
  activationPatching: 'modelLens.activationPatching',
  detectHeads: 'modelLens.detectHeads',
  /** Hidden: export the experiment on show ({ format, path }), for tests. */
  exportExperiment: 'modelLens.exportExperiment',
  /** Hidden: the experiment on show (title and first map's values), for tests. */
  experimentState: 'modelLens.experiment.state',
} as const;

const SWEEP_TEXT: Record<SweepKind, string> = {
  resid_pre: 'Residual stream (resid_pre) × layer × position',
  attn_out: 'Attention output × layer × position',
  mlp_out: 'MLP output × layer × position',
  head_out: "Every head's output (hook_z, all positions) × layer × head",
  head_pattern: 'Attention pattern per head × layer × head',
  head_out_pos: "One head's output per position",
};

export interface PatchingArgs {
  readonly clean?: string;
  readonly corrupted?: string;
  /** Both answers as typed text (a leading space is part of the token); both absent: the loss. */
  readonly answer?: string;
  readonly wrong?: string;
  readonly sweep?: SweepKind;
  readonly head?: { readonly layer: number; readonly head: number };
  /** A `.prompts` file (absolute path) and a 0-based line: that line's prompt is clean, the next prompt corrupted. */
  readonly promptsFile?: string;
  readonly line?: number;
}

export interface HeadsArgs {
  readonly text?: string;
  /** The standard test: BOS + `length` seeded random tokens, twice. */
  readonly repeated?: { readonly seed: number; readonly length: number };
}

function selectionText(): string | undefined {
  const ed = vscode.window.activeTextEditor;
  if (!ed || ed.selection.isEmpty) return undefined;
  return ed.document.getText(ed.selection);
}

/**
 * Clean and corrupted prompts (and answers, when the clean line gives them) from a `.prompts` file:
 * the one named in the arguments, or the active editor when it is one (the cursor's line and the next prompt).
 */
async function promptsFilePair(
  args: PatchingArgs,
): Promise<{ clean: string; corrupted: string; answers?: readonly [string, string] } | undefined> {
  let doc: vscode.TextDocument | undefined;
  let line = args.line ?? 0;
  if (args.promptsFile !== undefined) {
    doc = await vscode.workspace.openTextDocument(vscode.Uri.file(args.promptsFile));
  } else if (args.clean === undefined) {
    const ed = vscode.window.activeTextEditor;
    if (ed?.document.uri.path.endsWith('.prompts')) {
      doc = ed.document;
      line = ed.selection.start.line;
    }
  }
  if (!doc) return undefined;
  const [clean, corrupted] = promptPairAt(parsePrompts(doc.getText()), line);
  const answers = clean.answers ?? corrupted.answers;
  return { clean: clean.text, corrupted: corrupted.text, ...(answers ? { answers } : {}) };
}

function withBos(text: string): number[] {
  return [END_OF_TEXT_ID, ...encode(text)];
}

function quoted(text: string, max = 60): string {
  return JSON.stringify(text.length > max ? `${text.slice(0, max)}…` : text);
}

/** Runs one experiment under a cancellable progress notification. */
function runWithProgress(engine: LoadedEngine, title: string, op: ExperimentOp): Thenable<ExperimentResult> {
  return vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title, cancellable: true }, (_progress, token) => {
    const abort = new AbortController();
    token.onCancellationRequested(() => abort.abort());
    return engine.client.experiment(op, abort.signal);
  });
}

function csvField(s: string): string {
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

function rowsOf(values: Float32Array, cols: number): number[][] {
  const out: number[][] = [];
  for (let r = 0; r < values.length / cols; r++) out.push(Array.from(values.subarray(r * cols, (r + 1) * cols)));
  return out;
}

export function registerExperimentCommands(engineService: EngineService, panel: ActivationPanelController): vscode.Disposable[] {
  const report = (e: unknown): undefined => {
    if (isAbortError(e)) void vscode.window.showInformationMessage('Model Lens: experiment cancelled.');
    else void vscode.window.showErrorMessage(`Model Lens: ${e instanceof Error ? e.message : String(e)}`);
    return undefined;
  };

  async function activationPatching(
    args: PatchingArgs = {},
  ): Promise<{ rows: number; cols: number; raw: number[]; normalized: number[] } | undefined> {
    const fromFile = await promptsFilePair(args);
    if (fromFile) {
      args = {
        ...args,
        clean: fromFile.clean,
        corrupted: fromFile.corrupted,
        ...(fromFile.answers && args.answer === undefined ? { answer: fromFile.answers[0], wrong: fromFile.answers[1] } : {}),
      };
    }
    const cleanText =
      args.clean ??
      selectionText() ??
      (await vscode.window.showInputBox({ title: 'Activation patching (1/4)', prompt: 'Clean prompt', ignoreFocusOut: true }));
    if (cleanText === undefined) return undefined;
    const corruptedText =
      args.corrupted ??
      (await vscode.window.showInputBox({
        title: 'Activation patching (2/4)',
        prompt: 'Corrupted prompt: the same number of tokens (change a word)',
        value: cleanText,
        ignoreFocusOut: true,
      }));
    if (corruptedText === undefined) return undefined;
    let answers: [string, string] | null;
    if (args.answer !== undefined || args.wrong !== undefined) {
      if (args.answer === undefined || args.wrong === undefined)
        throw new Error('give both answers (answer and wrong), or neither for the loss');
      answers = [args.answer, args.wrong];
    } else if (args.clean !== undefined && (!fromFile || args.promptsFile !== undefined)) {
      // Prompts given as arguments (tests, keybindings) without answers: the loss. From the editor's
      // .prompts file without answers, the metric is asked for below.
      answers = null;
    } else {
      const typed = await vscode.window.showInputBox({
        title: 'Activation patching (3/4)',
        prompt: 'Metric: the right and the wrong answer token separated by | (e.g.  Mary| John), or empty for the loss',
        ignoreFocusOut: true,
      });
      if (typed === undefined) return undefined;
      const parts = typed.split('|');
      if (typed.trim() !== '' && parts.length !== 2)
        throw new Error(`type two answers separated by |, e.g. " Mary| John"; got ${quoted(typed)}`);
      answers = typed.trim() === '' ? null : [parts[0]!, parts[1]!];
    }
    const metric: Metric = answers
      ? { kind: 'logitDiff', answer: answerToken(answers[0]), wrong: answerToken(answers[1]) }
      : { kind: 'loss' };
    const clean = withBos(cleanText);
    const corrupted = withBos(corruptedText);
    checkPromptPair(clean, corrupted);
    let sweep = args.sweep;
    if (sweep === undefined) {
      const pick = await vscode.window.showQuickPick(
        SWEEP_KINDS.map((k) => ({ label: SWEEP_TEXT[k], sweep: k })),
        { title: 'Activation patching (4/4)', placeHolder: 'What to patch from the clean run into the corrupted run' },
      );
      if (!pick) return undefined;
      sweep = pick.sweep;
    }
    let head = args.head;
    if (sweep === 'head_out_pos' && !head) {
      const typed = await vscode.window.showInputBox({ prompt: 'Which head? layer.head, e.g. 9.9', ignoreFocusOut: true });
      const m = typed ? /^\s*(\d+)\s*\.\s*(\d+)\s*$/.exec(typed) : null;
      if (!m) return undefined;
      head = { layer: Number(m[1]), head: Number(m[2]) };
    }
    const engine = await engineService.get();
    const op: ExperimentOp = {
      op: 'patching',
      clean: Int32Array.from(clean),
      corrupted: Int32Array.from(corrupted),
      metric,
      sweep,
      ...(head ? { head } : {}),
    };
    const r = await runWithProgress(engine, `Model Lens: patching ${SWEEP_TEXT[sweep]}`, op);
    if (r.op !== 'patching') throw new Error('unexpected engine reply');

    const rowNames = sweep === 'head_out_pos' ? [`L${head!.layer}H${head!.head}`] : Array.from({ length: r.rows }, (_, L) => `L${L}`);
    const colNames =
      r.colLabel === 'head'
        ? Array.from({ length: r.cols }, (_, h) => `H${h}`)
        : corrupted.map((t, p) => (clean[p] === t ? `${p} ${tokenDisplay(t)}` : `${p} ${tokenDisplay(clean[p]!)}→${tokenDisplay(t)}`));
    const normalized = Number.isNaN(r.normalized[0]) ? null : r.normalized;
    const values = normalized ?? r.raw;
    let scale = 1;
    for (const v of values) if (Number.isFinite(v)) scale = Math.max(scale, Math.abs(v));
    const metricText = describeMetric(metric);
    const subtitle = `clean ${quoted(cleanText)} → ${r.cleanMetric.toFixed(3)} · corrupted ${quoted(corruptedText)} → ${r.corruptedMetric.toFixed(3)} · metric: ${answers ? `logit(${quoted(answers[0])}) − logit(${quoted(answers[1])})` : metricText}`;
    const json = {
      experiment: 'activation patching',
      sweep,
      ...(head ? { head } : {}),
      model: engine.label,
      processing: engine.processing,
      metric: { ...metric, text: metricText, ...(answers ? { answerText: answers[0], wrongText: answers[1] } : {}) },
      clean: { text: cleanText, tokens: clean, metric: r.cleanMetric },
      corrupted: { text: corruptedText, tokens: corrupted, metric: r.corruptedMetric },
      normalization: '(patched - corrupted) / (clean - corrupted)',
      rowLabel: r.rowLabel,
      colLabel: r.colLabel,
      rowNames,
      colNames,
      normalized: normalized ? rowsOf(normalized, r.cols) : null,
      raw: rowsOf(r.raw, r.cols),
    };
    const csv = [
      `# activation patching, sweep ${sweep}, metric ${metricText}`,
      `# clean tokens ${clean.join(' ')}; metric ${r.cleanMetric}`,
      `# corrupted tokens ${corrupted.join(' ')}; metric ${r.corruptedMetric}`,
      `${r.rowLabel},${r.colLabel},row_name,col_name,normalized,raw`,
      ...Array.from(r.raw, (raw, k) => {
        const row = Math.floor(k / r.cols);
        const col = k % r.cols;
        return [row, col, csvField(rowNames[row]!), csvField(colNames[col]!), normalized ? normalized[k] : '', raw].join(',');
      }),
      '',
    ].join('\n');
    panel.showExperiment({
      msg: {
        type: 'act/experiment',
        title: `Activation patching: ${SWEEP_TEXT[sweep]}`,
        subtitle,
        rowLabel: r.rowLabel,
        colLabel: r.colLabel,
        rowNames,
        colNames,
        maps: [
          {
            title: normalized ? 'normalised metric (0 = corrupted, 1 = clean)' : `${metricText} (clean = corrupted: not normalised)`,
            values,
            signed: true,
            scale,
          },
        ],
        detail: normalized ? r.raw : new Float32Array(0),
        detailLabel: metricText,
        cellTop: true,
      },
      json,
      csv,
      fileStem: `patching-${sweep}`,
      patchTop: async (cell) => {
        const t = await (
          await engineService.get()
        ).client.experiment({
          op: 'patchTop',
          clean: Int32Array.from(clean),
          corrupted: Int32Array.from(corrupted),
          sweep,
          ...(head ? { head } : {}),
          cell,
          k: 10,
        });
        if (t.op !== 'patchTop') throw new Error('unexpected engine reply');
        return t;
      },
    });
    return { rows: r.rows, cols: r.cols, raw: Array.from(r.raw), normalized: Array.from(r.normalized) };
  }

  async function detectHeads(args: HeadsArgs = {}): Promise<{ kinds: string[]; scores: number[] } | undefined> {
    let tokens: number[];
    let what: string;
    const sel = args.text ?? (args.repeated ? undefined : selectionText());
    let repeated = args.repeated;
    if (sel === undefined && !repeated) {
      const pick = await vscode.window.showQuickPick(
        [
          { label: 'Repeated random tokens', description: 'BOS + 20 seeded random tokens, twice (the standard induction test)', rep: true },
          { label: 'Type a text…', rep: false },
        ],
        { title: 'Detect heads on…' },
      );
      if (!pick) return undefined;
      if (pick.rep) repeated = { seed: 0, length: 20 };
      else {
        const typed = await vscode.window.showInputBox({ prompt: 'Text to detect heads on', ignoreFocusOut: true });
        if (typed === undefined) return undefined;
        args = { text: typed };
      }
    }
    const engine = await engineService.get();
    if (repeated) {
      tokens = repeatedRandomTokens(repeated.seed, repeated.length, engine.cfg.d_vocab);
      what = `repeated random tokens (seed ${repeated.seed}, ${repeated.length} tokens twice): ${tokens
        .slice(1, 1 + Math.min(8, repeated.length))
        .map((t) => tokenDisplay(t))
        .join('')}…`;
    } else {
      const text = args.text ?? sel ?? '';
      tokens = withBos(text);
      what = quoted(text);
    }
    const r = await runWithProgress(engine, 'Model Lens: detecting heads', { op: 'detectHeads', tokens: Int32Array.from(tokens) });
    if (r.op !== 'detectHeads') throw new Error('unexpected engine reply');
    const size = r.nLayers * r.nHeads;
    const rowNames = Array.from({ length: r.nLayers }, (_, L) => `L${L}`);
    const colNames = Array.from({ length: r.nHeads }, (_, h) => `H${h}`);
    const maps = r.kinds.map((k, i) => ({
      title: k.replace(/_/g, ' '),
      values: r.scores.slice(i * size, (i + 1) * size),
      signed: false,
      scale: 1,
    }));
    const json = {
      experiment: 'head detection',
      scoring: "TransformerLens head_detector, error_measure='mul'",
      model: engine.label,
      processing: engine.processing,
      tokens,
      rowNames,
      colNames,
      scores: Object.fromEntries(r.kinds.map((k, i) => [k, rowsOf(maps[i]!.values, r.nHeads)])),
    };
    const csv = [
      `# head detection (TransformerLens mul score) on tokens ${tokens.join(' ')}`,
      `layer,head,${r.kinds.join(',')}`,
      ...Array.from({ length: size }, (_, k) => [Math.floor(k / r.nHeads), k % r.nHeads, ...maps.map((m) => m.values[k])].join(',')),
      '',
    ].join('\n');
    panel.showExperiment({
      msg: {
        type: 'act/experiment',
        title: 'Head detection',
        subtitle: `${tokens.length} tokens: ${what} · score = share of attention on the detection pattern`,
        rowLabel: 'layer',
        colLabel: 'head',
        rowNames,
        colNames,
        maps,
        detail: new Float32Array(0),
        detailLabel: '',
        cellTop: false,
      },
      json,
      csv,
      fileStem: 'head-detection',
    });
    return { kinds: [...r.kinds], scores: Array.from(r.scores) };
  }

  const c = EXPERIMENT_COMMANDS;
  return [
    vscode.commands.registerCommand(c.activationPatching, (args?: PatchingArgs) => activationPatching(args ?? {}).catch(report)),
    vscode.commands.registerCommand(c.detectHeads, (args?: HeadsArgs) => detectHeads(args ?? {}).catch(report)),
    vscode.commands.registerCommand(c.exportExperiment, (a?: { format?: unknown; path?: unknown }) =>
      panel.exportExperiment(a?.format === 'csv' ? 'csv' : 'json', a?.path),
    ),
    vscode.commands.registerCommand(c.experimentState, () => panel.shownExperiment),
  ];
}
