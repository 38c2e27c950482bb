// The GPT-2 family Model Lens knows by name: short names as TransformerLens and older
// transformers code spell them, mapped to the repositories that hold them on the Hub today.

export interface KnownModel {
  /** Repository id on the Hub. */
  readonly repoId: string;
  /** The short name people type (TransformerLens's model name). */
  readonly shortName: string;
  readonly description: string;
  /**
   * Approximate size of model.safetensors in bytes, used only when the Hub cannot be asked
   * (offline quick pick); a HEAD request's X-Linked-Size replaces it when online.
   */
  readonly approxBytes: number;
}

export const DEFAULT_MODEL_ID = 'openai-community/gpt2';

/** The files a GPT-2 checkpoint folder needs; the loader reads exactly these. */
export const CHECKPOINT_FILES = ['config.json', 'model.safetensors'] as const;

export const KNOWN_MODELS: readonly KnownModel[] = [
  { repoId: 'openai-community/gpt2', shortName: 'gpt2', description: 'GPT-2 small, 124M parameters, 12 layers', approxBytes: 548_000_000 },
  {
    repoId: 'openai-community/gpt2-medium',
    shortName: 'gpt2-medium',
    description: 'GPT-2 medium, 355M parameters, 24 layers',
    approxBytes: 1_520_000_000,
  },
  {
    repoId: 'openai-community/gpt2-large',
    shortName: 'gpt2-large',
    description: 'GPT-2 large, 774M parameters, 36 layers',
    approxBytes: 3_250_000_000,
  },
  {
    repoId: 'openai-community/gpt2-xl',
    shortName: 'gpt2-xl',
    description: 'GPT-2 XL, 1.5B parameters, 48 layers',
    approxBytes: 6_430_000_000,
  },
  {
    repoId: 'distilbert/distilgpt2',
    shortName: 'distilgpt2',
    description: 'DistilGPT-2, 82M parameters, 6 layers',
    approxBytes: 353_000_000,
  },
];

const REPO_ID_RE = /^[A-Za-z0-9][\w.-]*(\/[A-Za-z0-9][\w.-]*)?$/;

/**
 * Maps a short name (gpt2, gpt2-small, distilgpt2) to its repository id; leaves any other
 * ORG/NAME alone. Returns undefined when the text cannot be a repository id.
 */
export function canonicalRepoId(spec: string): string | undefined {
  const s = spec.trim();
  const lower = s.toLowerCase();
  const alias = lower === 'gpt2-small' ? 'gpt2' : lower;
  const known = KNOWN_MODELS.find((m) => m.shortName === alias || m.repoId.toLowerCase() === lower);
  if (known) return known.repoId;
  if (!REPO_ID_RE.test(s) || s.includes('..') || s.endsWith('.') || s.length > 96) return undefined;
  return s;
}

export function knownModel(repoId: string): KnownModel | undefined {
  return KNOWN_MODELS.find((m) => m.repoId === repoId);
}
