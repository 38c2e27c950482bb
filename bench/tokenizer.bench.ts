// Tokenizer benchmarks: throughput of tokenize-with-offsets against @dqbd/tiktoken (WASM) and
// gpt-tokenizer's plain encode on the same >= 2 MB of mixed prose and code; hover lookup and
// edit latency of DocumentTokenCache on a 5 MB document against re-tokenizing it with tiktoken.
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { get_encoding } from '@dqbd/tiktoken';
import { encode as gptTokenizerEncode } from 'gpt-tokenizer/encoding/r50k_base';
import { DocumentTokenCache, tokenize, tokenizePacked } from '../src/tokenizer';
import { seededRandom } from '../test/support/random';
import type { BenchRow } from './types';

const GROUP = 'tokenizer';
const MB = 1e6;

/**
 * Real prose (package READMEs) interleaved with real code (TypeScript's compiler) in 8 kB
 * blocks, from the installed node_modules, so every machine with this lockfile benches the
 * same text.
 */
function mixedCorpus(minBytes: number): string {
  const root = join(__dirname, '..', 'node_modules');
  const readmes: string[] = [];
  for (const name of readdirSync(root).sort()) {
    const dirs = name.startsWith('@')
      ? readdirSync(join(root, name))
          .sort()
          .map((n) => join(name, n))
      : [name];
    for (const d of dirs) {
      const f = join(root, d, 'README.md');
      if (existsSync(f)) readmes.push(readFileSync(f, 'utf8'));
    }
  }
  const prose = readmes.join('\n\n');
  const code = readFileSync(join(root, 'typescript', 'lib', 'typescript.js'), 'utf8');
  const BLOCK = 8192;
  let out = '';
  let p = 0;
  let c = 0;
  while (Buffer.byteLength(out, 'utf8') < minBytes) {
    for (let k = 0; k < 32; k++) {
      out += prose.slice(p, p + BLOCK) + code.slice(c, c + BLOCK);
      p = (p + BLOCK) % Math.max(1, prose.length - BLOCK);
      c = (c + BLOCK) % Math.max(1, code.length - BLOCK);
    }
  }
  // gpt-tokenizer's README quotes the special token; peers disagree on it (tiktoken's
  // encode_ordinary keeps it as text, gpt-tokenizer throws), so the corpus goes without.
  return out.split('<|endoftext|>').join('<|end of text|>');
}

/** Median seconds of fn over runs, after one warm-up run. */
function medianSeconds(fn: () => unknown, runs: number): number {
  fn();
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    fn();
    times.push((performance.now() - t0) / 1000);
  }
  return quantile(times, 0.5);
}

function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
}

export async function run(): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  const tk = get_encoding('gpt2');
  try {
    // --- throughput on >= 2 MB ---
    const text = mixedCorpus(2.2 * MB);
    const bytes = Buffer.byteLength(text, 'utf8');
    const label = `${(bytes / MB).toFixed(1)} MB prose+code`;
    const RUNS = 5;
    const tTiktoken = medianSeconds(() => tk.encode_ordinary(text), RUNS);
    const tPacked = medianSeconds(() => tokenizePacked(text), RUNS);
    const tSpans = medianSeconds(() => tokenize(text), RUNS);
    const tGptTok = medianSeconds(() => gptTokenizerEncode(text), RUNS);
    const tiktokenMBs = bytes / MB / tTiktoken;
    const peer = { name: '@dqbd/tiktoken gpt2 encode (ids only)', value: tiktokenMBs };
    const throughput = (name: string, seconds: number, note?: string): BenchRow => {
      const value = bytes / MB / seconds;
      return { group: GROUP, name, value, unit: 'MB/s', peer, speedup: value / tiktokenMBs, ...(note ? { note } : {}) };
    };
    const tokenCount = tokenizePacked(text).length;
    rows.push(throughput(`tokenize+offsets packed, ${label}`, tPacked, `${tokenCount} tokens, ids+UTF-16 spans as typed arrays`));
    rows.push(throughput(`tokenize+offsets TokenSpan[], ${label}`, tSpans, 'one {id,start,end} object per token'));
    rows.push(throughput(`gpt-tokenizer encode (ids only), ${label}`, tGptTok, 'reference point'));

    // --- 5 MB document: hover lookups and edits ---
    const doc = mixedCorpus(5 * MB);
    const docBytes = Buffer.byteLength(doc, 'utf8');
    const tFullTiktoken = medianSeconds(() => tk.encode_ordinary(doc), 3) * 1000; // ms
    const t0 = performance.now();
    const cache = new DocumentTokenCache(doc);
    const buildMs = performance.now() - t0;
    rows.push({
      group: GROUP,
      name: `DocumentTokenCache build, ${(docBytes / MB).toFixed(1)} MB`,
      value: buildMs,
      unit: 'ms',
      peer: { name: 'tiktoken encode of the document', value: tFullTiktoken },
      speedup: tFullTiktoken / buildMs,
      note: `${cache.count} tokens in ${cache.chunkCount} chunks`,
    });

    const rand = seededRandom(7);
    const lookups: number[] = [];
    let sink = 0;
    for (let i = 0; i < 20_000; i++) {
      const o = Math.floor(rand() * doc.length);
      const s = performance.now();
      const hit = cache.tokenAt(o);
      lookups.push((performance.now() - s) * 1000); // µs
      sink += hit?.index ?? 0;
    }
    const peerUs = { name: 'tiktoken encode of the document', value: tFullTiktoken * 1000 };
    for (const [q, tag] of [
      [0.5, 'p50'],
      [0.99, 'p99'],
    ] as const) {
      const v = quantile(lookups, q);
      rows.push({
        group: GROUP,
        name: `hover tokenAt ${tag}, 5 MB document`,
        value: v,
        unit: 'µs',
        peer: peerUs,
        speedup: peerUs.value / v,
        note: `20,000 random offsets (checksum ${sink % 1000})`,
      });
    }

    const edits: number[] = [];
    for (let i = 0; i < 200; i++) {
      const at = Math.floor(rand() * cache.text.length);
      const s = performance.now();
      if (i % 2 === 0) cache.applyChange({ rangeOffset: at, rangeLength: 0, text: 'x' });
      else cache.applyChange({ rangeOffset: at, rangeLength: 1, text: '' });
      edits.push(performance.now() - s);
    }
    const same = JSON.stringify(Array.from(cache.packed().ids)) === JSON.stringify(Array.from(tokenizePacked(cache.text).ids));
    const editPeer = { name: 'tiktoken encode of the document', value: tFullTiktoken };
    for (const [q, tag] of [
      [0.5, 'p50'],
      [0.99, 'p99'],
    ] as const) {
      const v = quantile(edits, q);
      rows.push({
        group: GROUP,
        name: `re-tokenize after 1-char edit ${tag}, 5 MB document`,
        value: v,
        unit: 'ms',
        peer: editPeer,
        speedup: editPeer.value / v,
        note: `200 seeded edits; cache ${same ? 'equals' : 'DIFFERS FROM'} full tokenize`,
      });
    }
  } finally {
    tk.free();
  }
  return rows;
}
