// A 16-bit unembedding (fp16 or bf16) is read in vocabulary slices (kernels/unembed.ts), so a run decodes
// one slice of W_E (or W_U) to float32 at a time instead of the whole matrix. Checked on real
// sessions: the sliced graph's logits equal the one-product graph's, tied and untied, and no node
// of the sliced graph casts the whole weight.
import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { unembed } from '../../kernels/unembed';
import { loadCheckpoint } from '../../src/engine/checkpoint/load';
import { GraphBuilder } from '../../src/engine/onnx/builder';
import { liftWeights } from '../../src/engine/onnx/weightInputs';
import { createSharedWeightsSession } from '../../src/engine/ort/graphSession';
import type { HostTensor } from '../../src/engine/ort/session';
import { processWeights } from '../../src/engine/processing';
import { generateTinyGpt2 } from '../../src/engine/tinyGpt2';
import { DEFAULT_PROCESSING, type GPT2Weights } from '../../src/engine/types';
import { halfWeights } from '../../src/engine/weightDtype';

const D = 64;
const ROWS = 5;

function logitsGraph(w: GPT2Weights, sliceBytes: number) {
  const b = new GraphBuilder('unembed_slices');
  const x = b.input('x', 'float32', [1, ROWS, D]);
  b.output(b.op('Identity', [unembed(b, w, x, sliceBytes)], undefined, { out: 'logits' }), null);
  return b.build();
}

async function logits(w: GPT2Weights, sliceBytes: number, x: Float32Array): Promise<Float32Array> {
  const { session } = await createSharedWeightsSession(logitsGraph(w, sliceBytes), { memArena: false });
  try {
    const out = await session.run({ x: { type: 'float32', dims: [1, ROWS, D], data: x } }, ['logits']);
    return (out.logits as HostTensor).data as Float32Array;
  } finally {
    await session.release();
  }
}

for (const [tied, encoding] of [
  [true, 'float16'],
  [false, 'float16'],
  [true, 'bfloat16'],
] as const) {
  describe(`half-stored unembedding in vocabulary slices (${tied ? 'tied' : 'untied'}, ${encoding})`, { timeout: 120_000 }, () => {
    const dir = mkdtempSync(join(tmpdir(), 'model-lens-slices-'));
    let w: GPT2Weights;
    before(async () => {
      await generateTinyGpt2(dir, { seed: 5, n_layer: 1, n_embd: D, n_head: 2, tiedLmHead: tied });
      const { cfg, weights } = await loadCheckpoint(dir);
      w = halfWeights(processWeights(cfg, weights, DEFAULT_PROCESSING).weights, encoding);
    });
    after(() => rmSync(dir, { recursive: true, force: true }));

    it('equal the single product, and cast no whole weight', async () => {
      const x = Float32Array.from({ length: ROWS * D }, (_, i) => Math.sin(i * 0.37) * 2);
      const whole = await logits(w, Infinity, x);
      // 50,257 × 64 float32 is 12.9 MB: 1 MiB slices make twelve of them.
      const sliced = await logits(w, 2 ** 20, x);
      assert.equal(sliced.length, whole.length);
      let worst = 0;
      for (let i = 0; i < whole.length; i++) worst = Math.max(worst, Math.abs(sliced[i]! - whole[i]!) / Math.max(1, Math.abs(whole[i]!)));
      assert.ok(worst <= 1e-6, `sliced logits differ by ${worst}`);

      const weight = tied ? 'embed.W_E' : 'unembed.W_U';
      const fed = encoding === 'float16' ? 'float16' : 'uint16';
      // A whole weight's cast reads its float16 input, or the gated view of it (weightInputs.ts castGate).
      const castsWhole = (n: { op: string; inputs: readonly string[] }): boolean =>
        (n.op === 'Cast' || n.op === 'Gather') && [`${weight}::${fed}`, `${weight}::${fed}::gated`].includes(n.inputs[0]!);
      const lifted = liftWeights(logitsGraph(w, 2 ** 20)).graph;
      const casts = lifted.nodes.filter((n) => n.op === 'Cast');
      // A decode (a Cast, and for bfloat16 its Gather from the table) per slice, none of the whole weight.
      assert.ok(casts.length >= 12, `expected a cast per slice, got ${casts.length}`);
      assert.ok(!casts.some(castsWhole), `a node casts the whole ${weight}`);
      const wholeCasts = liftWeights(logitsGraph(w, Infinity)).graph.nodes.filter(castsWhole);
      assert.equal(wholeCasts.length, 1, 'the one-product graph casts the whole weight (what slicing avoids)');
    });
  });
}
