// What a command or a restored webview may point Model Lens at. Commands can be run by any
// extension with any argument, and a webview's saved state is data from the page, so a path or
// URI from either is checked before a file is written or a document opened. No vscode import.
import { isAbsolute } from 'node:path';
import { fileURLToPath } from 'node:url';

export class PathPolicyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PathPolicyError';
  }
}

/**
 * A path in quotes for a message. Not JSON.stringify: that doubles every backslash, so a Windows
 * path would read C:\\Users\\ada; only quotes and control characters are escaped here.
 */
export function quoted(path: string): string {
  let out = '';
  for (const c of path) out += c === '"' || c.charCodeAt(0) < 0x20 ? JSON.stringify(c).slice(1, -1) : c;
  return `"${out}"`;
}

/** The fields of a vscode.Uri this module reads (so it can be tested without VS Code). */
export interface UriLike {
  readonly scheme: string;
  readonly fsPath: string;
}

/**
 * The file system path an export may write to, from a command's argument: an absolute path, a
 * `file:` URI string or a file Uri, ending in `extension` (".png", ".safetensors"). Anything
 * else (a relative path, another scheme, the wrong extension, a NUL) is refused in words.
 */
export function exportPathFrom(arg: unknown, extension: string): string {
  let path: string;
  if (typeof arg === 'string') {
    if (/^[a-z][a-z0-9+.-]+:/i.test(arg) && !/^[a-z]:[\\/]/i.test(arg)) {
      if (!arg.toLowerCase().startsWith('file:'))
        throw new PathPolicyError(
          `cannot export to ${quoted(arg)}: only files on this machine (an absolute path or a file: URI) can be written`,
        );
      try {
        path = fileURLToPath(arg);
      } catch (e) {
        throw new PathPolicyError(`cannot export to ${quoted(arg)}: ${(e as Error).message}`);
      }
    } else {
      path = arg;
    }
  } else if (
    typeof arg === 'object' &&
    arg !== null &&
    typeof (arg as UriLike).scheme === 'string' &&
    typeof (arg as UriLike).fsPath === 'string'
  ) {
    const uri = arg as UriLike;
    if (uri.scheme !== 'file')
      throw new PathPolicyError(`cannot export to a ${uri.scheme}: URI: only files on this machine can be written`);
    path = uri.fsPath;
  } else {
    throw new PathPolicyError('the export target must be a file path or a file URI');
  }
  if (path.includes('\0')) throw new PathPolicyError('the export path contains a NUL character');
  if (!isAbsolute(path)) throw new PathPolicyError(`the export path must be absolute, got ${quoted(path)}`);
  if (!path.toLowerCase().endsWith(extension)) throw new PathPolicyError(`the export path must end in ${extension}, got ${quoted(path)}`);
  return path;
}

/** Schemes a restored Tokens panel may open even when no such document is open. */
const REVIVABLE_SCHEMES = new Set(['file', 'untitled']);

/**
 * Whether a restored panel may reopen `uri` (a string from its saved state): a document the
 * workspace has open, or a file/untitled URI. Returns the reason when not.
 */
export function revivableUri(uri: string, scheme: string, openDocuments: readonly string[]): { ok: true } | { ok: false; reason: string } {
  if (openDocuments.includes(uri)) return { ok: true };
  if (REVIVABLE_SCHEMES.has(scheme)) return { ok: true };
  return {
    ok: false,
    reason: `the saved panel points at a ${scheme}: document that is not open; run "Model Lens: Tokenize Selection" again`,
  };
}
