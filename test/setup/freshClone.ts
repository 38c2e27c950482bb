/**
 * The newcomer's first command, checked the way a newcomer meets it: a clean clone of the
 * committed tree (no node_modules, no build, no VS Code tools) runs `bash scripts/start.sh --smoke`,
 * which has to install what it needs, build, start VS Code in the browser with Model Lens and see
 * the workbench list the samples. One test: it passes when the script exits 0 and printed its
 * smoke line. npm's cache makes the install cheaper on a machine that already ran `npm ci`, but
 * nothing from this checkout's node_modules or .e2e-tools is reused.
 */
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface FreshCloneResult {
  readonly ok: boolean;
  readonly detail: string;
}

export async function freshCloneSmoke(repoRoot: string): Promise<FreshCloneResult> {
  const dir = mkdtempSync(join(tmpdir(), 'model-lens-fresh-'));
  const clone = join(dir, 'repo');
  try {
    execFileSync('git', ['clone', '--quiet', repoRoot, clone], { stdio: 'inherit' });
    let output = '';
    const code = await new Promise<number>((resolve) => {
      const child = spawn('bash', ['scripts/start.sh', '--smoke'], { cwd: clone, stdio: ['ignore', 'pipe', 'pipe'] });
      const keep = (chunk: Buffer) => {
        const text = chunk.toString();
        process.stdout.write(text);
        output = (output + text).slice(-20000);
      };
      child.stdout.on('data', keep);
      child.stderr.on('data', keep);
      child.on('exit', (c, sig) => resolve(c ?? (sig ? 1 : 0)));
    });
    const smokeLine = /^smoke: .*workbench loaded.*explorer shows .*hello\.txt/m.exec(output);
    if (code === 0 && smokeLine) return { ok: true, detail: smokeLine[0] };
    return { ok: false, detail: `scripts/start.sh --smoke exited ${code}${smokeLine ? '' : ' without its smoke line'}` };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
