// The tensor view's commands: open a weight or a head's circuit (the Weights tree's click), open
// or export a hook for the active editor's selection (the Modules tree's right-click), open a
// tensor of a .safetensors file (the .safetensors editor's click), and Nearest Tokens.
import * as vscode from 'vscode';
import type { EngineService } from '../activation/engineService';
import { documentLength, documentReader } from '../documentText';
import { headInput, MAX_INPUT_CHARS } from '../modelInput';
import { TENSOR_COMMANDS, parseCircuitName } from './commandIds';
import { NearestTokens } from './nearestTokens';
import { fileOrigin, TensorViewController } from './tensorView';
import type { TensorSource } from '../../engine/worker/tensorOps';

/** A command's argument: a sidebar node (its `name`) or the name itself. */
function nameFrom(arg: unknown): string | undefined {
  if (typeof arg === 'string') return arg;
  if (typeof arg === 'object' && arg !== null && typeof (arg as { name?: unknown }).name === 'string')
    return (arg as { name: string }).name;
  return undefined;
}

export function weightSource(name: string): TensorSource {
  const circuit = parseCircuitName(name);
  return circuit ? { kind: 'circuit', ...circuit } : { kind: 'weight', name };
}

/**
 * BOS and the tokens of the active editor's selection (the whole document when nothing is
 * selected), at most n_ctx, with a line saying where they came from.
 */
async function selectionSource(engine: EngineService, hook: string): Promise<{ source: TensorSource; origin: string }> {
  const editor = vscode.window.activeTextEditor;
  if (!editor) throw new Error(`select some text in an editor to see ${hook} on it`);
  const loaded = await engine.get();
  const doc = editor.document;
  const sel = editor.selection;
  const start = sel.isEmpty ? 0 : doc.offsetAt(sel.start);
  const end = Math.min(sel.isEmpty ? documentLength(doc) : doc.offsetAt(sel.end), start + MAX_INPUT_CHARS);
  const head = headInput(documentReader(doc, start), end - start, loaded.cfg.n_ctx);
  const where = `${doc.uri.path.split('/').pop() ?? doc.uri.toString()}, ${sel.isEmpty ? 'whole document' : `line ${sel.start.line + 1}`}`;
  return {
    source: { kind: 'hook', name: hook, tokens: Int32Array.from(head.ids) },
    origin: `${head.ids.length} tokens (BOS first${head.truncated ? `, cut at n_ctx ${loaded.cfg.n_ctx}` : ''}) of ${where} · ${loaded.label} · ${loaded.processing}`,
  };
}

function filePathFrom(arg: unknown): string | undefined {
  if (arg instanceof vscode.Uri) return arg.scheme === 'file' ? arg.fsPath : undefined;
  if (typeof arg === 'string' && arg.startsWith('/')) return arg;
  return undefined;
}

export function registerTensorView(
  extensionUri: vscode.Uri,
  engine: EngineService,
  log: (line: string) => void,
): { controller: TensorViewController; disposables: vscode.Disposable[] } {
  const controller = new TensorViewController(extensionUri, engine, log);
  const nearest = new NearestTokens(engine);
  const fail = (e: unknown): undefined => {
    void vscode.window.showErrorMessage(`Model Lens: ${e instanceof Error ? e.message : String(e)}`);
    return undefined;
  };
  const c = TENSOR_COMMANDS;
  return {
    controller,
    disposables: [
      controller,
      nearest,
      vscode.commands.registerCommand(c.openWeight, (arg?: unknown) => {
        const name = nameFrom(arg);
        if (name === undefined) return fail(new Error('Open Weight needs a weight name such as blocks.0.attn.W_Q'));
        return controller.open({ source: weightSource(name) }).catch(fail);
      }),
      vscode.commands.registerCommand(c.openHook, async (arg?: unknown) => {
        const name = nameFrom(arg);
        if (name === undefined) return fail(new Error('Open Hook needs a hook name such as blocks.0.attn.hook_q'));
        try {
          return await controller.open(await selectionSource(engine, name));
        } catch (e) {
          return fail(e);
        }
      }),
      vscode.commands.registerCommand(c.exportHook, async (arg?: unknown, path?: unknown) => {
        const name = nameFrom(arg);
        if (name === undefined) return fail(new Error('Export Hook needs a hook name such as blocks.0.attn.hook_q'));
        try {
          return await controller.exportTensor((await selectionSource(engine, name)).source, path);
        } catch (e) {
          return fail(e);
        }
      }),
      vscode.commands.registerCommand(c.openFileTensor, (file?: unknown, name?: unknown) => {
        const path = filePathFrom(file);
        if (path === undefined || typeof name !== 'string')
          return fail(new Error('Open Tensor needs a .safetensors file on disk and a tensor name'));
        return controller.open({ source: { kind: 'file', path, name }, origin: fileOrigin(path) }).catch(fail);
      }),
      vscode.commands.registerCommand(c.nearestTokens, (token?: unknown) => nearest.show(token).catch(fail)),
      vscode.commands.registerCommand(c.state, () => controller.states),
    ],
  };
}
