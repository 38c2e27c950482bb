// One DocumentTokenCache per open document, kept in step with onDidChangeTextDocument.
// Small documents are tokenized on first use; large ones are built in slices in the
// background (appending to an empty cache, which re-tokenizes only the tail each time),
// so opening a 10 MB file never holds the extension host for more than a slice. Edits that
// arrive during a background build are queued and applied, in order, once it finishes.
import * as vscode from 'vscode';
import { DocumentTokenCache } from '../tokenizer';
import type { TextChange } from '../tokenizer/types';
import { WorkMeter, yieldToEventLoop } from './turns';

/** Up to this many UTF-16 units a document is tokenized synchronously (a few ms). */
export const SYNC_BUILD_CHARS = 128 * 1024;
/** Slice appended per event-loop turn in a background build (~5 ms; 16K measured up to 54 ms on shared cores). */
const BUILD_SLICE_CHARS = 8 * 1024;

interface Entry {
  cache: DocumentTokenCache;
  /** The document version the cache reflects once `pending` is applied. */
  version: number;
  /** Set while a background build runs; resolves when the cache is current. */
  ready?: Promise<DocumentTokenCache>;
  /** Edits received during a background build, in event order. */
  pending: TextChange[][];
  cancelled: boolean;
}

export class DocumentTokenRegistry implements vscode.Disposable {
  private readonly entries = new Map<string, Entry>();
  private readonly subscriptions: vscode.Disposable[];
  private readonly changed = new vscode.EventEmitter<vscode.TextDocument>();
  /** Fires after a document's cache has absorbed an edit or finished building. */
  readonly onDidUpdate = this.changed.event;
  /** Work per event-loop turn of this window's tokenizer features (builds here, panel and status bar). */
  readonly workMeter = new WorkMeter();

  constructor() {
    this.subscriptions = [
      vscode.workspace.onDidChangeTextDocument((e) => this.onChange(e)),
      vscode.workspace.onDidCloseTextDocument((d) => this.forget(d.uri)),
      this.changed,
    ];
  }

  /** The document's cache, building it first when needed. */
  async get(document: vscode.TextDocument): Promise<DocumentTokenCache> {
    const entry = this.entryFor(document);
    return entry.ready ?? entry.cache;
  }

  /** The cache only if it is current right now (never waits; starts a build when there is none). */
  peek(document: vscode.TextDocument): DocumentTokenCache | undefined {
    const entry = this.entryFor(document);
    return entry.ready ? undefined : entry.cache;
  }

  forget(uri: vscode.Uri): void {
    const entry = this.entries.get(uri.toString());
    if (entry) entry.cancelled = true;
    this.entries.delete(uri.toString());
  }

  dispose(): void {
    for (const entry of this.entries.values()) entry.cancelled = true;
    this.entries.clear();
    for (const s of this.subscriptions) s.dispose();
  }

  private entryFor(document: vscode.TextDocument): Entry {
    const key = document.uri.toString();
    const existing = this.entries.get(key);
    if (existing && !existing.cancelled) return existing;
    const text = document.getText();
    let entry: Entry;
    if (text.length <= SYNC_BUILD_CHARS) {
      entry = { cache: new DocumentTokenCache(text), version: document.version, pending: [], cancelled: false };
    } else {
      entry = { cache: new DocumentTokenCache(''), version: document.version, pending: [], cancelled: false };
      entry.ready = this.buildInBackground(entry, text, document);
    }
    this.entries.set(key, entry);
    return entry;
  }

  private async buildInBackground(entry: Entry, text: string, document: vscode.TextDocument): Promise<DocumentTokenCache> {
    for (let at = 0; at < text.length; at += BUILD_SLICE_CHARS) {
      const slice = text.slice(at, at + BUILD_SLICE_CHARS);
      entry.cache.applyChange({ rangeOffset: at, rangeLength: 0, text: slice });
      this.workMeter.record('buildChars', slice.length);
      await yieldToEventLoop();
      if (entry.cancelled) return entry.cache;
    }
    try {
      for (const changes of entry.pending) entry.cache.applyChanges(changes);
    } catch {
      // Should not happen (events arrive in order), but a cache that disagrees with the
      // document would give wrong hovers: start again from the document's current text.
      entry.cache.reset(document.getText());
    }
    entry.pending = [];
    entry.ready = undefined;
    this.changed.fire(document);
    return entry.cache;
  }

  private onChange(e: vscode.TextDocumentChangeEvent): void {
    const entry = this.entries.get(e.document.uri.toString());
    if (!entry || e.contentChanges.length === 0) return;
    const changes: TextChange[] = e.contentChanges.map((c) => ({
      rangeOffset: c.rangeOffset,
      rangeLength: c.rangeLength,
      text: c.text,
    }));
    if (e.document.version !== entry.version + 1 && !entry.ready) {
      // A missed event (the cache fell behind): re-read rather than patch the wrong text.
      this.forget(e.document.uri);
      return;
    }
    entry.version = e.document.version;
    if (entry.ready) {
      entry.pending.push(changes);
      return;
    }
    try {
      entry.cache.applyChanges(changes);
    } catch {
      this.forget(e.document.uri);
      return;
    }
    this.changed.fire(e.document);
  }
}
