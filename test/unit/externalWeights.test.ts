// Weights as ONNX external data: the encoded graph holds nodes and small constants only, the
// weights file holds every large initializer once (aligned), sessions read it through a path,
// every variant of a model shares it, and dispose removes it. What lets gpt2-large and gpt2-xl
// (over protobuf's 2 GB) load at all.
import { strict as assert } from 'node:assert';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadCheckpoint } from '../../src/engine/checkpoint/load';
import { buildModelGraph, LOGITS_OUTPUT, TOKENS_INPUT } from '../../src/engine/graph';
import { HookedGPT2 } from '../../src/engine/model';
import { encodeModel } from '../../src/engine/onnx/encode';
import type { GraphIR } from '../../src/engine/onnx/ir';
import { INLINE_LIMIT_BYTES, WEIGHT_ALIGNMENT, WEIGHTS_FILE, WeightFile } from '../../src/engine/onnx/weightFile';
import { createSession, isDeviceTensor, type HostTensor } from '../../src/engine/ort/session';
import { processWeights } from '../../src/engine/processing';
import { generateTinyGpt2 } from '../../src/engine/tinyGpt2';
import { DEFAULT_PROCESSING } from '../../src/engine/types';
import { maxAbsDiff } from '../support/compare';

const TIMEOUT = 120_000;
const TOKENS = [50256, 464, 2068, 7586, 21831, 18045, 625];

async function logitsOf(model: Uint8Array | string): Promise<Float32Array> {
  const { session } = await createSession(model, { device: 'cpu', threads: 1 });
  try {
    const feeds: Record<string, HostTensor> = {
      [TOKENS_INPUT]: { type: 'int64', dims: [1, TOKENS.length], data: BigInt64Array.from(TOKENS, BigInt) },
    };
    const logits = (await session.run(feeds, [LOGITS_OUTPUT]))[LOGITS_OUTPUT]!;
    assert.ok(!isDeviceTensor(logits), 'a CPU session returns host tensors');
    return logits.data as Float32Array;
  } finally {
    await session.release();
  }
}

describe('ONNX external weights (generated tiny GPT-2)', { timeout: TIMEOUT }, () => {
  let dir: string;
  let graph: GraphIR;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'model-lens-extw-'));
    await generateTinyGpt2(dir);
    const { cfg, weights } = await loadCheckpoint(dir);
    const processed = processWeights(cfg, weights, DEFAULT_PROCESSING);
    graph = buildModelGraph(processed.cfg, processed.weights).graph;
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('the .onnx holds no weight bytes; weights.bin holds every large initializer once, aligned', async () => {
    const wf = new WeightFile();
    try {
      const path = wf.writeModel(encodeModel(graph, wf));
      const large = [...graph.initializers.values()].filter((t) => t.data.byteLength >= INLINE_LIMIT_BYTES);
      const largeBytes = large.reduce((a, t) => a + t.data.byteLength, 0);
      const onnxBytes = statSync(path).size;
      const binBytes = statSync(join(wf.dir, WEIGHTS_FILE)).size;
      assert.ok(large.length > 0 && largeBytes > 10_000_000, `the tiny model has ${largeBytes} bytes of large initializers`);
      // Nodes, names, dims, external_data entries and the small constants: far below one weight.
      assert.ok(onnxBytes < 200_000, `.onnx is ${onnxBytes} bytes`);
      assert.ok(onnxBytes < largeBytes / 50, `.onnx (${onnxBytes} B) vs initializers (${largeBytes} B)`);
      // Only alignment gaps beyond the data itself (the last tensor ends the file).
      assert.ok(
        binBytes >= largeBytes && binBytes < largeBytes + large.length * WEIGHT_ALIGNMENT,
        `weights.bin ${binBytes} B for ${largeBytes} B`,
      );
      assert.equal(wf.size, binBytes);

      // Bytes at a tensor's offset are that tensor's raw little-endian float32s.
      const wE = graph.initializers.get('embed.W_E')!;
      const ref = wf.place(wE); // already placed: returns the same range, writes nothing
      assert.equal(ref.offset % WEIGHT_ALIGNMENT, 0);
      assert.equal(statSync(join(wf.dir, WEIGHTS_FILE)).size, binBytes);
      const onDisk = readFileSync(join(wf.dir, WEIGHTS_FILE)).subarray(ref.offset, ref.offset + ref.length);
      assert.deepEqual(new Uint8Array(onDisk), new Uint8Array(wE.data.buffer, wE.data.byteOffset, wE.data.byteLength));

      // Encoding the same graph again (another variant) appends nothing.
      wf.writeModel(encodeModel(graph, wf));
      assert.equal(statSync(join(wf.dir, WEIGHTS_FILE)).size, binBytes);

      // onnxruntime resolves weights.bin beside the .onnx and computes what the inline model does.
      const external = await logitsOf(path);
      const inline = await logitsOf(encodeModel(graph));
      assert.equal(external.length, inline.length);
      assert.equal(maxAbsDiff(external, inline), 0);
    } finally {
      wf.dispose();
    }
    assert.equal(existsSync(wf.dir), false, 'dispose removes the folder');
  });

  it("HookedGPT2 with 'file' storage (a GPU provider's) shares one weights file between its variants and removes it on dispose", async () => {
    // Variants stay open while the test counts them (see releaseIdleVariantsAfterMs).
    const model = await HookedGPT2.fromPretrained(dir, { threads: 1, weightStorage: 'file', releaseIdleVariantsAfterMs: 0 });
    const folder = model.weightsFolder;
    assert.ok(folder !== null, 'the main session wrote the weights file');
    try {
      assert.ok(basename(folder).startsWith(`model-lens-weights-${process.pid}-`), folder);
      const bin = join(folder, WEIGHTS_FILE);
      const afterLoad = statSync(bin).size;
      await model.runWithCache(TOKENS);
      await model.runWithHooks(TOKENS, [{ name: 'blocks.0.hook_resid_post', fn: () => undefined }]);
      await model.runWithInterventions(TOKENS, [{ kind: 'ablateHeads', layer: 1, heads: [0, 2] }]);
      assert.ok(model.openSessions >= 4, `${model.openSessions} variants open`);
      // Cache outputs, cuts and the ablation reuse the weights already written (the mask is inline).
      assert.equal(statSync(bin).size, afterLoad);
    } finally {
      await model.dispose();
    }
    assert.equal(existsSync(folder), false, 'dispose removes the weights folder');
  });
});
