// The README capture's APNG writer (test/e2e/capture/apng.ts), checked against the APNG
// specification's chunk layout: acTL's frame count, fcTL before each frame with one sequence
// shared with fdAT, the first frame as IDAT and the rest as fdAT carrying each PNG's image data
// unchanged. (`npm run capture` also decodes its output with Chromium's decoder, frame by frame.)
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { deflateSync, inflateSync } from 'node:zlib';
import { assembleApng, mergeRepeats, pngChunk, readPngChunks } from '../e2e/capture/apng';

/** A true-colour 8-bit PNG of width × height filled with one colour, as a screenshot would be stored. */
function solidPng(width: number, height: number, rgb: [number, number, number]): Buffer {
  const row = Buffer.alloc(1 + 3 * width);
  for (let x = 0; x < width; x++) row.set(rgb, 1 + 3 * x); // filter byte 0 (none), then pixels
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 2, 0, 0, 0], 8); // bit depth 8, colour type 2 (RGB), deflate, no filter method, no interlace
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk('IHDR', ihdr),
    pngChunk('IDAT', deflateSync(Buffer.concat(Array.from({ length: height }, () => row)))),
    pngChunk('IEND', Buffer.alloc(0)),
  ]);
}

describe('assembleApng', () => {
  const red = solidPng(4, 3, [255, 0, 0]);
  const green = solidPng(4, 3, [0, 255, 0]);
  const blue = solidPng(4, 3, [0, 0, 255]);

  it('lays out acTL, fcTL/IDAT, fcTL/fdAT with one running sequence, merging repeated frames', () => {
    const apng = assembleApng([
      { png: red, delayMs: 100 },
      { png: green, delayMs: 90 },
      { png: green, delayMs: 1200 },
      { png: blue, delayMs: 50 },
    ]);
    const chunks = readPngChunks(apng);
    assert.deepEqual(
      chunks.map((c) => c.type),
      ['IHDR', 'acTL', 'fcTL', 'IDAT', 'fcTL', 'fdAT', 'fcTL', 'fdAT', 'IEND'],
    );
    const actl = chunks[1]!.data;
    assert.equal(actl.readUInt32BE(0), 3, 'three frames after merging the repeated green');
    assert.equal(actl.readUInt32BE(4), 0, 'plays forever');

    const sequence = chunks.filter((c) => c.type === 'fcTL' || c.type === 'fdAT').map((c) => c.data.readUInt32BE(0));
    assert.deepEqual(sequence, [0, 1, 2, 3, 4]);

    const fctls = chunks.filter((c) => c.type === 'fcTL').map((c) => c.data);
    assert.deepEqual(
      fctls.map((f) => [f.readUInt32BE(4), f.readUInt32BE(8), f.readUInt32BE(12), f.readUInt32BE(16)]),
      [
        [4, 3, 0, 0],
        [4, 3, 0, 0],
        [4, 3, 0, 0],
      ],
    );
    assert.deepEqual(
      fctls.map((f) => f.readUInt16BE(20) / f.readUInt16BE(22)),
      [0.1, 1.29, 0.05],
    );

    // Each frame's data inflates to that colour's scanlines.
    const frameData = [chunks[3]!.data, chunks[5]!.data.subarray(4), chunks[7]!.data.subarray(4)];
    const firstPixel = frameData.map((d) => [...inflateSync(d).subarray(1, 4)]);
    assert.deepEqual(firstPixel, [
      [255, 0, 0],
      [0, 255, 0],
      [0, 0, 255],
    ]);
  });

  it('mergeRepeats keeps the first PNG of each run and adds the delays', () => {
    assert.deepEqual(
      mergeRepeats([
        { png: red, delayMs: 1 },
        { png: red, delayMs: 2 },
        { png: blue, delayMs: 4 },
      ]).map((f) => f.delayMs),
      [3, 4],
    );
  });

  it('refuses frames of another size, naming the frame', () => {
    assert.throws(
      () =>
        assembleApng([
          { png: red, delayMs: 100 },
          { png: solidPng(5, 3, [0, 0, 0]), delayMs: 100 },
        ]),
      /frame 1 .*5×3/,
    );
  });

  it('refuses a file that is not a PNG, or whose chunk is damaged', () => {
    assert.throws(() => assembleApng([{ png: Buffer.from('GIF89a'), delayMs: 1 }]), /not a PNG/);
    const damaged = Buffer.from(red);
    damaged[damaged.length - 20] ^= 0xff;
    assert.throws(() => assembleApng([{ png: damaged, delayMs: 1 }]), /bad CRC|runs past/);
  });
});
