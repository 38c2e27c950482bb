// Bundles test/perf/*.perf.ts and runs them in the extension host (see test/e2e/run.ts).
import * as esbuild from 'esbuild';
import { runInHost, buildInHostTests } from '../e2e/run';
await esbuild.build({
  entryPoints: ['test/perf/hostGaps.perf.ts'],
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  outdir: 'out/test/perf',
  outExtension: { '.js': '.test.js' },
  external: ['vscode', 'mocha', 'onnxruntime-node'],
  logLevel: 'warning',
});
buildInHostTests();
const c = await runInHost({ testsDir: 'out/test/perf', build: false });
console.log(c);
