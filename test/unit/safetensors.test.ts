// safetensors reader/writer: round trips per dtype, exact half-precision rounding on known
// values, and every kind of broken file giving an error that names the problem.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readSafetensors } from '../../src/engine/safetensors/read';
import { writeSafetensors } from '../../src/engine/safetensors/write';
import { bf16BitsToNumber, f16BitsToNumber, numberToBf16Bits, numberToF16Bits } from '../../src/engine/safetensors/dtypes';

async function withTmp(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'ml-st-'));
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Builds a file by hand: [u64 header length][header][data], so tests can lie in any part. */
async function craft(path: string, header: unknown, data: Uint8Array, headerLenOverride?: bigint): Promise<void> {
  const json = Buffer.from(typeof header === 'string' ? header : JSON.stringify(header), 'utf8');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(headerLenOverride ?? BigInt(json.length));
  await fs.writeFile(path, Buffer.concat([len, json, data]));
}

test('F32 round trip keeps values, dims, order and metadata', async () => {
  await withTmp(async (dir) => {
    const p = join(dir, 'a.safetensors');
    const a = new Float32Array([1.5, -2.25, 3e-8, 1e30, 0, -0]);
    const b = new Float32Array([7]);
    await writeSafetensors(
      p,
      [
        { name: 'x.weight', dims: [2, 3], dtype: 'F32', data: a },
        { name: 'scalar', dims: [], dtype: 'F32', data: () => b },
      ],
      { format: 'pt' },
    );
    const f = await readSafetensors(p);
    assert.deepEqual(f.names(), ['x.weight', 'scalar']);
    assert.deepEqual(f.metadata, { format: 'pt' });
    const t = await f.getTensor('x.weight');
    assert.deepEqual(t.dims, [2, 3]);
    assert.deepEqual([...t.data], [...a]);
    assert.deepEqual([...(await f.getTensorF32('scalar'))], [7]);
    // The data section starts 8-byte aligned.
    const raw = await fs.readFile(p);
    assert.equal(Number(raw.readBigUInt64LE(0)) % 8, 0);
  });
});

test('F16 encoding is exact on known values (round to nearest even, subnormals, overflow)', () => {
  const cases: [number, number][] = [
    [1, 0x3c00],
    [-2, 0xc000],
    [0.1, 0x2e66],
    [1 / 3, 0x3555],
    [65504, 0x7bff],
    [65520, 0x7c00], // halfway to the next binade rounds to even = infinity
    [2 ** -14, 0x0400], // smallest normal
    [2 ** -24, 0x0001], // smallest subnormal
    [2 ** -25, 0x0000], // exactly half the smallest subnormal: ties to even (zero)
    [1.5 * 2 ** -25, 0x0001],
    [1 + 2 ** -11, 0x3c00], // tie between 1 and 1+2^-10: even is 1
    [1 + 3 * 2 ** -11, 0x3c02], // tie: even is 1+2^-9
    [-0, 0x8000],
    [Infinity, 0x7c00],
  ];
  for (const [v, bits] of cases) {
    assert.equal(numberToF16Bits(v), bits, `f16(${v})`);
  }
  assert.equal(f16BitsToNumber(0x2e66), 0.0999755859375);
  assert.equal(f16BitsToNumber(0x0001), 2 ** -24);
  assert.equal(f16BitsToNumber(0xfc00), -Infinity);
  assert.ok(Number.isNaN(f16BitsToNumber(numberToF16Bits(NaN))));
  // Every finite half survives half -> number -> half.
  for (let h = 0; h < 0x10000; h++) {
    if ((h & 0x7c00) === 0x7c00) continue;
    assert.equal(numberToF16Bits(f16BitsToNumber(h)), h);
  }
});

test('BF16 encoding is exact on known values', () => {
  const cases: [number, number][] = [
    [1, 0x3f80],
    [3, 0x4040],
    [0.1, 0x3dcd],
    [1 / 3, 0x3eab],
    [1 + 2 ** -8, 0x3f80], // tie: even
    [1 + 3 * 2 ** -8, 0x3f82], // tie: even
    [-1.5, 0xbfc0],
    [Infinity, 0x7f80],
  ];
  for (const [v, bits] of cases) assert.equal(numberToBf16Bits(v), bits, `bf16(${v})`);
  assert.equal(bf16BitsToNumber(0x3dcd), 0.10009765625);
  assert.ok(Number.isNaN(bf16BitsToNumber(numberToBf16Bits(NaN))));
});

for (const dtype of ['F16', 'BF16'] as const) {
  test(`${dtype} round trip: stored bits are the rounded values and read back widened`, async () => {
    await withTmp(async (dir) => {
      const p = join(dir, 'h.safetensors');
      const values = new Float32Array([1, 0.1, 1 / 3, -2.5, 1000.3, 2 ** -20]);
      await writeSafetensors(p, [{ name: 'w', dims: [6], dtype, data: values }]);
      const f = await readSafetensors(p);
      assert.equal(f.tensors.get('w')!.dtype, dtype);
      const back = await f.getTensorF32('w');
      const enc = dtype === 'F16' ? numberToF16Bits : numberToBf16Bits;
      const dec = dtype === 'F16' ? f16BitsToNumber : bf16BitsToNumber;
      const raw = await fs.readFile(p);
      const dataStart = 8 + Number(raw.readBigUInt64LE(0));
      for (let i = 0; i < values.length; i++) {
        assert.equal(raw.readUInt16LE(dataStart + 2 * i), enc(values[i]!));
        assert.equal(back[i], dec(enc(values[i]!)));
        assert.ok(Math.abs(back[i]! - values[i]!) <= Math.abs(values[i]!) * (dtype === 'F16' ? 2 ** -11 : 2 ** -8) + 1e-7);
      }
    });
  });
}

