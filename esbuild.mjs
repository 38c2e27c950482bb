// Bundles the extension host, the CLI, the engine worker and one browser bundle per webview.
// Type-checking is tsc's job (npm run build runs it first); esbuild only bundles.
import * as esbuild from 'esbuild';
import { readdirSync, existsSync } from 'node:fs';

const watch = process.argv.includes('--watch');
const production = process.env.NODE_ENV === 'production';

/** Node bundles: the native onnxruntime addon and vscode stay external. */
const nodeEntries = {
  extension: 'src/extension.ts',
  cli: 'src/cli/main.ts',
  engineWorker: 'src/engine/worker/engineWorker.ts',
};
const nodeBuild = {
  entryPoints: Object.fromEntries(Object.entries(nodeEntries).filter(([, f]) => existsSync(f))),
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  outdir: 'dist',
  external: ['vscode', 'onnxruntime-node'],
  sourcemap: production ? false : 'linked',
  logLevel: 'warning',
};

/** One browser bundle per folder in webview/ that has a main.ts. */
const webviewEntries = Object.fromEntries(
  readdirSync('webview', { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(`webview/${d.name}/main.ts`))
    .map((d) => [d.name, `webview/${d.name}/main.ts`]),
);
const webviewBuild = {
  entryPoints: webviewEntries,
  bundle: true,
  platform: 'browser',
  target: 'es2022',
  format: 'iife',
  outdir: 'media/dist',
  sourcemap: false,
  logLevel: 'warning',
};

const builds = [nodeBuild, webviewBuild].filter((b) => Object.keys(b.entryPoints).length > 0);
if (watch) {
  for (const b of builds) await (await esbuild.context(b)).watch();
} else {
  await Promise.all(builds.map((b) => esbuild.build(b)));
}
