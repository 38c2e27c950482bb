/**
 * Draws media/icon.png, the 128x128 gallery icon: a magnifying lens over three bars (next-token
 * probabilities) on a dark rounded square that matches the gallery banner colour (#1b2433).
 * Written as PNG bytes with node's zlib, 4x4 supersampled for smooth edges, so it needs no tools.
 *
 *   node --import tsx scripts/icon.ts
 */
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { crc32, deflateSync } from 'node:zlib';

type Rgba = [number, number, number, number];

const SIZE = 128;
const SAMPLES = 4;
const BACKGROUND: Rgba = [0x1b, 0x24, 0x33, 255];
const BARS: { x0: number; x1: number; top: number; colour: Rgba }[] = [
  { x0: 30, x1: 46, top: 52, colour: [0xf2, 0xa1, 0x3c, 255] },
  { x0: 52, x1: 68, top: 72, colour: [0x4f, 0xc3, 0xb8, 255] },
  { x0: 74, x1: 90, top: 86, colour: [0x4f, 0xc3, 0xb8, 255] },
];
const LENS = { cx: 62, cy: 62, r: 34, ring: 6 };
const WHITE: Rgba = [0xf4, 0xf6, 0xfa, 255];
const GLASS: Rgba = [0xff, 0xff, 0xff, 40];

/** The colour at one sub-pixel point, painting back to front. */
function colourAt(x: number, y: number): Rgba {
  // Rounded square with radius 22; outside it is transparent.
  const r = 22;
  const qx = Math.max(r - x, 0, x - (SIZE - r));
  const qy = Math.max(r - y, 0, y - (SIZE - r));
  if (qx * qx + qy * qy > r * r) return [0, 0, 0, 0];
  let c: Rgba = BACKGROUND;
  for (const bar of BARS) if (x >= bar.x0 && x < bar.x1 && y >= bar.top && y < 100) c = bar.colour;
  const d = Math.hypot(x - LENS.cx, y - LENS.cy);
  if (d < LENS.r - LENS.ring) c = blend(c, GLASS);
  else if (d < LENS.r) c = WHITE;
  // The handle: a thick segment from the ring towards the bottom right corner.
  const t = Math.min(Math.max((x - 86 + (y - 86)) / 2, 0), 22);
  if (Math.hypot(x - (86 + t), y - (86 + t)) < 6.5) c = WHITE;
  return c;
}

function blend(under: Rgba, over: Rgba): Rgba {
  const a = over[3] / 255;
  return [0, 1, 2].map((i) => Math.round(over[i] * a + under[i] * (1 - a))).concat(under[3]) as Rgba;
}

function pixels(): Buffer {
  // Each row starts with PNG filter byte 0 (none).
  const raw = Buffer.alloc(SIZE * (SIZE * 4 + 1));
  for (let y = 0; y < SIZE; y++) {
    for (let x = 0; x < SIZE; x++) {
      const sum = [0, 0, 0, 0];
      for (let sy = 0; sy < SAMPLES; sy++) {
        for (let sx = 0; sx < SAMPLES; sx++) {
          const c = colourAt(x + (sx + 0.5) / SAMPLES, y + (sy + 0.5) / SAMPLES);
          // Premultiply so transparent samples do not darken edges.
          for (let i = 0; i < 3; i++) sum[i] += (c[i] * c[3]) / 255;
          sum[3] += c[3];
        }
      }
      const n = SAMPLES * SAMPLES;
      const alpha = sum[3] / n;
      const at = y * (SIZE * 4 + 1) + 1 + x * 4;
      for (let i = 0; i < 3; i++) raw[at + i] = alpha > 0 ? Math.round((sum[i] / n / alpha) * 255) : 0;
      raw[at + 3] = Math.round(alpha);
    }
  }
  return raw;
}

function chunk(type: string, data: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([length, body, crc]);
}

function png(): Buffer {
  const header = Buffer.alloc(13);
  header.writeUInt32BE(SIZE, 0);
  header.writeUInt32BE(SIZE, 4);
  header[8] = 8; // bit depth
  header[9] = 6; // RGBA
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(pixels(), { level: 9 })),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

const out = join(dirname(fileURLToPath(import.meta.url)), '..', 'media', 'icon.png');
writeFileSync(out, png());
console.log(`wrote ${out}`);
