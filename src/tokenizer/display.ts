// How a token's bytes are shown to a person: whitespace made visible, and bytes that are
// not whole UTF-8 on their own (half of an emoji, say) written as <xx> hex.

/** Length of the well-formed UTF-8 sequence at bytes[i], or 0 when there is none. */
export function utf8SequenceLength(bytes: Uint8Array, i: number): number {
  const b0 = bytes[i]!;
  if (b0 < 0x80) return 1;
  let len: number;
  let min: number;
  if (b0 >= 0xc2 && b0 <= 0xdf) {
    len = 2;
    min = 0x80;
  } else if (b0 >= 0xe0 && b0 <= 0xef) {
    len = 3;
    min = 0x800;
  } else if (b0 >= 0xf0 && b0 <= 0xf4) {
    len = 4;
    min = 0x10000;
  } else {
    return 0;
  }
  if (i + len > bytes.length) return 0;
  let cp = b0 & (0xff >> (len + 1));
  for (let k = 1; k < len; k++) {
    const b = bytes[i + k]!;
    if ((b & 0xc0) !== 0x80) return 0;
    cp = (cp << 6) | (b & 0x3f);
  }
  if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
  return len;
}

/** True when the bytes are not, on their own, well-formed UTF-8. */
export function isPartialUtf8(bytes: Uint8Array): boolean {
  for (let i = 0; i < bytes.length;) {
    const len = utf8SequenceLength(bytes, i);
    if (len === 0) return true;
    i += len;
  }
  return false;
}

const hex = (b: number): string => `<${b.toString(16).padStart(2, '0')}>`;

function visibleChar(cp: number): string {
  switch (cp) {
    case 0x20:
      return '·';
    case 0x0a:
      return '↵';
    case 0x09:
      return '→';
    case 0x0d:
      return '␍';
    default:
      // Other control characters would be invisible or move the cursor: show their byte.
      return cp < 0x20 || cp === 0x7f ? hex(cp) : String.fromCodePoint(cp);
  }
}

/** Display text for raw token bytes: · space, ↵ newline, → tab, ␍ carriage return, <xx> for other controls and partial UTF-8. */
export function displayBytes(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length;) {
    const len = utf8SequenceLength(bytes, i);
    if (len === 0) {
      s += hex(bytes[i]!);
      i += 1;
      continue;
    }
    let cp = len === 1 ? bytes[i]! : bytes[i]! & (0xff >> (len + 1));
    for (let k = 1; k < len; k++) cp = (cp << 6) | (bytes[i + k]! & 0x3f);
    s += visibleChar(cp);
    i += len;
  }
  return s;
}
