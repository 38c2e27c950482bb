// Bundles the in-host tests: test/integration/index.ts (the mocha runner) and every
// test/integration/*.test.ts to out/test/integration/, CommonJS for the extension host.
// vscode, mocha and onnxruntime-node stay external (the host provides vscode; the other two
// resolve from node_modules).
import * as esbuild from 'esbuild';
import { readdirSync, rmSync } from 'node:fs';

const dir = 'test/integration';
const entries = readdirSync(dir)
  .filter((f) => f === 'index.ts' || f.endsWith('.test.ts'))
  .map((f) => `${dir}/${f}`);

rmSync('out/test/integration', { recursive: true, force: true });
await esbuild.build({
  entryPoints: entries,
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  outdir: 'out/test/integration',
  external: ['vscode', 'mocha', 'onnxruntime-node'],
  sourcemap: 'inline',
  logLevel: 'warning',
});
console.log(`built ${entries.length} in-host test module(s) to out/test/integration/`);
