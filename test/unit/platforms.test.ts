/**
 * The platform branches, with the platform passed in: this runs on Linux only, so the macOS and
 * Windows paths are checked here rather than by running there (docs/ARCHITECTURE.md says so).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { isTransientRenameError, renameOver } from '../../src/common/renameOver';
import { quoted } from '../../src/extension/pathPolicy';
import { acquireFileLock, lockCreateFailure, lockIsStale, processAlive } from '../../src/engine/hub/lock';
import { defaultDemoCacheDir, parseModelSpec } from '../../src/engine/hub/resolveModel';
import { hubCacheDir } from '../../src/engine/hub/settings';
import { liveWeightFolders, removeLiveWeightFolders, WeightFile } from '../../src/engine/onnx/weightFile';
import { autoCpuFallbackIsNews, autoProviderPlan, runsOnlyOnCpu } from '../../src/engine/ort/providerPlan';

describe('hubCacheDir per platform', () => {
  it('defaults to %USERPROFILE%\\.cache\\huggingface\\hub on Windows, ignoring HOME', () => {
    const env = { USERPROFILE: 'C:\\Users\\ada', HOME: '/home/ada' };
    assert.equal(hubCacheDir(env, 'win32'), 'C:\\Users\\ada\\.cache\\huggingface\\hub');
  });

  it('expands ~ in HF_HOME to %USERPROFILE% on Windows, with either separator', () => {
    assert.equal(hubCacheDir({ USERPROFILE: 'C:\\Users\\ada', HF_HOME: '~\\hf' }, 'win32'), 'C:\\Users\\ada\\hf\\hub');
    assert.equal(hubCacheDir({ USERPROFILE: 'C:\\Users\\ada', HF_HOME: '~/hf' }, 'win32'), 'C:\\Users\\ada\\hf\\hub');
  });

  it('keeps an absolute HF_HUB_CACHE on Windows as a Windows path', () => {
    assert.equal(hubCacheDir({ USERPROFILE: 'C:\\Users\\ada', HF_HUB_CACHE: 'D:/models/hub' }, 'win32'), 'D:\\models\\hub');
  });

  it('uses HOME on macOS and Linux, not USERPROFILE', () => {
    for (const platform of ['darwin', 'linux'] as const) {
      assert.equal(hubCacheDir({ HOME: '/Users/ada', USERPROFILE: 'C:\\x' }, platform), '/Users/ada/.cache/huggingface/hub');
    }
  });
});

describe('runsOnlyOnCpu: when a session may use what only the CPU provider runs (bfloat16 BitCast)', () => {
  const noGpu = (): boolean => false;
  const gpu = (): boolean => true;

  it("'cpu' always; a GPU provider asked for by name never (its session may fall back, but starts on the GPU)", () => {
    for (const platform of ['linux', 'darwin', 'win32'] as const) assert.equal(runsOnlyOnCpu('cpu', platform, gpu, 'x64'), true);
    for (const device of ['cuda', 'webgpu'] as const) assert.equal(runsOnlyOnCpu(device, 'linux', noGpu, 'x64'), false);
  });

  it("'auto' on Linux: only without any GPU device node (CUDA needs /dev/nvidia*), and on arm64, which has no GPU provider", () => {
    assert.equal(runsOnlyOnCpu('auto', 'linux', noGpu, 'x64'), true);
    assert.equal(runsOnlyOnCpu('auto', 'linux', gpu, 'x64'), false);
    assert.equal(runsOnlyOnCpu('auto', 'linux', gpu, 'arm64'), true);
  });

  it("'auto' on macOS and Windows: never (webgpu is tried on Metal and D3D12 without a device-node check)", () => {
    assert.equal(runsOnlyOnCpu('auto', 'darwin', noGpu, 'arm64'), false);
    assert.equal(runsOnlyOnCpu('auto', 'win32', noGpu, 'x64'), false);
  });
});

describe("autoProviderPlan: what 'auto' tries on each platform", () => {
  const noGpu = (): boolean => false;
  const gpu = (): boolean => true;

  it('on Linux x64, tries webgpu only when a GPU device node exists, saying why it skipped it', () => {
    assert.deepEqual(autoProviderPlan('linux', gpu, 'x64'), { order: ['cuda', 'webgpu', 'cpu'], skipped: [] });
    const plan = autoProviderPlan('linux', noGpu, 'x64');
    assert.deepEqual(plan.order, ['cuda', 'cpu']);
    assert.match(plan.skipped.join(), /webgpu skipped: no GPU device node/);
  });

  it('on Linux arm64, whose onnxruntime build has no GPU provider, runs on the CPU and says so', () => {
    const plan = autoProviderPlan('linux', gpu, 'arm64');
    assert.deepEqual(plan.order, ['cpu']);
    assert.match(plan.skipped.join(), /no GPU provider for linux-arm64/);
  });

  it('on macOS (Apple silicon), tries webgpu (Metal) then the CPU, without looking for /dev nodes or CUDA', () => {
    let asked = 0;
    const plan = autoProviderPlan(
      'darwin',
      () => {
        asked++;
        return false;
      },
      'arm64',
    );
    assert.deepEqual(plan, { order: ['webgpu', 'cpu'], skipped: [] });
    assert.equal(asked, 0);
  });

  it('on Windows x64 and arm64, tries webgpu (D3D12) then the CPU (the Windows build has no CUDA), without looking for /dev nodes', () => {
    for (const arch of ['x64', 'arm64']) {
      let asked = 0;
      const plan = autoProviderPlan(
        'win32',
        () => {
          asked++;
          return false;
        },
        arch,
      );
      assert.deepEqual(plan, { order: ['webgpu', 'cpu'], skipped: [] });
      assert.equal(asked, 0);
    }
  });

  it("announces 'auto' landing on the CPU on macOS and Windows (a GPU was expected), not on Linux", () => {
    assert.equal(autoCpuFallbackIsNews('darwin'), true);
    assert.equal(autoCpuFallbackIsNews('win32'), true);
    assert.equal(autoCpuFallbackIsNews('linux'), false);
  });

  it('elsewhere (an Intel Mac, FreeBSD), runs on the CPU and says the GPU providers were skipped', () => {
    assert.match(autoProviderPlan('darwin', gpu, 'x64').skipped.join(), /no GPU provider for darwin-x64/);
    const plan = autoProviderPlan('freebsd', gpu, 'x64');
    assert.deepEqual(plan.order, ['cpu']);
    assert.match(plan.skipped.join(), /no GPU provider for freebsd-x64/);
  });
});

describe('renameOver: a rename Windows refuses for a moment is retried there, and only there', () => {
  /** fs.rename that first fails `failures` times with `code`, as Windows does while another handle is open. */
  function busyThen(failures: number, code: string, tries: string[]): (from: string, to: string) => Promise<void> {
    return async (from, to) => {
      tries.push(code);
      if (tries.length <= failures)
        throw Object.assign(new Error(`${code}: operation not permitted, rename '${from}' -> '${to}'`), { code });
      await rename(from, to);
    };
  }

  async function withFiles(fn: (dir: string, from: string, to: string) => Promise<void>): Promise<void> {
    const dir = await mkdtemp(join(tmpdir(), 'model-lens-rename-'));
    try {
      const from = join(dir, 'new.tmp');
      const to = join(dir, 'target.png');
      await writeFile(from, 'new');
      await writeFile(to, 'old');
      await fn(dir, from, to);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  for (const code of ['EPERM', 'EACCES', 'EBUSY']) {
    it(`on win32, retries ${code} and replaces the target once the other handle closes`, async () => {
      await withFiles(async (_dir, from, to) => {
        const tries: string[] = [];
        await renameOver(from, to, { platform: 'win32', firstDelayMs: 1, rename: busyThen(3, code, tries) });
        assert.equal(tries.length, 4);
        assert.equal(await readFile(to, 'utf8'), 'new');
      });
    });
  }

  it('on win32, gives up after the bounded retries with the last error, leaving the target as it was', async () => {
    await withFiles(async (_dir, from, to) => {
      const tries: string[] = [];
      await assert.rejects(renameOver(from, to, { platform: 'win32', retries: 4, firstDelayMs: 1, rename: busyThen(99, 'EPERM', tries) }), {
        code: 'EPERM',
      });
      assert.equal(tries.length, 5);
      assert.equal(await readFile(to, 'utf8'), 'old');
    });
  });

  it('on Linux and macOS, EPERM is a real permission error: thrown at once', async () => {
    for (const platform of ['linux', 'darwin'] as const) {
      await withFiles(async (_dir, from, to) => {
        const tries: string[] = [];
        await assert.rejects(renameOver(from, to, { platform, firstDelayMs: 1, rename: busyThen(1, 'EPERM', tries) }), { code: 'EPERM' });
        assert.equal(tries.length, 1);
      });
    }
  });

  it('never retries other errors, on any platform (a missing source is ENOENT at once)', async () => {
    await withFiles(async (dir, _from, to) => {
      await assert.rejects(renameOver(join(dir, 'missing'), to, { platform: 'win32', firstDelayMs: 1 }), { code: 'ENOENT' });
    });
    assert.equal(isTransientRenameError(Object.assign(new Error('x'), { code: 'ENOENT' }), 'win32'), false);
    assert.equal(isTransientRenameError(Object.assign(new Error('x'), { code: 'EBUSY' }), 'win32'), true);
    assert.equal(isTransientRenameError(Object.assign(new Error('x'), { code: 'EBUSY' }), 'linux'), false);
  });
});

