// How the model is built, as command-line flags shared by `run` and `info`: `--tl-version`, and the
// from_pretrained switches: one pair per
// switch (`--fold-ln` / `--no-fold-ln`, …) and `--no-processing` for from_pretrained_no_processing.
// No onnxruntime import, so `info` stays free of the native addon.
import {
  DEFAULT_PROCESSING,
  NO_PROCESSING,
  PROCESSING_SWITCHES,
  type ProcessingOptions,
  type TransformerLensVersion,
} from '../engine/types';
import { UsageError } from './command';

/** `--fold-ln` for fold_ln, and so on: TransformerLens's argument with dashes. */
const flagOf = (k: keyof ProcessingOptions): string => k.replace(/_/g, '-');

/** --fold-ln / --no-fold-ln and the like, one pair per from_pretrained switch. */
export const SWITCH_OPTIONS: Record<string, { type: 'boolean' }> = Object.fromEntries(
  PROCESSING_SWITCHES.flatMap((k) => [
    [flagOf(k), { type: 'boolean' }],
    [`no-${flagOf(k)}`, { type: 'boolean' }],
  ]),
);

/**
 * The four switches from the flags: TransformerLens's defaults, each overridden by its own
 * flag; --no-processing is from_pretrained_no_processing, so a flag turning a switch on
 * contradicts it, as does a switch given both ways.
 */
export function processingFromFlags(values: Readonly<Record<string, unknown>>): ProcessingOptions {
  const noProcessing = values['no-processing'] === true;
  const out: Record<keyof ProcessingOptions, boolean> = { ...(noProcessing ? NO_PROCESSING : DEFAULT_PROCESSING) };
  for (const k of PROCESSING_SWITCHES) {
    const on = values[flagOf(k)] === true;
    const off = values[`no-${flagOf(k)}`] === true;
    if (on && off) throw new UsageError(`--${flagOf(k)} and --no-${flagOf(k)} contradict each other: give one`);
    if (on && noProcessing) {
      throw new UsageError(
        `--no-processing turns every switch off, so it contradicts --${flagOf(k)}: drop --no-processing and give --no-… for the switches to turn off`,
      );
    }
    if (on) out[k] = true;
    if (off) out[k] = false;
  }
  return out;
}

/** `--tl-version`: 2 or 3, also spelled 2.x, 3.x or a full release number (2.9.1); 3.x when absent. */
export function tlVersionFromFlag(value: string | undefined): TransformerLensVersion {
  const major = (value ?? '3').match(/^([23])(\.(x|\d+(\.\d+)*))?$/)?.[1];
  if (major === undefined) throw new UsageError(`--tl-version must be 2 or 3 (2.x or 3.x), got '${value}'`);
  return major === '2' ? '2.x' : '3.x';
}
