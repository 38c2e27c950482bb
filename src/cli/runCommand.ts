// `model-lens run`: one forward pass of a GPT-2 folder, printing the next-token top-k and/or
// writing the activations (TransformerLens names and shapes) to a safetensors file Python can load.
import { isWeightDtype, WEIGHT_DTYPES, type WeightDtype } from '../engine/weightDtype';
import { HookedGPT2 } from '../engine/model';
import { resolveModelForCli } from '../engine/hub';
import { writeSafetensors, type SafetensorsTensorToEncode } from '../engine/safetensors/write';
import { processingCall, processingMetadata } from '../engine/processing';
import { type DeviceOption, type ProcessingOptions, type Tensor, type TransformerLensVersion } from '../engine/types';
import { tokenDisplay } from '../tokenizer';
import { ExitCode, UsageError, type CliCommand, type CliIo } from './command';
import { deviceFlag, parseFlags, tokenIdsFlag } from './flags';
import { RUN_SUMMARY, RUN_USAGE } from './runUsage';
import { unreadableReason } from './tokenizeCommand';
import { firstTokens, readUtf8Chunks } from './tokenStream';
import { SWITCH_OPTIONS, processingFromFlags, tlVersionFromFlag } from './processingFlags';

export { processingFromFlags } from './processingFlags';

const usage = RUN_USAGE;

interface RunArgs {
  model: string;
  text?: string;
  /** A UTF-8 file to tokenize, '-' for standard input. */
  file?: string;
  tokens?: number[];
  bos: boolean;
  processing: ProcessingOptions;
  attnResult: boolean;
  names: string[];
  out?: string;
  topK: number;
  device: DeviceOption;
  tlVersion: TransformerLensVersion;
  dtype: WeightDtype;
}

function parse(args: readonly string[]): RunArgs {
  const { values } = parseFlags(args, {
    model: { type: 'string' },
    text: { type: 'string' },
    file: { type: 'string' },
    tokens: { type: 'string' },
    'no-bos': { type: 'boolean', default: false },
    'no-processing': { type: 'boolean', default: false },
    ...SWITCH_OPTIONS,
    'attn-result': { type: 'boolean', default: false },
    names: { type: 'string', multiple: true },
    out: { type: 'string' },
    'top-k': { type: 'string' },
    device: { type: 'string' },
    'tl-version': { type: 'string' },
    dtype: { type: 'string' },
  });
  if (values.model === undefined) throw new UsageError('--model DIR is required');
  const inputs = [values.text, values.file, values.tokens].filter((v) => v !== undefined).length;
  if (inputs !== 1) throw new UsageError('give exactly one of --text, --file or --tokens');
  const tokens = values.tokens === undefined ? undefined : tokenIdsFlag(values.tokens);
  let topK = values.out === undefined ? 5 : 0;
  if (values['top-k'] !== undefined) {
    if (!/^\d+$/.test(values['top-k'])) throw new UsageError(`--top-k must be a whole number, got '${values['top-k']}'`);
    topK = Number(values['top-k']);
  }
  const device = deviceFlag(values.device);
  // '2', '2.x', '3', '3.x' (also '2.9.1', '3.5'): only the major release matters (docs/HOOKS.md).
  const tlVersion = tlVersionFromFlag(values['tl-version']);
  const dtype = values.dtype ?? 'fp32';
  if (!isWeightDtype(dtype)) throw new UsageError(`--dtype must be one of ${WEIGHT_DTYPES.join(', ')}, got '${dtype}'`);
  return {
    model: values.model,
    ...(values.text !== undefined ? { text: values.text } : {}),
    ...(values.file !== undefined ? { file: values.file } : {}),
    ...(tokens ? { tokens } : {}),
    bos: !values['no-bos'],
    processing: processingFromFlags(values),
    attnResult: values['attn-result'] ?? false,
    names: values.names ?? [],
    ...(values.out !== undefined ? { out: values.out } : {}),
    topK,
    device,
    tlVersion,
    dtype,
  };
}

/** The k largest logits of the last position with their softmax probabilities (computed in float64). */
export function topKNext(logits: Tensor, k: number): { id: number; logit: number; prob: number }[] {
  const [, pos, vocab] = logits.dims as [number, number, number];
  const row = logits.data.subarray((pos - 1) * vocab, pos * vocab);
  let max = -Infinity;
  for (const v of row) max = Math.max(max, v);
  let sum = 0;
  for (const v of row) sum += Math.exp(v - max);
  const order = Array.from(row.keys())
    .sort((a, b) => row[b]! - row[a]!)
    .slice(0, k);
  return order.map((id) => ({ id, logit: row[id]!, prob: Math.exp(row[id]! - max) / sum }));
}

