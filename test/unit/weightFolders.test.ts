// Weights temp folders of processes that died without cleaning up (SIGKILL, a native crash) are
// swept by the next process; a live process's folder never is.
import { strict as assert } from 'node:assert';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { STALE_FOLDER_AGE_MS, WeightFile, isProcessAlive, sweepStaleWeightFolders } from '../../src/engine/onnx/weightFile';

/** A pid that belonged to a process which has exited. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', '']);
  assert.ok(r.pid !== undefined && !isProcessAlive(r.pid));
  return r.pid;
}

function makeFolder(dir: string, name: string, ageMs: number): string {
  const path = join(dir, name);
  mkdirSync(path);
  writeFileSync(join(path, 'weights.bin'), 'x');
  const t = (Date.now() - ageMs) / 1000;
  utimesSync(path, t, t);
  return path;
}

describe('stale weights folders', () => {
  const dir = mkdtempSync(join(tmpdir(), 'model-lens-sweep-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const old = STALE_FOLDER_AGE_MS + 60_000;

  it('removes only old folders of dead processes', async () => {
    const live = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' });
    try {
      const dead = deadPid();
      const deadOld = makeFolder(dir, `model-lens-weights-${dead}-AbC123`, old);
      const deadRecent = makeFolder(dir, `model-lens-weights-${dead}-XyZ789`, 1000);
      const liveOld = makeFolder(dir, `model-lens-weights-${live.pid}-Qwe456`, old);
      const selfOld = makeFolder(dir, `model-lens-weights-${process.pid}-Rty000`, old);
      const otherName = makeFolder(dir, `model-lens-weights-${dead}-toolongsuffix`, old);
      const removed = sweepStaleWeightFolders(dir);
      assert.deepEqual(removed, [deadOld]);
      assert.equal(existsSync(deadOld), false);
      for (const kept of [deadRecent, liveOld, selfOld, otherName]) assert.ok(existsSync(kept), kept);
    } finally {
      live.kill();
    }
  });

  it('the first WeightFile of a process sweeps the temp folder', () => {
    const tmp = mkdtempSync(join(dir, 'tmp-'));
    const stale = makeFolder(tmp, `model-lens-weights-${deadPid()}-Old111`, old);
    const saved = process.env.TMPDIR;
    process.env.TMPDIR = tmp; // os.tmpdir() reads it on each call
    try {
      const w = new WeightFile();
      assert.equal(existsSync(stale), false);
      assert.ok(w.dir.startsWith(join(tmp, `model-lens-weights-${process.pid}-`)));
      w.dispose();
      assert.equal(existsSync(w.dir), false);
    } finally {
      if (saved === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = saved;
    }
  });
});
