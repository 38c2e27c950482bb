// Byte-pair merging of one pre-tokenized piece, with tiktoken's semantics: repeatedly merge
// the adjacent pair whose concatenation has the lowest rank, the leftmost one on ties.
// A min-heap keeps this O(n log n), so a pathological piece (a 10 MB run of letters) still
// finishes; the simple rescan-every-pair loop that tiktoken and gpt-tokenizer use is O(n^2).
import { binaryKey, vocabTables } from './vocabData';

const NO_PAIR = -1;
/** Heap keys are rank * 2^32 + left byte index: lower rank first, then leftmost. */
const POS_SCALE = 2 ** 32;

class MinHeap {
  private keys: number[] = [];
  get size(): number {
    return this.keys.length;
  }
  push(key: number): void {
    const k = this.keys;
    let i = k.length;
    k.push(key);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (k[parent]! <= key) break;
      k[i] = k[parent]!;
      i = parent;
    }
    k[i] = key;
  }
  pop(): number {
    const k = this.keys;
    const top = k[0]!;
    const last = k.pop()!;
    const n = k.length;
    if (n > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= n) break;
        const r = l + 1;
        const c = r < n && k[r]! < k[l]! ? r : l;
        if (k[c]! >= last) break;
        k[i] = k[c]!;
        i = c;
      }
      k[i] = last;
    }
    return top;
  }
}

/** Token ids for the UTF-8 bytes of one piece. Every single byte is a GPT-2 token, so this never fails. */
export function bytePairEncode(piece: Uint8Array): number[] {
  const n = piece.length;
  if (n === 0) return [];
  const { idOfBinary } = vocabTables();
  const rankOf = (start: number, end: number): number => idOfBinary.get(binaryKey(piece, start, end)) ?? NO_PAIR;
  if (n === 1) return [rankOf(0, 1)];

  // Node i is the part starting at byte i; a merged-away node is marked dead.
  const end = new Int32Array(n); // [n] one past the part's last byte
  const next = new Int32Array(n); // [n] next live part's start, n when last
  const prev = new Int32Array(n); // [n] previous live part's start, -1 when first
  const pairRank = new Int32Array(n); // [n] rank of (part i + next part), NO_PAIR when none
  const dead = new Uint8Array(n); // [n]
  const heap = new MinHeap();
  for (let i = 0; i < n; i++) {
    end[i] = i + 1;
    next[i] = i + 1;
    prev[i] = i - 1;
  }
  for (let i = 0; i < n - 1; i++) {
    const r = rankOf(i, i + 2);
    pairRank[i] = r;
    if (r !== NO_PAIR) heap.push(r * POS_SCALE + i);
  }
  pairRank[n - 1] = NO_PAIR;

  const refresh = (i: number): void => {
    const j = next[i]!;
    const r = j < n ? rankOf(i, end[j]!) : NO_PAIR;
    pairRank[i] = r;
    if (r !== NO_PAIR) heap.push(r * POS_SCALE + i);
  };

  while (heap.size > 0) {
    const key = heap.pop();
    const rank = Math.floor(key / POS_SCALE);
    const i = key - rank * POS_SCALE;
    // Stale entries (the part changed since the push) no longer carry the part's current rank.
    // Ranks are unique per byte string, and a grown part makes a different string.
    if (dead[i] === 1 || pairRank[i] !== rank) continue;
    const j = next[i]!;
    end[i] = end[j]!;
    dead[j] = 1;
    const k = next[j]!;
    next[i] = k;
    if (k < n) prev[k] = i;
    refresh(i);
    if (prev[i]! >= 0) refresh(prev[i]!);
  }

  const out: number[] = [];
  for (let i = 0; i < n; i = next[i]!) out.push(rankOf(i, end[i]!));
  return out;
}
