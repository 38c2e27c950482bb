// "Model Lens: Nearest Tokens": the tokens whose embedding (W_E row) or unembedding (W_U column)
// is closest by cosine similarity to a given token's, computed in the engine worker over the
// loaded model's weights (processed as the model was loaded). Shown in a quick pick; choosing a
// token shows its own neighbours, so the embedding space can be walked.
import * as vscode from 'vscode';
import { tokenDisplay, tokenize } from '../../tokenizer';
import type { EngineService } from '../activation/engineService';

const K = 20;

export interface Neighbour {
  readonly id: number;
  readonly token: string;
  readonly cos: number;
}

export interface NearestResult {
  readonly token: number;
  readonly display: string;
  readonly W_E: readonly Neighbour[];
  readonly W_U: readonly Neighbour[];
}

/** A token id from a number, a "123" string or text that is exactly one GPT-2 token. */
export function tokenFrom(arg: unknown, vocabSize: number): number {
  const bad = (why: string): Error => new Error(`Nearest Tokens: ${why}`);
  if (typeof arg === 'number') {
    if (!Number.isInteger(arg) || arg < 0 || arg >= vocabSize) throw bad(`token id ${arg} is out of range 0..${vocabSize - 1}`);
    return arg;
  }
  if (typeof arg !== 'string' || arg.length === 0) throw bad('give a token id or text that is one token');
  if (/^\d+$/.test(arg.trim())) return tokenFrom(Number(arg.trim()), vocabSize);
  const ids = tokenize(arg).map((s) => s.id);
  if (ids.length !== 1) {
    throw bad(
      `"${arg}" is ${ids.length} tokens (${ids.map((id) => JSON.stringify(tokenDisplay(id))).join(' ')}), not one; give one of their ids`,
    );
  }
  return ids[0]!;
}

export class NearestTokens implements vscode.Disposable {
  private pick: vscode.QuickPick<vscode.QuickPickItem & { id?: number }> | undefined;

  constructor(private readonly engine: EngineService) {}

  /** Computes the neighbours of `arg` (asking for a token when absent) and shows them; resolves with them. */
  async show(arg?: unknown): Promise<NearestResult | undefined> {
    let input = arg;
    if (input === undefined) {
      input = await vscode.window.showInputBox({
        title: 'Nearest Tokens',
        prompt: 'A token id, or text that is one GPT-2 token (for example " the")',
      });
      if (input === undefined) return undefined;
    }
    const loaded = await this.engine.get();
    const token = tokenFrom(input, loaded.cfg.d_vocab);
    const run = async (matrix: 'W_E' | 'W_U'): Promise<Neighbour[]> => {
      const r = await loaded.client.tensor({ op: 'nearest', matrix, token, k: K });
      return [...r.ids].map((id, i) => ({ id, token: tokenDisplay(id), cos: r.cos[i]! }));
    };
    const result: NearestResult = { token, display: tokenDisplay(token), W_E: await run('W_E'), W_U: await run('W_U') };
    this.present(result, loaded.label);
    return result;
  }

  private present(r: NearestResult, label: string): void {
    this.pick?.dispose();
    const pick = vscode.window.createQuickPick<vscode.QuickPickItem & { id?: number }>();
    this.pick = pick;
    pick.title = `Nearest tokens to ${JSON.stringify(r.display)} (${r.token}) by cosine similarity · ${label}`;
    pick.placeholder = 'Choose a token to see its own neighbours';
    pick.matchOnDescription = true;
    const items = (ns: readonly Neighbour[]): (vscode.QuickPickItem & { id: number })[] =>
      ns.map((n) => ({ label: JSON.stringify(n.token), description: `${n.id} · cos ${n.cos.toFixed(4)}`, id: n.id }));
    pick.items = [
      { label: 'W_E: embedding (input) space', kind: vscode.QuickPickItemKind.Separator },
      ...items(r.W_E),
      { label: 'W_U: unembedding (output) space', kind: vscode.QuickPickItemKind.Separator },
      ...items(r.W_U),
    ];
    pick.onDidAccept(() => {
      const id = pick.selectedItems[0]?.id;
      if (id !== undefined) void this.show(id).catch((e: unknown) => vscode.window.showErrorMessage(`Model Lens: ${(e as Error).message}`));
    });
    pick.onDidHide(() => {
      if (this.pick === pick) this.pick = undefined;
      pick.dispose();
    });
    pick.show();
  }

  dispose(): void {
    this.pick?.dispose();
  }
}
