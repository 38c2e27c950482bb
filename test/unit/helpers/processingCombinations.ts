// Every combination of TransformerLens's four processing switches, for the tests that check each
// one (processingSwitches, tiedUnembed).
import { PROCESSING_SWITCHES, type ProcessingOptions } from '../../../src/engine/types';

/** All 16 combinations, fold_ln varying slowest. */
export const COMBINATIONS: ProcessingOptions[] = Array.from({ length: 16 }, (_, i) => ({
  fold_ln: (i & 8) !== 0,
  center_writing_weights: (i & 4) !== 0,
  center_unembed: (i & 2) !== 0,
  fold_value_biases: (i & 1) !== 0,
}));

/** A combination as a test name shows it: `fold_ln=1 center_writing_weights=0 …`. */
export const short = (p: ProcessingOptions): string => PROCESSING_SWITCHES.map((k) => `${k}=${p[k] ? 1 : 0}`).join(' ');