describe('the download lock on each platform', () => {
  const err = (code: string): NodeJS.ErrnoException => Object.assign(new Error(code), { code });

  it('reads EEXIST as "held" everywhere, and EPERM/EACCES/EBUSY as "being released, try again" on win32 only', () => {
    for (const platform of ['linux', 'darwin', 'win32'] as const) assert.equal(lockCreateFailure(err('EEXIST'), platform), 'exists');
    for (const code of ['EPERM', 'EACCES', 'EBUSY']) {
      assert.equal(lockCreateFailure(err(code), 'win32'), 'busy');
      assert.equal(lockCreateFailure(err(code), 'linux'), 'error');
      assert.equal(lockCreateFailure(err(code), 'darwin'), 'error');
    }
    assert.equal(lockCreateFailure(err('ENOSPC'), 'win32'), 'error');
  });

  it('judges a lock stale by its heartbeat, or by a dead pid on the same host only', () => {
    const dead = (): boolean => false;
    const alive = (): boolean => true;
    assert.equal(lockIsStale({ pid: 1, host: 'a' }, 60_000, 30_000, 'a', alive), true, 'old heartbeat');
    assert.equal(lockIsStale({ pid: 1, host: 'a' }, 10, 30_000, 'a', dead), true, 'dead owner on this host');
    assert.equal(lockIsStale({ pid: 1, host: 'b' }, 10, 30_000, 'a', dead), false, 'a pid on another host names nothing here');
    assert.equal(lockIsStale({ pid: 1, host: 'a' }, 10, 30_000, 'a', alive), false);
    assert.equal(lockIsStale({}, 10, 30_000, 'a', dead), false, 'no owner written yet');
  });

  it("asks whether a pid is alive with Node's portable existence test (the same call on Windows)", () => {
    assert.equal(processAlive(process.pid), true);
    const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
    assert.equal(processAlive(Number(child.stdout)), false);
  });

  it('on win32, a create that keeps failing with EPERM is reported after a bounded wait, not retried forever', async (t) => {
    // A real EPERM from open(…, 'wx'): the lock's folder is immutable (chattr +i; this needs root
    // on ext4 or similar, so elsewhere the test says why it did not run).
    const dir = await mkdtemp(join(tmpdir(), 'model-lens-lock-'));
    const locks = join(dir, 'locks');
    await mkdir(locks);
    if (spawnSync('chattr', ['+i', locks]).status !== 0) {
      await rm(dir, { recursive: true, force: true });
      t.skip('chattr +i is not available here (needs root and a file system that supports it)');
      return;
    }
    try {
      let waits = 0;
      const lock = join(locks, 'x.lock');
      await assert.rejects(acquireFileLock(lock, { platform: 'win32', pollMs: 1, onWait: () => waits++ }), /download lock.*EPERM/s);
      assert.equal(waits, 1, 'on win32 it waited (as for a lock being released) before reporting');
      await assert.rejects(acquireFileLock(lock, { platform: 'linux', pollMs: 1, onWait: () => waits++ }), /download lock.*EPERM/s);
      assert.equal(waits, 1, 'on Linux it reported at once');
    } finally {
      spawnSync('chattr', ['-i', locks]);
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('model settings: folders in either separator on Windows', () => {
  const env = { USERPROFILE: 'C:\\Users\\ada', HOME: '/home/ada' };

  it('reads ~\\, ~/, .\\, ..\\, C:/ and C:\\ as folders on win32, in Windows form', () => {
    const cwd = 'C:\\work';
    const folder = (s: string): string => {
      const spec = parseModelSpec(s, cwd, env, 'win32');
      assert.equal(spec.kind, 'folder', s);
      return (spec as { path: string }).path;
    };
    assert.equal(folder('~\\models\\gpt2'), 'C:\\Users\\ada\\models\\gpt2');
    assert.equal(folder('~/models/gpt2'), 'C:\\Users\\ada\\models\\gpt2');
    assert.equal(folder('.\\gpt2'), 'C:\\work\\gpt2');
    assert.equal(folder('./gpt2'), 'C:\\work\\gpt2');
    assert.equal(folder('..\\gpt2'), 'C:\\gpt2');
    assert.equal(folder('C:/models/gpt2'), 'C:\\models\\gpt2');
    assert.equal(folder('D:\\models\\gpt2'), 'D:\\models\\gpt2');
    assert.equal(folder('\\\\server\\share\\gpt2'), '\\\\server\\share\\gpt2');
  });

  it('keeps Hub ids as Hub ids on every platform', () => {
    for (const platform of ['linux', 'darwin', 'win32'] as const) {
      assert.deepEqual(parseModelSpec('openai-community/gpt2', 'C:\\w', env, platform), { kind: 'hub', repoId: 'openai-community/gpt2' });
    }
  });

  it('on Linux, ~ is HOME and ~\\ is not special', () => {
    assert.deepEqual(parseModelSpec('~/m', '/w', env, 'linux'), { kind: 'folder', path: '/home/ada/m' });
  });

  it("puts the demo model under the platform's home", () => {
    assert.equal(defaultDemoCacheDir(env, 'win32'), 'C:\\Users\\ada\\.cache\\model-lens');
    assert.equal(defaultDemoCacheDir(env, 'darwin'), '/home/ada/.cache/model-lens');
    assert.equal(defaultDemoCacheDir({ ...env, XDG_CACHE_HOME: '/x' }, 'linux'), '/x/model-lens');
  });
});

describe('temp folders', () => {
  it('no source file names /tmp or /dev outside the function that says it is Linux-only', async () => {
    const offenders: string[] = [];
    const roots = ['src', 'kernels', 'scripts'];
    const walk = async (d: string): Promise<void> => {
      for (const e of await readdir(d, { withFileTypes: true })) {
        const p = join(d, e.name);
        if (e.isDirectory()) await walk(p);
        else if (p.endsWith('.ts')) {
          const lines = (await readFile(p, 'utf8')).split(/\r?\n/);
          lines.forEach((line, i) => {
            if (/['"`]\/(tmp|dev)\b/.test(line)) offenders.push(`${p}:${i + 1}`);
          });
        }
      }
    };
    for (const r of roots) await walk(r);
    // gpuDevicePresent is Linux's GPU check and says so (autoProviderPlan calls it on Linux only).
    assert.deepEqual(
      offenders.filter((o) => !o.startsWith(join('src', 'engine', 'ort', 'providerPlan.ts'))),
      [],
    );
  });
});

describe('paths in messages', () => {
  it('quotes a Windows path with its backslashes as typed (JSON.stringify would double them)', () => {
    assert.equal(quoted('C:\\Users\\ada\\view.png'), '"C:\\Users\\ada\\view.png"');
    assert.equal(quoted('/home/ada/view.png'), '"/home/ada/view.png"');
    assert.equal(quoted('a"b\nc'), '"a\\"b\\nc"', 'quotes and control characters are still escaped');
  });
});

describe('weights temp folders that cannot be removed yet', () => {
  it('dispose does not throw when the folder refuses removal (as Windows does for a mapped file); the exit path removes it later', (t) => {
    const w = new WeightFile();
    const weights = join(w.dir, 'weights.bin');
    // A real EPERM on unlink: the file is immutable (root and a file system with chattr +i).
    if (spawnSync('chattr', ['+i', weights]).status !== 0) {
      w.dispose();
      t.skip('chattr +i is not available here (needs root and a file system that supports it)');
      return;
    }
    try {
      assert.doesNotThrow(() => w.dispose());
      assert.ok(existsSync(w.dir), 'the folder is still there');
      assert.ok(liveWeightFolders().includes(w.dir), 'and still listed for the exit hook');
    } finally {
      spawnSync('chattr', ['-i', weights]);
    }
    removeLiveWeightFolders();
    assert.equal(existsSync(w.dir), false);
  });
});
