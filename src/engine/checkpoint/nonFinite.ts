// NaN and ±Inf counts of loaded weights. The loader reports them per tensor (and loads anyway, as
// TransformerLens does). Counting is a pass over every weight, and JavaScript's loops, not memory,
// set its pace (about 2 ns an element here, 0.25 s for gpt2-small's shape), so processing's passes,
// which read every weight of a block before writing it, count as they go (NonFiniteScan): their
// float64 sums are finite exactly when what they summed is (a float32 product or sum cannot
// overflow a float64), and only a slice whose sum is not is counted element by element.

/** A tensor's NaN and ±Inf counts. */
export interface NonFiniteCount {
  readonly nan: number;
  readonly inf: number;
}

/**
 * Counts recorded by processing (ProcessWeightsMode.scan) for the input arrays it read in full, as
 * they were before it wrote them; keyed by the array it was given.
 */
export type NonFiniteScan = Map<Float32Array, NonFiniteCount>;

/** A running count over slices of one tensor. */
export class NonFiniteTally implements NonFiniteCount {
  nan = 0;
  inf = 0;

  /** Counts data[begin, end) element by element (for a slice known to hold some). */
  add(data: Float32Array, begin: number, end: number): void {
    for (let i = begin; i < end; i++) {
      const v = data[i]!;
      // v - v is 0 for every finite v, NaN for NaN and ±Inf: one test on the common path.
      if (v - v !== 0) {
        if (v !== v) this.nan++;
        else this.inf++;
      }
    }
  }
}

/** NaN and ±Inf counts of one tensor; no allocation when there are none. */
export function countNonFinite(data: Float32Array): NonFiniteCount {
  // The common case first: a float64 sum of float32 values cannot overflow, so a finite sum means
  // no NaN or Inf. Four running sums keep the loop free of one long dependency chain (about twice
  // as fast as the test-per-element loop, which then runs only on a tensor that has them).
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  const n4 = data.length & ~3;
  for (let i = 0; i < n4; i += 4) {
    s0 += data[i]!;
    s1 += data[i + 1]!;
    s2 += data[i + 2]!;
    s3 += data[i + 3]!;
  }
  for (let i = n4; i < data.length; i++) s0 += data[i]!;
  if (Number.isFinite(s0 + s1 + s2 + s3)) return NONE;
  const tally = new NonFiniteTally();
  tally.add(data, 0, data.length);
  return { nan: tally.nan, inf: tally.inf };
}

const NONE: NonFiniteCount = Object.freeze({ nan: 0, inf: 0 });
