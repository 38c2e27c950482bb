// Reading part of a document without getText(), which joins every line of the document (tens
// of ms for 10 MB, on every call).
import * as vscode from 'vscode';
import type { TextReader } from './modelInput';

/** The document's length in UTF-16 units. */
export function documentLength(document: vscode.TextDocument): number {
  return document.offsetAt(document.lineAt(document.lineCount - 1).range.end);
}

/** A reader of the document's text relative to `origin` (offsets are clamped by VS Code). */
export function documentReader(document: vscode.TextDocument, origin: number): TextReader {
  return (start, end) => document.getText(new vscode.Range(document.positionAt(origin + start), document.positionAt(origin + end)));
}
