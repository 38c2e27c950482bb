// Measurement, not a test: the extension host's longest event-loop gaps per step on a 10 MB
// document, with a CPU profile to say whose code held the thread in the longest gap.
import { appendFileSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import * as vscode from 'vscode';
import type { ModelLensApi } from '../../src/extension';
import { COMMANDS } from '../../src/extension/commands';
import type { TokenizeOutcome } from '../../src/extension/tokenizePanel';
import { waitFor } from '../support/waitUntil';

function mixedText(target: number): string {
  const parts = [
    'The quick brown fox jumps over the lazy dog, and then it reads a paper about transformers.\n',
    'function add(a: number, b: number): number {\n\treturn a + b; // 12345 🙂\n}\n',
    '日本語の文章と漢字、そして中文也在这里。한국어 텍스트도 있습니다.\n',
    'emoji 🙂🚀👩‍💻 and symbols → ∑ ≠ ≤; CRLF line\r\n',
    '    indented   code = [x ** 2 for x in range(10) if x % 3 == 0]\n',
  ];
  let out = '';
  let i = 0;
  while (out.length < target) out += parts[i++ % parts.length]! + (i % 7 === 0 ? `word${i} ` : '');
  return out;
}

interface Gap {
  at: number;
  ms: number;
}
const gaps: { step: string; ms: number; at: number }[] = [];
let step = 'idle';
let last = performance.now();
const stepMax = new Map<string, Gap>();
const ticker = setInterval(() => {
  const now = performance.now();
  const ms = now - last;
  const cur = stepMax.get(step);
  if (!cur || ms > cur.ms) stepMax.set(step, { at: last, ms });
  gaps.push({ step, ms, at: last });
  last = now;
}, 5);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Waits for a condition of the current step (the shared helper; the step names the timeout). */
const until = (probe: () => boolean, timeoutMs = 60000): Promise<void> => waitFor(step, probe, { timeoutMs, intervalMs: 20 });

const profileSession = new Session();
profileSession.connect();
const post = (m: string, p?: object) => new Promise<any>((res, rej) => profileSession.post(m, p ?? {}, (e, r) => (e ? rej(e) : res(r))));

describe('host gaps', function () {
  this.timeout(600000);
  it('measures', async () => {
    const ext = vscode.extensions.getExtension<ModelLensApi>('model-lens.model-lens')!;
    const api = await ext.activate();
    const text = mixedText(10_000_000);
    await post('Profiler.enable');
    await post('Profiler.setSamplingInterval', { interval: 1000 });
    await post('Profiler.start');
    const t0 = performance.now();
    const profStartWall = t0;
    const marks: { step: string; t: number }[] = [];
    const begin = (s: string) => {
      appendFileSync('/tmp/hostgaps.progress', `${(performance.now() - t0).toFixed(0)} ${s} ${api.statusBarText()}\n`);
      step = s;
      marks.push({ step: s, t: performance.now() });
      last = performance.now();
    };

    begin('open');
    const doc = await vscode.workspace.openTextDocument({ content: text, language: 'plaintext' });
    const editor = await vscode.window.showTextDocument(doc, vscode.ViewColumn.One);
    await sleep(500);
    begin('cache build');
    const tb = performance.now();
    await api.documentTokens.get(doc);
    const buildMs = performance.now() - tb;
    await until(() => / tokens?$/.test(api.statusBarText()));
    await sleep(500);
    editor.selection = new vscode.Selection(0, 0, 0, 1);
    await until(() => api.statusBarText().endsWith(' 1 token'));
    await sleep(300);
    begin('select all (status count)');
    const before = api.statusBarText();
    editor.selection = new vscode.Selection(doc.positionAt(0), doc.positionAt(doc.getText().length));
    await until(() => api.statusBarText() !== before);
    const selStatus = api.statusBarText();
    await sleep(500);
    begin('tokenize selection');
    const tt = performance.now();
    const outcome = await vscode.commands.executeCommand<TokenizeOutcome>(COMMANDS.tokenizeSelection);
    const tokMs = performance.now() - tt;
    await sleep(4000); // the webview's ready -> replay of the result
    begin('hover');
    for (const at of [10, 5_000_000, 9_999_000]) {
      await vscode.commands.executeCommand('vscode.executeHoverProvider', doc.uri, doc.positionAt(at));
    }
    await sleep(300);
    begin('edit');
    editor.selection = new vscode.Selection(0, 0, 0, 0);
    await sleep(500);
    const s2 = api.statusBarText();
    await editor.edit((b) => b.insert(doc.positionAt(5_000_000), 'x'));
    await until(() => api.statusBarText() !== s2, 10000).catch(() => undefined);
    await sleep(500);
    begin('end');
    const { profile } = await post('Profiler.stop');
    clearInterval(ticker);

    // Attribute the longest gap of each step: self time by function within its window.
    const nodes = new Map<number, any>();
    for (const n of profile.nodes) nodes.set(n.id, n);
    const parent = new Map<number, number>();
    for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
    const sampleTimes: number[] = [];
    let t = profile.startTime;
    for (const d of profile.timeDeltas) {
      t += d;
      sampleTimes.push(t);
    }
    // Map profiler microseconds to performance.now(): the profile started just before t0.
    const offset = profStartWall - profile.startTime / 1000;
    const describeWindow = (from: number, to: number) => {
      const self = new Map<string, number>();
      let ours = 0,
        total = 0;
      for (let i = 0; i < profile.samples.length; i++) {
        const ts = sampleTimes[i]! / 1000 + offset;
        if (ts < from || ts > to) continue;
        const dt = (profile.timeDeltas[i + 1] ?? 0) / 1000;
        total += dt;
        let id: number | undefined = profile.samples[i];
        const n = nodes.get(id!);
        const key = `${n.callFrame.functionName || '(anon)'} ${String(n.callFrame.url).split('/').slice(-2).join('/')}:${n.callFrame.lineNumber}`;
        self.set(key, (self.get(key) ?? 0) + dt);
        let mine = false;
        while (id !== undefined) {
          if (String(nodes.get(id).callFrame.url).includes('/dist/extension.js')) {
            mine = true;
            break;
          }
          id = parent.get(id);
        }
        if (mine) ours += dt;
      }
      const top = [...self]
        .sort((a, b) => b[1] - a[1])
        .slice(0, 8)
        .map(([k, v]) => `${v.toFixed(1)} ${k}`);
      return { ours: +ours.toFixed(1), total: +total.toFixed(1), top };
    };
    const report: any = { buildMs, tokMs, selStatus, tokens: outcome?.ids.length, steps: {} };
    for (const [s, g] of stepMax) {
      const top3 = gaps
        .filter((x) => x.step === s)
        .sort((a, b) => b.ms - a.ms)
        .slice(0, 3);
      report.steps[s] = {
        max: +g.ms.toFixed(1),
        next: top3.slice(1).map((x) => +x.ms.toFixed(1)),
        over50: gaps.filter((x) => x.step === s && x.ms > 50).length,
        window: describeWindow(g.at, g.at + g.ms),
        gapsOver50: gaps
          .filter((x) => x.step === s && x.ms > 50)
          .slice(0, 12)
          .map((x) => ({ ms: +x.ms.toFixed(0), ...describeWindow(x.at, x.at + x.ms) })),
      };
    }
    writeFileSync(process.env.MODEL_LENS_PERF_OUT ?? '/tmp/hostgaps.json', JSON.stringify(report, null, 2));
  });
});