test('write is atomic: a failing write leaves the old file and no temporary file', async () => {
  await withTmp(async (dir) => {
    const p = join(dir, 'a.safetensors');
    await writeSafetensors(p, [{ name: 'w', dims: [1], dtype: 'F32', data: new Float32Array([1]) }]);
    await assert.rejects(
      writeSafetensors(p, [{ name: 'w', dims: [3], dtype: 'F32', data: () => new Float32Array(2) }]),
      /"w" has 2 values but dims \[3\] need 3/,
    );
    assert.deepEqual(await fs.readdir(dir), ['a.safetensors']);
    assert.deepEqual([...(await (await readSafetensors(p)).getTensorF32('w'))], [1]);
  });
});

// Broken files: each must fail with a message naming the problem.
const okHeader = { w: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } };
const eightBytes = new Uint8Array(8);
const badCases: { label: string; make: (p: string) => Promise<void>; error: RegExp }[] = [
  { label: 'missing file', make: async () => {}, error: /file not found/ },
  { label: 'file shorter than 8 bytes', make: (p) => fs.writeFile(p, Buffer.from([1, 2, 3])), error: /too small/ },
  {
    label: 'header length larger than the file',
    make: (p) => craft(p, okHeader, eightBytes, 5000n),
    error: /header length 5000 runs past the end of the file/,
  },
  {
    label: 'huge header length',
    make: (p) => craft(p, okHeader, eightBytes, 1n << 60n),
    error: /implausibly large/,
  },
  { label: 'invalid JSON', make: (p) => craft(p, '{"w": {', eightBytes), error: /not valid JSON/ },
  { label: 'header not an object', make: (p) => craft(p, '[1,2]', eightBytes), error: /not a JSON object/ },
  {
    label: 'truncated data',
    make: (p) => craft(p, { w: { dtype: 'F32', shape: [4], data_offsets: [0, 16] } }, eightBytes),
    error: /tensor "w": data_offsets \[0, 16\] reach past the end of the data section \(8 bytes; truncated\?\)/,
  },
  {
    label: 'span outside the file',
    make: (p) => craft(p, { w: { dtype: 'F32', shape: [2], data_offsets: [400, 408] } }, eightBytes),
    error: /tensor "w": data_offsets \[400, 408\] reach past the end/,
  },
  {
    label: 'shape x dtype size not matching the span',
    make: (p) => craft(p, { w: { dtype: 'F16', shape: [2], data_offsets: [0, 8] } }, eightBytes),
    error: /tensor "w": shape \[2\] of F16 needs 4 bytes but data_offsets \[0, 8\] span 8/,
  },
  {
    label: 'overlapping spans',
    make: (p) =>
      craft(
        p,
        {
          a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] },
          b: { dtype: 'F32', shape: [1], data_offsets: [4, 8] },
        },
        eightBytes,
      ),
    error: /tensors "a" \[0, 8\] and "b" \[4, 8\] overlap/,
  },
  {
    label: 'unknown dtype',
    make: (p) => craft(p, { w: { dtype: 'Q4_K', shape: [8], data_offsets: [0, 8] } }, eightBytes),
    error: /tensor "w": unsupported dtype "Q4_K"/,
  },
  {
    label: 'negative dimension',
    make: (p) => craft(p, { w: { dtype: 'F32', shape: [-2], data_offsets: [0, 8] } }, eightBytes),
    error: /tensor "w": shape \[-2\] is not a list of non-negative integers/,
  },
  {
    label: 'hole between tensors',
    make: (p) =>
      craft(p, { a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] }, b: { dtype: 'U8', shape: [2], data_offsets: [6, 8] } }, eightBytes),
    error: /tensor "b" starts at byte 6 but the previous data ends at 4/,
  },
  {
    label: 'trailing bytes',
    make: (p) => craft(p, okHeader, new Uint8Array(12)),
    error: /4 bytes after the last tensor's data/,
  },
];

for (const c of badCases) {
  test(`bad file: ${c.label}`, async () => {
    await withTmp(async (dir) => {
      const p = join(dir, 'bad.safetensors');
      await c.make(p);
      await assert.rejects(readSafetensors(p), (err: Error) => {
        assert.match(err.message, c.error);
        assert.ok(err.message.includes(p), 'the message names the file');
        return true;
      });
    });
  });
}

test('reading a tensor that is not there or is not a float names it', async () => {
  await withTmp(async (dir) => {
    const p = join(dir, 'a.safetensors');
    await craft(
      p,
      { w: { dtype: 'F32', shape: [1], data_offsets: [0, 4] }, m: { dtype: 'BOOL', shape: [4], data_offsets: [4, 8] } },
      eightBytes,
    );
    const f = await readSafetensors(p);
    await assert.rejects(f.getTensorF32('nope'), /no tensor named "nope"/);
    await assert.rejects(f.getTensorF32('m'), /tensor "m": unsupported dtype "BOOL" for float weights/);
  });
});

test('a file truncated after its header was read is reported, not misread', async () => {
  await withTmp(async (dir) => {
    const p = join(dir, 'a.safetensors');
    await writeSafetensors(p, [{ name: 'w', dims: [4], dtype: 'F32', data: new Float32Array([1, 2, 3, 4]) }]);
    const f = await readSafetensors(p);
    const size = (await fs.stat(p)).size;
    await fs.truncate(p, size - 4);
    await assert.rejects(f.getTensorF32('w'), /changed size/);
  });
});