async function run(args: readonly string[], io: CliIo): Promise<number> {
  const a = parse(args);
  if (a.file !== undefined) {
    // Checked before the model loads, so a typo costs nothing; read after, so '-' can be piped in while it loads.
    const problem = await unreadableReason(a.file);
    if (problem !== null) {
      io.stderr(`model-lens run: cannot read ${a.file} (${problem})\n`);
      return ExitCode.failure;
    }
  }
  // A Hub id resolves through the Hugging Face cache (downloading with a progress bar on stderr).
  const resolved = await resolveModelForCli(a.model, { writeStderr: io.stderr });
  const model = await HookedGPT2.fromPretrained(resolved.folder, {
    ...a.processing,
    use_attn_result: a.attnResult,
    device: a.device,
    transformerLensVersion: a.tlVersion,
    dtype: a.dtype,
  });
  try {
    if (model.notice) io.stderr(`notice: ${model.notice}\n`);
    for (const w of model.loadWarnings) io.stderr(`warning: ${w}\n`);
    const { n_ctx } = model.cfg;
    for (const w of model.processing?.warnings ?? []) io.stderr(`warning: ${w}\n`);
    let tokens: number[];
    if (a.tokens) {
      if (a.tokens.length > n_ctx) {
        io.stderr(`model-lens run: --tokens has ${a.tokens.length} ids; ${model.cfg.model_name} reads at most n_ctx=${n_ctx}\n`);
        return ExitCode.failure;
      }
      tokens = a.tokens;
    } else {
      // Read and tokenized in pieces, stopping at n_ctx tokens: the input's size does not matter.
      const chunks = a.file !== undefined ? readUtf8Chunks(a.file) : [a.text ?? ''];
      const t = await firstTokens(chunks, n_ctx, a.bos);
      if (t.truncated) {
        io.stderr(
          `notice: the text is longer than ${model.cfg.model_name}'s n_ctx=${n_ctx} tokens; only the first ${n_ctx} are used (${a.bos ? 'BOS and ' : ''}the text's first ${n_ctx - (a.bos ? 1 : 0)})\n`,
        );
      }
      tokens = t.tokens;
    }
    if (tokens.length === 0) {
      io.stderr('model-lens run: no tokens to run (empty text with --no-bos)\n');
      return ExitCode.failure;
    }
    const names = a.out === undefined ? [] : a.names.length > 0 ? a.names : () => true;
    const { logits, activations } = await model.forward(tokens, { names });
    io.stdout(`${model.cfg.model_name}: ${tokens.length} tokens on ${model.provider}\n`);
    io.stdout(`processing: ${processingCall(a.processing)}\n`);
    if (a.topK > 0) {
      io.stdout(`top ${a.topK} next tokens after position ${tokens.length - 1}:\n`);
      for (const [i, t] of topKNext(logits, a.topK).entries()) {
        io.stdout(
          `${String(i + 1).padStart(3)}  ${String(t.id).padStart(6)}  ${(t.prob * 100).toFixed(2).padStart(6)}%  ${t.logit.toFixed(4).padStart(10)}  ${tokenDisplay(t.id)}\n`,
        );
      }
    }
    if (a.out !== undefined) {
      const tensors: SafetensorsTensorToEncode[] = [...activations].map(([name, t]) => ({
        name,
        dims: t.dims,
        dtype: 'F32',
        data: t.data,
      }));
      tensors.push({ name: 'logits', dims: logits.dims, dtype: 'F32', data: logits.data });
      await writeSafetensors(a.out, tensors, {
        format: 'pt',
        model: model.cfg.model_name,
        tokens: tokens.join(','),
        transformer_lens_version: a.tlVersion,
        ...processingMetadata(a.processing),
      });
      io.stdout(`wrote ${tensors.length} tensors to ${a.out}\n`);
    }
    return ExitCode.ok;
  } finally {
    await model.dispose();
  }
}

export const runCommand: CliCommand = {
  name: 'run',
  summary: RUN_SUMMARY,
  usage,
  run,
};
