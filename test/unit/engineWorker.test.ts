// EngineClient ↔ engine worker thread with a real model: load, run with names and
// interventions, cancellation by AbortSignal, errors as rejections, disposal.
import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { EngineClient, type LoadProgress } from '../../src/engine/worker/engineClient';
import { generateTinyGpt2 } from '../../src/engine/tinyGpt2';
import { readSafetensors } from '../../src/engine/safetensors/read';
import { writeSafetensors, type SafetensorsTensorToWrite } from '../../src/engine/safetensors/write';

const WORKER = join(__dirname, 'helpers/engineWorker.ts.cjs');
const TOKENS = [50256, 464, 2068, 7586, 21831];

describe('engine worker', { timeout: 60_000 }, () => {
  let dir: string;
  let client: EngineClient;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'model-lens-worker-'));
    await generateTinyGpt2(dir, { seed: 11, tiedLmHead: true });
    client = new EngineClient({ workerPath: WORKER });
  });
  after(async () => {
    await client.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  it('loads a model and runs it, returning only the requested activations as Float32Array', async () => {
    const info = await client.load(dir, { threads: 1 });
    assert.equal(info.cfg.n_layers, 2);
    assert.equal(info.provider, 'cpu');
    assert.ok(info.hookPoints.some((h) => h.name === 'blocks.1.attn.hook_pattern'));
    const r = await client.run(TOKENS, { names: ['blocks.*.attn.hook_pattern', 'hook_embed'] });
    assert.deepEqual(r.logits.dims, [1, TOKENS.length, 50257]);
    assert.ok(r.logits.data instanceof Float32Array);
    assert.deepEqual([...r.activations.keys()], ['hook_embed', 'blocks.0.attn.hook_pattern', 'blocks.1.attn.hook_pattern']);
    assert.deepEqual(r.activations.get('blocks.0.attn.hook_pattern')!.dims, [1, 4, TOKENS.length, TOKENS.length]);
  });

  it('reports a load in stages: bytes of model.safetensors read, rising to its size, then processing, then the main session', async () => {
    const seen: LoadProgress[] = [];
    await client.load(dir, { threads: 1 }, undefined, (p) => seen.push(p));
    const size = statSync(join(dir, 'model.safetensors')).size;
    const reads = seen.filter((p) => p.stage === 'read');
    assert.ok(reads.length > 2, `only ${reads.length} read reports`);
    for (const r of reads) assert.equal(r.total, size);
    for (let i = 1; i < reads.length; i++)
      assert.ok(reads[i]!.done! > reads[i - 1]!.done!, `read ${i} did not advance: ${JSON.stringify(reads)}`);
    assert.ok(reads[0]!.done! > 0 && reads[0]!.done! < size, 'the first report is the header alone');
    assert.equal(reads.at(-1)!.done, size);
    // Every read comes first; the later stages follow in order, once each.
    assert.deepEqual(seen.slice(reads.length), [
      { stage: 'process' },
      { stage: 'sessions', done: 0, total: 1 },
      { stage: 'sessions', done: 1, total: 1 },
    ]);
  });

  it("logitsAt 'last' crosses the thread: one position, equal to the last row of the full logits", async () => {
    const full = await client.run(TOKENS);
    const last = await client.run(TOKENS, { logitsAt: 'last' });
    assert.deepEqual(last.logits.dims, [1, 1, 50257]);
    const tail = full.logits.data.subarray((TOKENS.length - 1) * 50257);
    let diff = 0;
    for (let v = 0; v < 50257; v++) diff = Math.max(diff, Math.abs(tail[v]! - last.logits.data[v]!));
    assert.ok(diff < 1e-5, `max abs diff ${diff}`);
  });

  it('interventions cross the thread and change the result', async () => {
    const clean = await client.run(TOKENS);
    const ablated = await client.run(TOKENS, { interventions: [{ kind: 'ablateHeads', layer: 1, heads: [0, 1, 2, 3] }] });
    let diff = 0;
    for (let i = 0; i < clean.logits.data.length; i++) diff = Math.max(diff, Math.abs(clean.logits.data[i]! - ablated.logits.data[i]!));
    assert.ok(diff > 1e-4);
  });

  it('cancels a request through its AbortSignal, and keeps serving', async () => {
    const first = client.run(TOKENS, { names: ['blocks.*'] });
    const ctl = new AbortController();
    const second = client.run(TOKENS, { signal: ctl.signal });
    ctl.abort();
    await assert.rejects(second, (e: Error) => e.name === 'AbortError');
    const pre = new AbortController();
    pre.abort();
    await assert.rejects(client.run(TOKENS, { signal: pre.signal }), (e: Error) => e.name === 'AbortError');
    const a = await first;
    const b = await client.run(TOKENS);
    assert.deepEqual(Array.from(b.logits.data.subarray(0, 50)), Array.from(a.logits.data.subarray(0, 50)));
  });

  it('errors in the worker reject with their message', async () => {
    await assert.rejects(client.run([1, 99999]), /token 1 is 99999/);
    await assert.rejects(client.run(TOKENS, { names: ['nope'] }), /no hook point named 'nope'/);
    await assert.rejects(client.load(join(dir, 'missing')), /config\.json/);
  });

  it('dispose releases the sessions and ends the thread', async () => {
    const c = new EngineClient({ workerPath: WORKER });
    await c.load(dir, { threads: 1 });
    await c.run(TOKENS);
    assert.equal(await c.dispose(), 0);
    await c.exited;
    await assert.rejects(c.run(TOKENS), /exited/);
  });

  it("a model with NaN weights loads, and the load reply names them for the extension's warning", async () => {
    const nanDir = join(dir, 'nan');
    await generateTinyGpt2(nanDir, { seed: 12, tiedLmHead: true });
    const file = await readSafetensors(join(nanDir, 'model.safetensors'));
    const tensors: SafetensorsTensorToWrite[] = [];
    for (const n of file.names()) {
      const t = await file.getTensor(n);
      const data = Float32Array.from(t.data as Float32Array);
      if (n.endsWith('h.1.mlp.c_fc.bias')) data[0] = Number.NaN;
      tensors.push({ name: n, dims: t.dims, dtype: 'F32', data });
    }
    await writeSafetensors(join(nanDir, 'model.safetensors'), tensors);
    const other = new EngineClient({ workerPath: WORKER });
    try {
      const info = await other.load(nanDir, { threads: 1 });
      assert.equal(info.warnings.length, 1);
      assert.match(info.warnings[0]!, /h\.1\.mlp\.c_fc\.bias" \(1 NaN\)/);
      const clean = await client.load(dir, { threads: 1 });
      assert.deepEqual(clean.warnings, []);
    } finally {
      await other.dispose();
    }
  });
});
