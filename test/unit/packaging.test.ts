/**
 * The per-platform packages (scripts/package.ts): each target is packaged once with the real vsce
 * into a temp folder (two at a time), then its zip central directory is read. Needs the build
 * (dist/, media/dist/; it fails saying so when they are missing) and is skipped, saying why, only
 * when vsce is not installed. Packaging all five takes about two minutes on two cores, the bulk of this file's time.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { PACKAGE_TARGETS, REPO_ROOT, findVsceCli, ignoreFileFor, packageTarget, vsixName, type PackageTarget } from '../../scripts/package';
import { zipEntries, zipEntryText, type ZipEntry } from './helpers/zipEntries';

/**
 * Size budget per package in bytes, about 15% above the sizes measured with onnxruntime-node
 * 1.30.0 (20.1, 12.6, 28.3, 31.0 and 32.2 MB; README lists them), so an accidental extra binary or source tree fails here.
 */
const SIZE_BUDGET: Record<PackageTarget, number> = {
  'linux-x64': 23e6,
  'linux-arm64': 14.5e6,
  'darwin-arm64': 32.5e6,
  'win32-x64': 35.5e6,
  'win32-arm64': 37e6,
};

/** Files each platform's onnxruntime-node needs at run time, from its napi-v6 folder. */
const RUNTIME_FILES: Record<PackageTarget, string[]> = {
  'linux-x64': ['onnxruntime_binding.node', 'libonnxruntime.so.1'],
  'linux-arm64': ['onnxruntime_binding.node', 'libonnxruntime.so.1'],
  'darwin-arm64': ['onnxruntime_binding.node', 'libonnxruntime.1.dylib'],
  'win32-x64': ['onnxruntime_binding.node', 'onnxruntime.dll', 'DirectML.dll'],
  'win32-arm64': ['onnxruntime_binding.node', 'onnxruntime.dll', 'DirectML.dll'],
};

const TARGETS = Object.keys(PACKAGE_TARGETS) as PackageTarget[];
const NAPI = 'extension/node_modules/onnxruntime-node/bin/napi-v6/';

function skipReason(): string | false {
  return findVsceCli() ? false : '@vscode/vsce is not installed (npm ci installs it)';
}

describe('ignoreFileFor', () => {
  it('points the one napi-v6 line at the target and leaves the rest as it was', () => {
    const base = '**\n!package.json\n!node_modules/onnxruntime-node/bin/napi-v6/linux/x64/*\n!media/dist/*.js\n';
    const ignore = ignoreFileFor('win32-arm64', base);
    assert.equal(ignore, '**\n!package.json\n!node_modules/onnxruntime-node/bin/napi-v6/win32/arm64/*\n!media/dist/*.js\n');
  });

  it('refuses an ignore file without exactly one napi-v6 line', () => {
    assert.throws(() => ignoreFileFor('linux-x64', '**\n!package.json\n'), /exactly one line.*found 0/);
    const twice = '!node_modules/onnxruntime-node/bin/napi-v6/linux/x64/*\n!node_modules/onnxruntime-node/bin/napi-v6/win32/x64/*\n';
    assert.throws(() => ignoreFileFor('linux-x64', twice), /found 2/);
  });
});

describe('per-platform packages', { skip: skipReason() }, () => {
  let outDir = '';
  const entriesByTarget = new Map<PackageTarget, ZipEntry[]>();

  before(async () => {
    for (const built of ['dist/extension.js', 'dist/engineWorker.js', 'dist/cli.js', 'media/dist/tokens.js']) {
      if (!existsSync(join(REPO_ROOT, built))) throw new Error(`${built} is missing: run npm run build before this test`);
    }
    outDir = mkdtempSync(join(tmpdir(), 'model-lens-packaging-test-'));
    // Two vsce runs at a time: CI has two cores, and each run is mostly one process.
    const queue = [...TARGETS];
    const worker = async (): Promise<void> => {
      for (let target = queue.shift(); target; target = queue.shift()) {
        const path = await packageTarget(target, outDir);
        entriesByTarget.set(target, zipEntries(path));
      }
    };
    await Promise.all([worker(), worker()]);
  });

  after(() => {
    if (outDir) rmSync(outDir, { recursive: true, force: true });
  });

  for (const target of TARGETS) {
    describe(target, () => {
      const names = (): string[] => entriesByTarget.get(target)?.map((e) => e.name) ?? [];

      it('declares its target platform in the manifest', () => {
        const manifest = zipEntryText(join(outDir, vsixName(target)), 'extension.vsixmanifest');
        assert.match(manifest, new RegExp(`TargetPlatform="${target}"`));
      });

      it("holds its platform's onnxruntime binaries and nothing from other platforms", () => {
        const own = NAPI + PACKAGE_TARGETS[target] + '/';
        for (const file of RUNTIME_FILES[target]) assert.ok(names().includes(own + file), `${own + file} is missing`);
        const foreign = names().filter((n) => n.startsWith(NAPI) && !n.startsWith(own));
        assert.deepEqual(foreign, []);
      });

      it('holds the bundles, the webview bundles, the icon and the changelog', () => {
        for (const file of ['dist/extension.js', 'dist/engineWorker.js', 'dist/cli.js', 'package.json', 'changelog.md']) {
          assert.ok(names().includes('extension/' + file), `extension/${file} is missing`);
        }
        const webviewBundles = names().filter((n) => /^extension\/media\/dist\/[^/]+\.js$/.test(n));
        assert.ok(webviewBundles.length >= 3, `only ${webviewBundles.length} webview bundles: ${webviewBundles.join(', ')}`);
        assert.ok(names().includes('extension/media/icon.png'), 'extension/media/icon.png (the gallery icon) is missing');
      });

      it('holds no sources, tests, test tools or source maps', () => {
        const unwanted = names().filter(
          (n) =>
            /^extension\/(src|test|kernels|webview|bench|scripts|samples|\.e2e-tools|\.ci)\//.test(n) ||
            /\.(ts|map)$/.test(n) ||
            n.includes('/.e2e-tools/') ||
            /^extension\/node_modules\/(?!onnxruntime-node\/|onnxruntime-common\/)/.test(n),
        );
        assert.deepEqual(unwanted, []);
      });

      it(`stays within its size budget (${SIZE_BUDGET[target] / 1e6} MB)`, () => {
        const size = statSync(join(outDir, vsixName(target))).size;
        assert.ok(size <= SIZE_BUDGET[target], `${vsixName(target)} is ${size} bytes, over ${SIZE_BUDGET[target]}`);
      });
    });
  }
});
