// Runs every bench/*.bench.ts (or those named on the command line), prints one table and
// one machine-readable JSON line. Timings are reported, never asserted.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { BenchModule, BenchRow } from './types';

function formatNumber(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  const abs = Math.abs(n);
  return abs >= 100 ? n.toFixed(0) : abs >= 10 ? n.toFixed(1) : n.toFixed(2);
}

function printTable(rows: readonly BenchRow[]): void {
  const header = ['group', 'benchmark', 'ours', 'peer', 'peer value', 'speedup', 'note'];
  const lines = rows.map((r) => [
    r.group,
    r.name,
    `${formatNumber(r.value)} ${r.unit}`,
    r.peer?.name ?? '',
    r.peer ? `${formatNumber(r.peer.value)} ${r.unit}` : '',
    r.speedup === undefined ? '' : `${r.speedup.toFixed(2)}x`,
    r.note ?? '',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const fmt = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ');
  console.log(fmt(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('-|-'));
  for (const l of lines) console.log(fmt(l));
}

async function main(): Promise<void> {
  const only = process.argv.slice(2);
  const files = readdirSync(__dirname)
    .filter((f) => f.endsWith('.bench.ts'))
    .filter((f) => only.length === 0 || only.some((o) => f.startsWith(o)))
    .sort();
  const rows: BenchRow[] = [];
  for (const file of files) {
    const mod = (await import(join(__dirname, file))) as BenchModule;
    console.error(`[bench] ${file} ...`);
    rows.push(...(await mod.run()));
  }
  printTable(rows);
  console.log(`BENCH_JSON ${JSON.stringify({ date: new Date().toISOString(), rows })}`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
