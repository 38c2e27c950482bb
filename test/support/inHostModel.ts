/**
 * In-host tests only (imports `vscode`): the tiny generated GPT-2 as the extension's model.
 * useTinyModel() activates the extension, writes the model to a temp folder and points
 * `modelLens.model` at it; dispose() resets every setting it or the test changed and removes
 * the folder.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as vscode from 'vscode';
import { generateTinyGpt2 } from '../../src/engine/tinyGpt2';
import { waitUntil } from './waitUntil';

export const EXTENSION_ID = 'model-lens.model-lens';

export interface TinyModel {
  /** The model folder (config.json + model.safetensors); tests may write files beside them. */
  readonly dir: string;
  /** Resets `modelLens.model` and the named settings, closes every editor, removes the folder. */
  dispose(): Promise<void>;
}

export async function useTinyModel(seed: number, opts: { resetSettings?: readonly string[] } = {}): Promise<TinyModel> {
  await vscode.extensions.getExtension(EXTENSION_ID)!.activate();
  const dir = mkdtempSync(join(tmpdir(), 'model-lens-tiny-'));
  await generateTinyGpt2(dir, { seed });
  const config = () => vscode.workspace.getConfiguration('modelLens');
  await config().update('model', dir, vscode.ConfigurationTarget.Global);
  return {
    dir,
    async dispose() {
      for (const key of opts.resetSettings ?? []) await config().update(key, undefined, vscode.ConfigurationTarget.Global);
      await config().update('model', undefined, vscode.ConfigurationTarget.Global);
      await vscode.commands.executeCommand('workbench.action.closeAllEditors');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * An untitled document with `content` under a name of its own, shown in the first column, once
 * the extension host sees it as the active editor. Commands that read `activeTextEditor` (loss
 * highlight, the panel without a URI) would otherwise race the editor change and could run on
 * the document an earlier test left active.
 *
 * Why not `openTextDocument({ content })`: it names the document Untitled-N with the lowest N
 * free, so a test's document took the name of the one the test before had just closed, and a
 * command given its URI once ran on that earlier text (CI: "18 tokens of Untitled-1, whole
 * document", twice). The end-of-line is set before the text goes in: an empty document takes
 * the platform's, and inserting CRLF text into an LF document turns its line ends into LF.
 */
let openedTexts = 0;
export async function openText(content: string): Promise<vscode.TextEditor> {
  openedTexts += 1;
  const uri = vscode.Uri.parse(`untitled:model-lens-test-${process.pid}-${openedTexts}.txt`);
  const doc = await vscode.workspace.openTextDocument(uri);
  const editor = await vscode.window.showTextDocument(doc, vscode.ViewColumn.One);
  const eol = content.includes('\r\n') ? vscode.EndOfLine.CRLF : vscode.EndOfLine.LF;
  if (!(await editor.edit((e) => e.setEndOfLine(eol)))) throw new Error(`could not set the end-of-line of ${uri.toString()}`);
  if (!(await editor.edit((e) => e.insert(new vscode.Position(0, 0), content))))
    throw new Error(`could not write the test text into ${uri.toString()}`);
  if (doc.getText() !== content)
    throw new Error(`${uri.toString()} holds ${JSON.stringify(doc.getText().slice(0, 80))}, not the test text`);
  await waitUntil('the new document to be the active editor', () => (vscode.window.activeTextEditor?.document === doc ? true : undefined));
  return editor;
}
