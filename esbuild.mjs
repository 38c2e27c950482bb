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
  // The start/end lines are what .vscode/tasks.json's background problem matcher waits for, so
  // F5 launches the Extension Development Host only after the first build has finished.
  // Both builds share one pair of lines: 'started' when the first begins, 'finished' when none is left.
  let running = 0;
  const announce = {
    name: 'watch-announce',
    setup(build) {
      build.onStart(() => {
        if (running++ === 0) console.log('[watch] build started');
      });
      build.onEnd((result) => {
        for (const e of result.errors) {
          const at = e.location ? `${e.location.file}:${e.location.line}:${e.location.column}: ` : '';
          console.error(`✘ [ERROR] ${at}${e.text}`);
        }
        if (--running === 0) console.log('[watch] build finished');
      });
    },
  };
  for (const b of builds) await (await esbuild.context({ ...b, plugins: [announce] })).watch();
} else {
  await Promise.all(builds.map((b) => esbuild.build(b)));
}
