// The bundled CLI run as a child process: `tokenize --json` and `vocab`, exit codes.
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { build } from 'esbuild';
import { tokenize } from '../../src/tokenizer';

describe('model-lens CLI (bundled)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'model-lens-cli-'));
  const cli = join(dir, 'cli.js');
  before(async () => {
    await build({
      entryPoints: [join(__dirname, '../../src/cli/main.ts')],
      bundle: true,
      platform: 'node',
      target: 'node20',
      format: 'cjs',
      outfile: cli,
      external: ['vscode', 'onnxruntime-node'],
      logLevel: 'warning',
    });
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  // The bundle lives in a temp dir; its externals (onnxruntime-node, loaded by other
  // commands) resolve from the repository's node_modules, as they do from dist/.
  const env = { ...process.env, NODE_PATH: join(__dirname, '../../node_modules') };
  const run = (...args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', timeout: 60_000, env });

  it('tokenize --file --json prints ids with UTF-16 offsets into the UTF-8 file', () => {
    const text = 'héllo 👨‍👩‍👧 wörld\r\n<|endoftext|>日本\u0000 end';
    const file = join(dir, 'input.txt');
    writeFileSync(file, text, 'utf8');
    const r = run('tokenize', '--file', file, '--json');
    assert.equal(r.status, 0, r.stderr);
    const spans = JSON.parse(r.stdout) as { id: number; start: number; end: number }[];
    assert.deepEqual(spans, tokenize(text));
    assert.ok(spans.some((s) => s.id === 50256));
    assert.deepEqual(Object.keys(spans[0]!), ['id', 'start', 'end']);
  });

  it('tokenize --text prints a table with visible whitespace', () => {
    const r = run('tokenize', '--text', 'a b\n');
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /index\s+id\s+start\s+end\s+token/);
    assert.match(r.stdout, /·b/);
    assert.match(r.stdout, /↵/);
    assert.match(r.stdout, /3 tokens/);
  });

  it('vocab searches and reports bad regexes with exit code 2', () => {
    const ok = run('vocab', '50256', '--mode', 'id', '--json');
    assert.equal(ok.status, 0, ok.stderr);
    assert.deepEqual(JSON.parse(ok.stdout)[0].display, '<|endoftext|>');
    const bad = run('vocab', '(', '--mode', 'regex');
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /invalid regular expression/);
  });

  // Regression: with JavaScript's backtracking RegExp these ran for seconds to minutes (the
  // spawn's timeout is a hang guard, not a speed bound). Output matches the flat pattern's.
  it('vocab --mode regex runs nested quantifiers in linear time and refuses backreferences', () => {
    for (const [nested, flat] of [
      ['^([a-z]+)*[0-9]$', '^[a-z]*[0-9]$'],
      ['^(.*)*x$', '^.*x$'],
    ] as const) {
      const slow = run('vocab', nested, '--mode', 'regex', '--limit', '100000', '--json');
      assert.equal(slow.status, 0, `${nested}: ${slow.stderr}`);
      const fast = run('vocab', flat, '--mode', 'regex', '--limit', '100000', '--json');
      assert.equal(fast.status, 0, fast.stderr);
      assert.deepEqual(JSON.parse(slow.stdout), JSON.parse(fast.stdout));
      assert.ok((JSON.parse(slow.stdout) as unknown[]).length >= 10, nested);
    }
    const backref = run('vocab', '(a)\\1', '--mode', 'regex');
    assert.equal(backref.status, 2);
    assert.match(backref.stderr, /backreference \\1 is not supported/);
  });

  it('prints usage on no or unknown command and on bad options', () => {
    const none = run();
    assert.equal(none.status, 2);
    assert.match(none.stderr, /usage: model-lens <command>/);
    const unknown = run('frobnicate');
    assert.equal(unknown.status, 2);
    assert.match(unknown.stderr, /unknown command 'frobnicate'/);
    const both = run('tokenize', '--text', 'a', '--file', 'b');
    assert.equal(both.status, 2);
    assert.match(both.stderr, /exactly one of --file or --text/);
    const missing = run('tokenize', '--file', join(dir, 'missing.txt'));
    assert.equal(missing.status, 1);
    assert.match(missing.stderr, /cannot read/);
  });
});
