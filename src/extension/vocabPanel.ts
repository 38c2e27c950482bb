// "Model Lens: Search Vocabulary": GPT-2's 50,257 tokens, searchable by substring, prefix,
// regex or id. The webview debounces typing and asks; the host answers from the tokenizer's
// Vocabulary (a scan of precomputed strings), one bounded step per event-loop turn.
import * as vscode from 'vscode';
import { assertNever } from '../protocol/envelope';
import {
  isVocabPanelState,
  VOCAB_VIEW_TYPE,
  vocabWebviewSchemas,
  type VocabPanelState,
  type VocabProtocol,
  type VocabResults,
  type VocabSearchRequest,
} from '../protocol/vocab';
import { Vocabulary } from '../tokenizer';
import { TENSOR_COMMANDS } from './tensorView/commandIds';
import { besideColumn, copyToClipboard, createPanel, PanelSession, panelIcon, restorePanel, type PanelKind } from './panel';

export const VOCAB_PANEL: PanelKind = { viewType: VOCAB_VIEW_TYPE, title: 'GPT-2 Vocabulary', bundle: 'vocab' };
/** Every token can be listed: the list is virtual, and 50,257 short strings are under 1 MB. */
const RESULT_LIMIT = 60_000;

export class VocabPanelController implements vscode.Disposable {
  private session: PanelSession<VocabProtocol> | undefined;
  private restore: VocabPanelState = { query: '', mode: 'substring' };
  /** The newest search request; an older one still scanning stops at its next step. */
  private searchSeq = 0;

  constructor(
    private readonly extensionUri: vscode.Uri,
    private readonly log: (line: string) => void,
  ) {}

  createOrShow(): void {
    if (this.session && !this.session.isDisposed) {
      this.session.panel.reveal();
      return;
    }
    this.restore = { query: '', mode: 'substring' };
    this.attach(createPanel(VOCAB_PANEL, this.extensionUri, besideColumn()));
  }

  revive(panel: vscode.WebviewPanel, state: unknown): void {
    this.session?.dispose();
    this.restore = isVocabPanelState(state) ? state : { query: '', mode: 'substring' };
    restorePanel(panel, VOCAB_PANEL, this.extensionUri);
    this.attach(panel);
  }

  dispose(): void {
    this.session?.dispose();
  }

  private attach(panel: vscode.WebviewPanel): void {
    panel.iconPath = panelIcon(this.extensionUri, 'vocab');
    const session: PanelSession<VocabProtocol> = new PanelSession<VocabProtocol>(
      panel,
      {
        schemas: vocabWebviewSchemas,
        handlers: {
          copyText: async (req) => {
            const reply = await copyToClipboard(req.text);
            vscode.window.setStatusBarMessage(`Model Lens: copied ${req.what}`, 3000);
            return reply;
          },
          'vocab/search': async (req) => {
            // Remembered so the page, torn down while hidden, comes back with the same query.
            this.restore = { query: req.query, mode: req.mode };
            const seq = ++this.searchSeq;
            return search(req, () => seq === this.searchSeq && !session.isDisposed);
          },
        },
        onNotification: (msg) => {
          switch (msg.type) {
            case 'ready':
              void session.channel.post({
                type: 'vocab/init',
                vocabSize: Vocabulary.shared().size,
                query: this.restore.query,
                mode: this.restore.mode,
              });
              break;
            case 'vocab/nearest':
              void vscode.commands.executeCommand(TENSOR_COMMANDS.nearestTokens, msg.id);
              break;
            default:
              assertNever(msg, 'vocab panel message');
          }
        },
        log: this.log,
      },
      () => {
        if (this.session === session) this.session = undefined;
      },
    );
    this.session = session;
  }
}

/** Thrown into a search that a newer one replaced; its reply is never looked at. */
class SearchSuperseded extends Error {
  constructor() {
    super('a newer search replaced this one');
    this.name = 'SearchSuperseded';
  }
}

/**
 * Runs one search a step (SEARCH_ROWS_PER_STEP rows) per event-loop turn, so even the slowest
 * accepted regex never holds the host; a bad query (invalid regex, malformed id) rejects, which
 * becomes an error reply. `isCurrent` going false (a newer query) stops it between steps.
 */
export async function search(req: VocabSearchRequest, isCurrent: () => boolean = () => true): Promise<VocabResults> {
  const steps = Vocabulary.shared().searchSteps(req.query, req.mode, RESULT_LIMIT);
  let next = steps.next();
  while (!next.done) {
    await new Promise((resolve) => setImmediate(resolve));
    if (!isCurrent()) throw new SearchSuperseded();
    next = steps.next();
  }
  const found = next.value;
  if (!found.ok) throw new Error(found.error);
  return {
    type: 'vocab/results',
    query: req.query,
    mode: req.mode,
    total: found.total,
    ids: Int32Array.from(found.entries, (e) => e.id),
    displays: found.entries.map((e) => e.display),
  };
}
