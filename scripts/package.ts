/**
 * `npm run package`: one .vsix per platform that onnxruntime-node ships a native binary for,
 * each holding only that platform's onnxruntime files.
 *
 *   node --import tsx scripts/package.ts [--target T] [--out-dir DIR]
 *
 * `npm run package` builds first (tsc + esbuild), then runs this script, which packages
 * every target into dist/model-lens-<target>.vsix (or just T with --target). For each target it
 * writes a temporary ignore file: the committed .vscodeignore with its one onnxruntime binary line
 * pointed at that target's folder, and passes it to vsce with --ignoreFile and --target, so the
 * Marketplace serves each platform its own package.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/**
 * The VS Code targets we package, with onnxruntime-node's binary folder for each
 * (node_modules/onnxruntime-node/bin/napi-v6/<os>/<arch>). darwin-x64 is absent on purpose:
 * onnxruntime-node 1.30 ships no darwin/x64 binary, so such a package could not run.
 */
export const PACKAGE_TARGETS = {
  'linux-x64': 'linux/x64',
  'linux-arm64': 'linux/arm64',
  'darwin-arm64': 'darwin/arm64',
  'win32-x64': 'win32/x64',
  'win32-arm64': 'win32/arm64',
} as const;

export type PackageTarget = keyof typeof PACKAGE_TARGETS;

export function isPackageTarget(name: string): name is PackageTarget {
  return Object.hasOwn(PACKAGE_TARGETS, name);
}

const BINARY_LINE = /^!node_modules\/onnxruntime-node\/bin\/napi-v6\/[^/\s]+\/[^/\s]+\/\*$/m;

/**
 * The ignore file for one target: `base` (the text of .vscodeignore) with its single
 * onnxruntime binary line pointed at the target's folder. Throws if .vscodeignore no longer has
 * exactly one such line, since the packages would then silently ship the wrong binaries.
 */
export function ignoreFileFor(target: PackageTarget, base: string): string {
  const lines = base.match(new RegExp(BINARY_LINE.source, 'gm')) ?? [];
  if (lines.length !== 1) {
    throw new Error(
      `.vscodeignore must have exactly one line like "!node_modules/onnxruntime-node/bin/napi-v6/<os>/<arch>/*"; found ${lines.length}`,
    );
  }
  return base.replace(BINARY_LINE, `!node_modules/onnxruntime-node/bin/napi-v6/${PACKAGE_TARGETS[target]}/*`);
}

export function vsixName(target: PackageTarget): string {
  return `model-lens-${target}.vsix`;
}

/**
 * Packages the already-built extension for one target into outDir; returns the .vsix path.
 * Needs dist/ and media/dist/ (run `npm run build` first).
 */
export async function packageTarget(target: PackageTarget, outDir: string): Promise<string> {
  const base = readFileSync(join(REPO_ROOT, '.vscodeignore'), 'utf8');
  const tempDir = mkdtempSync(join(tmpdir(), 'model-lens-package-'));
  const ignorePath = join(tempDir, `vscodeignore-${target}`);
  const outPath = resolve(outDir, vsixName(target));
  try {
    writeFileSync(ignorePath, ignoreFileFor(target, base));
    mkdirSync(outDir, { recursive: true });
    // No repository URL is known for this project yet, so vsce is told it may be missing.
    await promisify(execFile)(
      process.execPath,
      [
        vsceCli(),
        'package',
        '--target',
        target,
        '--ignoreFile',
        ignorePath,
        '--allow-missing-repository',
        '--no-rewrite-relative-links',
        '-o',
        outPath,
      ],
      { cwd: REPO_ROOT, maxBuffer: 16 * 1024 * 1024 },
    );
  } finally {
    rmSync(tempDir, { recursive: true, force: true });
  }
  return outPath;
}

/** The vsce command-line entry point in node_modules, or undefined when vsce is not installed. */
export function findVsceCli(): string | undefined {
  try {
    const path = join(REPO_ROOT, 'node_modules', '@vscode', 'vsce', 'vsce');
    statSync(path);
    return path;
  } catch {
    return undefined;
  }
}

function vsceCli(): string {
  const cli = findVsceCli();
  if (!cli) throw new Error('@vscode/vsce is not installed (run npm ci)');
  return cli;
}

function parseArgs(argv: string[]): { targets: PackageTarget[]; outDir: string } {
  let targets = Object.keys(PACKAGE_TARGETS) as PackageTarget[];
  let outDir = join(REPO_ROOT, 'dist');
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = argv[i + 1];
    if (arg === '--target' && value !== undefined) {
      if (!isPackageTarget(value)) {
        const known = Object.keys(PACKAGE_TARGETS).join(', ');
        const why = value === 'darwin-x64' ? ' (onnxruntime-node 1.30 ships no darwin/x64 binary)' : '';
        throw new Error(`Unknown target "${value}"${why}; choose one of ${known}`);
      }
      targets = [value];
      i++;
    } else if (arg === '--out-dir' && value !== undefined) {
      outDir = resolve(value);
      i++;
    } else {
      throw new Error(`Unknown argument "${arg}"; usage: package.ts [--target T] [--out-dir DIR]`);
    }
  }
  return { targets, outDir };
}

async function main(): Promise<void> {
  const { targets, outDir } = parseArgs(process.argv.slice(2));
  // One at a time: each vsce run lists the production dependencies and zips 20-40 MB.
  for (const target of targets) {
    const path = await packageTarget(target, outDir);
    const megabytes = (statSync(path).size / 1e6).toFixed(1);
    console.log(`${target}: ${path} (${megabytes} MB)`);
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : String(err));
    process.exit(1);
  });
}
