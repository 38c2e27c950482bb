// In-host tests on documents with Windows line ends (CRLF). VS Code's offsets count "\r\n" as two
// units, and an offset between the two has no Position (positionAt gives the line's end, before
// the "\r"), so a read that starts at an offset found by arithmetic must be moved to one VS Code
// can name (readableOffset). The hovers' ranges are checked against the document's own text.
import assert from 'node:assert/strict';
import * as vscode from 'vscode';
import type { InlineLogitsState } from '../../src/extension/inlineLogits/inlineLogits';
import { ACTIVATION_COMMANDS as C } from '../../src/extension/activation/register';
import { openText, useTinyModel, type TinyModel } from '../support/inHostModel';
import { waitUntil as until } from '../support/waitUntil';

function hoverText(h: vscode.Hover): string {
  return h.contents.map((c) => (typeof c === 'string' ? c : c.value)).join('\n');
}

async function hoversAt(doc: vscode.TextDocument, pos: vscode.Position): Promise<vscode.Hover[]> {
  return (await vscode.commands.executeCommand<vscode.Hover[]>('vscode.executeHoverProvider', doc.uri, pos)) ?? [];
}

describe('Model Lens on CRLF documents', function () {
  this.timeout(120000);
  let tiny: TinyModel;

  before(async () => {
    tiny = await useTinyModel(5, { resetSettings: ['inlineLogits.enabled'] });
  });

  after(async () => {
    await tiny.dispose();
  });

  it('the token hover covers the token under the pointer, before and after an edit above it', async () => {
    const editor = await openText('first line\r\nsecond line\r\nthird word here\r\n');
    const doc = editor.document;
    assert.equal(doc.eol, vscode.EndOfLine.CRLF, 'the document was not opened with CRLF line ends');
    const tokenHover = async (): Promise<vscode.Hover> => {
      const line = doc.lineAt(doc.lineCount - 2);
      const at = line.range.start.translate(0, line.text.indexOf('word') + 1);
      const h = (await hoversAt(doc, at)).find((x) => hoverText(x).includes('GPT-2:'));
      assert.ok(h?.range, 'no GPT-2 token hover');
      return h;
    };
    assert.equal(doc.getText((await tokenHover()).range), ' word');
    // The token cache follows edits by VS Code's offsets, which count each "\r\n" as two.
    await editor.edit((e) => e.insert(new vscode.Position(0, 0), 'zero\r\n'));
    assert.equal(doc.getText((await tokenHover()).range), ' word');
  });

  it("the prediction hover's range is the hovered token when its context starts between \\r and \\n", async () => {
    // Lines of 12 units ("alpha beta\r\n"); the prediction hover reads 4,000 units back from the
    // pointer, and 3 units into a line that lands on a "\n" (4,000 + 11 ≡ 3 mod 12).
    const lineText = 'alpha beta\r\n';
    const editor = await openText(lineText.repeat(500));
    const doc = editor.document;
    assert.equal(doc.eol, vscode.EndOfLine.CRLF);
    const hovered = new vscode.Position(400, 3);
    const from = doc.offsetAt(hovered) - 4000;
    assert.equal(doc.getText().slice(from - 1, from + 1), '\r\n', 'the context does not start between \\r and \\n');
    // The prediction hover answers only once a model is loaded; inline logits load it.
    editor.selection = new vscode.Selection(hovered, hovered);
    await vscode.workspace.getConfiguration('modelLens').update('inlineLogits.enabled', true, vscode.ConfigurationTarget.Global);
    await until('inline logits (the model loaded)', async () =>
      (await vscode.commands.executeCommand<InlineLogitsState>(C.inlineLogitsState)).text ? true : undefined,
    );
    const h = (await hoversAt(doc, hovered)).find((x) => hoverText(x).includes('Model Lens prediction'));
    assert.ok(h?.range, 'no prediction hover');
    assert.equal(doc.getText(h.range), 'alpha');
    assert.match(hoverText(h), /actual next: `[^`]*beta`/);
  });
});
