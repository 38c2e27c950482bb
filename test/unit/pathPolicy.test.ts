// Export targets and restored-panel URIs from untrusted callers, and the atomic PNG write.
import { strict as assert } from 'node:assert';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, it } from 'node:test';
import { writeFileAtomic } from '../../src/extension/atomicWrite';
import { exportPathFrom, PathPolicyError, revivableUri } from '../../src/extension/pathPolicy';

describe('pathPolicy', () => {
  const dir = mkdtempSync(join(tmpdir(), 'model-lens-path-'));
  const png = join(dir, 'view.png');

  // Regression: the export commands wrote wherever any caller pointed them.
  it('accepts absolute file paths and file URIs with the right extension only', () => {
    assert.equal(exportPathFrom(png, '.png'), png);
    assert.equal(exportPathFrom(pathToFileURL(png).href, '.png'), png);
    assert.equal(exportPathFrom({ scheme: 'file', fsPath: png }, '.png'), png);
    const refused: [unknown, RegExp][] = [
      ['view.png', /must be absolute/],
      ['../../etc/view.png', /must be absolute/],
      [join(dir, 'cache.safetensors'), /must end in \.png/],
      ['https://example.invalid/x.png', /only files on this machine/],
      ['vscode-remote://host/x.png', /only files on this machine/],
      [{ scheme: 'untitled', fsPath: '/x.png' }, /untitled: URI/],
      [`${dir}/a\0.png`, /NUL/],
      [42, /file path or a file URI/],
    ];
    for (const [arg, why] of refused)
      assert.throws(
        () => exportPathFrom(arg, '.png'),
        (e: unknown) => e instanceof PathPolicyError && why.test(e.message),
        String(arg),
      );
  });

  it('reopens only open documents or file/untitled URIs', () => {
    assert.ok(revivableUri('file:///a.txt', 'file', []).ok);
    assert.ok(revivableUri('untitled:Untitled-1', 'untitled', []).ok);
    assert.ok(revivableUri('git:/a.txt?x', 'git', ['git:/a.txt?x']).ok);
    const r = revivableUri('https://example.invalid/a', 'https', ['file:///a.txt']);
    assert.ok(!r.ok && /https: document that is not open/.test(r.reason));
  });

  it('writes atomically: the old file stays whole when the write fails, and no temp file is left', async () => {
    writeFileSync(png, 'old');
    await writeFileAtomic(png, Buffer.from('new'));
    assert.equal(readFileSync(png, 'utf8'), 'new');
    await assert.rejects(writeFileAtomic(join(dir, 'missing-folder', 'x.png'), Buffer.from('x')));
    assert.deepEqual(readdirSync(dir), ['view.png']);
    rmSync(dir, { recursive: true, force: true });
  });
});
