/**
 * An animated PNG (APNG) from PNG screenshots, without decoding a pixel: every frame of an APNG
 * is stored exactly as a PNG's image data (the same filtered, deflated scanlines), so frames whose
 * IHDR matches the first one's are copied in as they are: the first as IDAT, the rest as fdAT
 * (the same bytes behind a sequence number). Browsers, GitHub and VS Code's extension page play
 * APNG; anything else shows the first frame. Used by the README capture (inlineLogits.ts).
 */
import { crc32 } from 'node:zlib';

const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

export interface PngChunk {
  readonly type: string;
  readonly data: Buffer;
}

/** The chunks of a PNG file, CRCs checked. */
export function readPngChunks(png: Buffer): PngChunk[] {
  if (png.length < SIGNATURE.length || !png.subarray(0, SIGNATURE.length).equals(SIGNATURE)) throw new Error('not a PNG file');
  const chunks: PngChunk[] = [];
  let at = SIGNATURE.length;
  while (at < png.length) {
    if (at + 12 > png.length) throw new Error(`PNG ends inside a chunk header at byte ${at}`);
    const length = png.readUInt32BE(at);
    const type = png.toString('latin1', at + 4, at + 8);
    const end = at + 12 + length;
    if (end > png.length) throw new Error(`PNG chunk ${type} at byte ${at} runs past the end of the file`);
    const body = png.subarray(at + 4, at + 8 + length);
    if (crc32(body) !== png.readUInt32BE(at + 8 + length)) throw new Error(`PNG chunk ${type} at byte ${at} has a bad CRC`);
    chunks.push({ type, data: png.subarray(at + 8, at + 8 + length) });
    at = end;
  }
  return chunks;
}

export function pngChunk(type: string, data: Buffer): Buffer {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, 'latin1');
  data.copy(out, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
}

export interface ApngFrame {
  /** A whole PNG file (a screenshot). */
  readonly png: Buffer;
  /** How long the frame shows. */
  readonly delayMs: number;
}

function uint32(...values: number[]): Buffer {
  const b = Buffer.alloc(4 * values.length);
  values.forEach((v, i) => b.writeUInt32BE(v, 4 * i));
  return b;
}

/** The image data of a PNG: its IDAT chunks' bytes, joined (one zlib stream). */
function imageData(chunks: readonly PngChunk[]): Buffer {
  return Buffer.concat(chunks.filter((c) => c.type === 'IDAT').map((c) => c.data));
}

/** `frames` with each run of identical images (the same image data) merged into one, delays added. */
export function mergeRepeats(frames: readonly ApngFrame[]): ApngFrame[] {
  const out: { png: Buffer; data: Buffer; delayMs: number }[] = [];
  for (const f of frames) {
    const data = imageData(readPngChunks(f.png));
    const last = out[out.length - 1];
    if (last?.data.equals(data)) last.delayMs += f.delayMs;
    else out.push({ png: f.png, data, delayMs: f.delayMs });
  }
  return out.map(({ png, delayMs }) => ({ png, delayMs }));
}

/**
 * One APNG that plays `frames` in order, forever. Consecutive frames with the same image are
 * merged (mergeRepeats), so a pause costs no bytes. Every frame must have the first one's IHDR
 * (size, bit depth, colour type), and none may have a palette: the error names the frame.
 */
export function assembleApng(frames: readonly ApngFrame[]): Buffer {
  if (frames.length === 0) throw new Error('an animation needs at least one frame');
  const merged: { data: Buffer; delayMs: number }[] = [];
  let ihdr: Buffer | undefined;
  mergeRepeats(frames).forEach((f, i) => {
    const chunks = readPngChunks(f.png);
    const header = chunks[0]?.type === 'IHDR' ? chunks[0].data : undefined;
    if (!header) throw new Error(`frame ${i} (after merging repeats) has no IHDR`);
    if (chunks.some((c) => c.type === 'PLTE'))
      throw new Error(`frame ${i} (after merging repeats) has a palette; only true-colour screenshots are supported`);
    if (ihdr === undefined) ihdr = header;
    else if (!header.equals(ihdr)) {
      throw new Error(
        `frame ${i} (after merging repeats) is ${header.readUInt32BE(0)}×${header.readUInt32BE(4)} or another format, unlike frame 0`,
      );
    }
    merged.push({ data: imageData(chunks), delayMs: f.delayMs });
  });
  const width = ihdr!.readUInt32BE(0);
  const height = ihdr!.readUInt32BE(4);
  const parts: Buffer[] = [SIGNATURE, pngChunk('IHDR', ihdr!), pngChunk('acTL', uint32(merged.length, 0))];
  let sequence = 0;
  merged.forEach((f, i) => {
    const fctl = Buffer.alloc(26);
    fctl.writeUInt32BE(sequence++, 0);
    fctl.writeUInt32BE(width, 4);
    fctl.writeUInt32BE(height, 8);
    // x and y offsets 0 (bytes 12-19); the delay as a fraction of a second, in milliseconds.
    fctl.writeUInt16BE(Math.min(65535, Math.max(1, Math.round(f.delayMs))), 20);
    fctl.writeUInt16BE(1000, 22);
    // dispose_op 0 (none) and blend_op 0 (source): each frame replaces the whole canvas.
    parts.push(pngChunk('fcTL', fctl));
    if (i === 0) parts.push(pngChunk('IDAT', f.data));
    else parts.push(pngChunk('fdAT', Buffer.concat([uint32(sequence++), f.data])));
  });
  parts.push(pngChunk('IEND', Buffer.alloc(0)));
  return Buffer.concat(parts);
}
