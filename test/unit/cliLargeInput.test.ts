// The CLI on input far larger than a model reads: `run` with 40 KB of --text (a segmentation
// fault in onnxruntime's start-up before), `run --file`, signals during a run (temp folders
// left behind before), and `tokenize` on a megabyte of mixed scripts (a stack overflow before)
// with its output written in bounded batches (one giant string before).
import { strict as assert } from 'node:assert';
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { build } from 'esbuild';
import { tokenizeCommand } from '../../src/cli/tokenizeCommand';
import { firstTokens, tokenizePieces } from '../../src/cli/tokenStream';
import { readSafetensors } from '../../src/engine/safetensors/read';
import { writeSafetensors, type SafetensorsTensorToWrite } from '../../src/engine/safetensors/write';
import { generateTinyGpt2 } from '../../src/engine/tinyGpt2';
import { tokenize, tokenizePacked } from '../../src/tokenizer';

/** Deterministic text mixing scripts, emoji, whitespace runs and the special token. */
function mixedText(units: number, seed = 3): string {
  const parts = [
    'hello world ',
    'héllo wörld ',
    '日本語のテキスト ',
    'Привет мир ',
    '👨‍👩‍👧 emoji ',
    '\t\n  ',
    'مرحبا بالعالم ',
    '123 456 ',
    '<|endoftext|>',
    "it's ",
    'x'.repeat(40),
  ];
  let s = seed >>> 0;
  const out: string[] = [];
  let n = 0;
  while (n < units) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    const p = parts[s % parts.length]!;
    out.push(p);
    n += p.length;
  }
  return out.join('');
}

describe('CLI on large input', () => {
  const dir = mkdtempSync(join(tmpdir(), 'model-lens-cli-large-'));
  const cli = join(dir, 'cli.js');
  const model = join(dir, 'tiny');
  // The child's TMPDIR: the weights folders it makes (and must remove) are counted here.
  const childTmp = join(dir, 'tmp');
  mkdirSync(childTmp);
  const env = { ...process.env, NODE_PATH: join(__dirname, '../../node_modules'), TMPDIR: childTmp };
  const weightFolders = (): string[] => readdirSync(childTmp).filter((n) => n.startsWith('model-lens-weights-'));

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
    await generateTinyGpt2(model, { n_layer: 1, n_embd: 16, n_head: 2, tiedLmHead: true });
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const run = (args: string[], input?: string) =>
    spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', timeout: 120_000, env, input, maxBuffer: 64 << 20 });

  it('run --text with 40 KB keeps the first n_ctx tokens, says so, and leaves no temp folder', { timeout: 120_000 }, () => {
    // onnxruntime's telemetry start-up matched the whole command line with a recursive regex:
    // at about 30 KB of arguments it overflowed the stack (exit 139) and the weights folder stayed.
    const text = mixedText(40_000);
    assert.ok(Buffer.byteLength(text) > 40_000);
    const r = run(['run', '--model', model, '--text', text]);
    assert.equal(r.signal, null, `killed by ${r.signal}`);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /: 1024 tokens on cpu/);
    assert.match(r.stderr, /notice: the text is longer than .*n_ctx=1024 tokens; only the first 1024 are used/);
    assert.deepEqual(weightFolders(), []);

    // --file reads the same text from a file (and '-' from standard input): the same run.
    const file = join(dir, 'forty.txt');
    writeFileSync(file, text);
    const f = run(['run', '--model', model, '--file', file]);
    assert.equal(f.status, 0, f.stderr);
    assert.equal(f.stdout, r.stdout);
    const s = run(['run', '--model', model, '--file', '-'], text);
    assert.equal(s.status, 0, s.stderr);
    assert.equal(s.stdout, r.stdout);

    const missing = run(['run', '--model', model, '--file', join(dir, 'missing.txt')]);
    assert.equal(missing.status, 1);
    assert.match(missing.stderr, /cannot read .*missing\.txt \(ENOENT\)/);
    const both = run(['run', '--model', model, '--file', file, '--text', 'a']);
    assert.equal(both.status, 2);
    assert.match(both.stderr, /exactly one of --text, --file or --tokens/);
    const tooMany = run(['run', '--model', model, '--tokens', Array(1025).fill('50256').join(',')]);
    assert.equal(tooMany.status, 1);
    assert.match(tooMany.stderr, /--tokens has 1025 ids; .* reads at most n_ctx=1024/);
  });

  it('run warns about non-finite weights by tensor name', { timeout: 120_000 }, async () => {
    const nan = join(dir, 'nan-model');
    await generateTinyGpt2(nan, { n_layer: 1, n_embd: 16, n_head: 2, tiedLmHead: true });
    const f = await readSafetensors(join(nan, 'model.safetensors'));
    const tensors: SafetensorsTensorToWrite[] = [];
    for (const name of f.names()) {
      const t = await f.getTensor(name);
      if (name === 'h.0.mlp.c_fc.bias') t.data[5] = NaN;
      tensors.push({ name, dims: t.dims, dtype: 'F32', data: t.data });
    }
    await writeSafetensors(join(nan, 'model.safetensors'), tensors);
    const r = run(['run', '--model', nan, '--text', 'hello']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /warning: .*model\.safetensors: 1 tensor holds non-finite values: "h\.0\.mlp\.c_fc\.bias" \(1 NaN\)/);
  });

  it(
    'SIGTERM during a run exits 143 and leaves no weights folder',
    { timeout: 120_000, skip: process.platform !== 'linux' && 'reads /proc to see the run start' },
    async () => {
      // '--file -' reads standard input after the model is loaded; nothing is written, so the
      // run waits there, whatever the machine's speed. On the CPU the weights are session inputs
      // (no weights folder); the signal must still end it through the exit handlers, which
      // remove any folder a GPU provider's weights would have made.
      const child = spawn(process.execPath, [cli, 'run', '--model', model, '--file', '-'], { env, stdio: ['pipe', 'pipe', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) =>
        child.on('exit', (code, signal) => res({ code, signal })),
      );
      // The run has started once onnxruntime's library is mapped into the process.
      const ortMapped = (): boolean => {
        try {
          return readFileSync(`/proc/${child.pid}/maps`, 'utf8').includes('libonnxruntime');
        } catch {
          return false;
        }
      };
      let polls = 0;
      while (!ortMapped() && polls < 1200) {
        polls++;
        await new Promise((r) => setTimeout(r, 50));
      }
      try {
        assert.ok(ortMapped(), `the run never loaded onnxruntime; stderr: ${stderr}`);
        await new Promise((r) => setTimeout(r, 500)); // into the model load or the wait on stdin: either must end cleanly
      } finally {
        child.kill('SIGTERM');
      }
      const { code, signal } = await exited;
      assert.equal(signal, null, 'the CLI handles SIGTERM instead of dying by it');
      assert.equal(code, 143);
      assert.match(stderr, /interrupted \(SIGTERM\)/);
      assert.deepEqual(weightFolders(), []);
    },
  );

  it('tokenize --file on a megabyte of mixed scripts prints the table (a stack overflow before)', { timeout: 120_000 }, () => {
    const text = mixedText(1_000_000, 9);
    const file = join(dir, 'mixed.txt');
    writeFileSync(file, text);
    const r = run(['tokenize', '--file', file]);
    assert.equal(r.status, 0, r.stderr);
    const count = tokenizePacked(text).length;
    assert.ok(r.stdout.endsWith(`\n${count} tokens\n`));
    assert.equal(r.stdout.split('\n').length, count + 3); // header, rows, count, final newline
  });

  it('tokenize --json writes bounded batches that add up to exactly the tokens', { timeout: 60_000 }, async () => {
    const text = mixedText(300_000, 5);
    const file = join(dir, 'mixed-json.txt');
    writeFileSync(file, text);
    const writes: string[] = [];
    const code = await tokenizeCommand.run(['--file', file, '--json'], { stdout: (t) => writes.push(t), stderr: (t) => assert.fail(t) });
    assert.equal(code, 0);
    const longest = Math.max(...writes.map((w) => w.length));
    // About 64 K units per batch plus one token's JSON: never the whole output in one string.
    assert.ok(longest < 64 * 1024 + 64, `longest write ${longest}`);
    assert.ok(writes.length > 10, `${writes.length} writes`);
    assert.deepEqual(JSON.parse(writes.join('')), tokenize(text));
  });
});

