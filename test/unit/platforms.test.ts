/**
 * The platform branches, with the platform passed in: this runs on Linux only, so the macOS and
 * Windows paths are checked here rather than by running there (docs/ARCHITECTURE.md says so).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { hubCacheDir } from '../../src/engine/hub/settings';
import { autoProviderPlan } from '../../src/engine/ort/session';

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

describe("autoProviderPlan: what 'auto' tries on each platform", () => {
  const noGpu = (): boolean => false;
  const gpu = (): boolean => true;

  it('on Linux, tries webgpu only when a GPU device node exists, saying why it skipped it', () => {
    assert.deepEqual(autoProviderPlan('linux', gpu), { order: ['cuda', 'webgpu', 'cpu'], skipped: [] });
    const plan = autoProviderPlan('linux', noGpu);
    assert.deepEqual(plan.order, ['cuda', 'cpu']);
    assert.match(plan.skipped.join(), /webgpu skipped: no GPU device node/);
  });

  it('on macOS, tries webgpu (Metal) then the CPU, without looking for /dev nodes or CUDA', () => {
    let asked = 0;
    const plan = autoProviderPlan('darwin', () => {
      asked++;
      return false;
    });
    assert.deepEqual(plan, { order: ['webgpu', 'cpu'], skipped: [] });
    assert.equal(asked, 0);
  });

  it('on Windows, tries cuda, webgpu (D3D12) then the CPU, without looking for /dev nodes', () => {
    let asked = 0;
    const plan = autoProviderPlan('win32', () => {
      asked++;
      return false;
    });
    assert.deepEqual(plan, { order: ['cuda', 'webgpu', 'cpu'], skipped: [] });
    assert.equal(asked, 0);
  });

  it('elsewhere, runs on the CPU and says the GPU providers were skipped', () => {
    const plan = autoProviderPlan('freebsd', gpu);
    assert.deepEqual(plan.order, ['cpu']);
    assert.match(plan.skipped.join(), /no GPU provider on freebsd/);
  });
});
