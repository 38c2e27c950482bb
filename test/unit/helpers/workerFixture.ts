// A real engine worker on a tiny generated GPT-2, with the same model in this process for
// comparison: the set-up that the worker's request tests share (panel, predictions,
// experiments). Each call makes its own temp folder; `close` ends both and removes it.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HookedGPT2 } from '../../../src/engine/model';
import { generateTinyGpt2 } from '../../../src/engine/tinyGpt2';
import { EngineClient } from '../../../src/engine/worker/engineClient';

/** The worker entry the unit tests run (src/engine/worker/engineWorker.ts through tsx). */
export const TEST_WORKER = join(__dirname, 'engineWorker.ts.cjs');

export interface WorkerFixture {
  readonly dir: string;
  /** The worker, with the tiny model loaded (one thread). */
  readonly client: EngineClient;
  /** The same model in this process (one thread), to compare the worker's answers with. */
  readonly model: HookedGPT2;
  close(): Promise<void>;
}

export async function workerWithTinyModel(name: string, seed: number): Promise<WorkerFixture> {
  const dir = mkdtempSync(join(tmpdir(), `model-lens-${name}-`));
  await generateTinyGpt2(dir, { seed });
  const client = new EngineClient({ workerPath: TEST_WORKER });
  await client.load(dir, { threads: 1 });
  const model = await HookedGPT2.fromPretrained(dir, { threads: 1 });
  return {
    dir,
    client,
    model,
    async close() {
      await client.dispose();
      await model.dispose();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