describe('tokenizing in pieces', () => {
  it("gives exactly the whole text's tokens, with offsets, for any piece size", async () => {
    const text = mixedText(60_000, 11) + '   \n\n' + 'y'.repeat(5000) + ' <|endoftext|> end  ';
    const whole = tokenize(text);
    for (const pieceUnits of [1, 100, 1000, 7777]) {
      // Chunks of awkward sizes, so cut points fall across chunk edges too.
      const chunks: string[] = [];
      for (let i = 0; i < text.length; i += 333) chunks.push(text.slice(i, i + 333));
      const got: { id: number; start: number; end: number }[] = [];
      let pieces = 0;
      for await (const { tokens, base } of tokenizePieces(chunks, pieceUnits)) {
        pieces++;
        for (let i = 0; i < tokens.length; i++)
          got.push({ id: tokens.ids[i]!, start: base + tokens.starts[i]!, end: base + tokens.ends[i]! });
      }
      assert.ok(pieces > 1, `pieceUnits ${pieceUnits}: ${pieces} piece(s)`);
      assert.deepEqual(got, whole, `pieceUnits ${pieceUnits}`);
    }
  });

  it('firstTokens stops reading an endless input once n_ctx tokens are known to be exceeded', async () => {
    let pulled = 0;
    function* endless(): Generator<string> {
      for (;;) {
        pulled++;
        yield 'the quick brown fox jumps over the lazy dog. ';
      }
    }
    const t = await firstTokens(endless(), 1024, true, 4096);
    assert.equal(t.truncated, true);
    assert.equal(t.tokens.length, 1024);
    assert.equal(t.tokens[0], 50256);
    const sentence = Array.from(tokenizePacked('the quick brown fox jumps over the lazy dog.').ids);
    assert.deepEqual(t.tokens.slice(1, 1 + sentence.length), sentence);
    assert.ok(pulled < 200, `pulled ${pulled} chunks`);
    const short = await firstTokens(['a b c'], 1024, false);
    assert.deepEqual(short, { tokens: Array.from(tokenizePacked('a b c').ids), truncated: false });
  });
});
