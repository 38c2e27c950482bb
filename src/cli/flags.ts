// What every command's flag parsing shares: node:util's parseArgs with the project's rules (strict,
// errors as UsageError so main.ts prints usage and exits 2), and the flags whose values need the
// same checks in several commands (token id lists, whole numbers, the execution provider).
import { parseArgs, type ParseArgsConfig } from 'node:util';
import type { DeviceOption } from '../engine/types';
import { UsageError } from './command';

type Options = NonNullable<ParseArgsConfig['options']>;

/** parseArgs with strict options; a bad or unknown flag becomes a UsageError with parseArgs's message. */
export function parseFlags<O extends Options, P extends boolean = false>(args: readonly string[], options: O, allowPositionals?: P) {
  try {
    return parseArgs({ args: [...args], options, strict: true, allowPositionals: (allowPositionals ?? false) as P });
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : String(err));
  }
}

/** `--tokens 50256,464,…`: each item a token id, or a UsageError naming the item. */
export function tokenIdsFlag(value: string): number[] {
  return value.split(',').map((s, i) => {
    const t = s.trim();
    if (!/^\d+$/.test(t)) throw new UsageError(`--tokens: item ${i + 1} ('${s}') is not a token id`);
    return Number(t);
  });
}

/** A flag's number, or a UsageError naming the flag and what it got. */
export function numberFlag(flag: string, value: string | undefined, fallback: number, whole: boolean): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || (whole && !Number.isInteger(n))) {
    throw new UsageError(`${flag} must be ${whole ? 'a whole number' : 'a number'}, got '${value}'`);
  }
  return n;
}

/** The providers `run` and `generate` accept (`info` reads the graph only: cpu or cuda shapes). */
export const DEVICES: readonly DeviceOption[] = ['cpu', 'webgpu', 'cuda', 'auto'];

/** `--device`, `cpu` when absent. */
export function deviceFlag(value: string | undefined): DeviceOption {
  const device = (value ?? 'cpu') as DeviceOption;
  if (!DEVICES.includes(device)) throw new UsageError(`--device must be one of ${DEVICES.join(', ')}, got '${value}'`);
  return device;
}
