// Reading part of a document without getText(), which joins every line of the document (tens
// of ms for 10 MB, on every call).
import * as vscode from 'vscode';
import type { TextReader } from './modelInput';

/** The document's length in UTF-16 units. */
export function documentLength(document: vscode.TextDocument): number {
  return document.offsetAt(document.lineAt(document.lineCount - 1).range.end);
}

/**
 * `offset` moved back to a place VS Code can name: in a CRLF document the offset between `\r` and
 * `\n` has no Position (positionAt gives the line's end, before the `\r`), so text read from
 * positionAt(offset) would start one unit earlier than `offset` and every offset computed from it
 * would be one off. Use this for a read's start computed by arithmetic (offset - N).
 */
export function readableOffset(document: vscode.TextDocument, offset: number): number {
  return document.offsetAt(document.positionAt(offset));
}

/** A reader of the document's text relative to `origin` (offsets are clamped by VS Code). */
export function documentReader(document: vscode.TextDocument, origin: number): TextReader {
  return (start, end) => document.getText(new vscode.Range(document.positionAt(origin + start), document.positionAt(origin + end)));
}
