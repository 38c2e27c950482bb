// `model-lens generate`: continues a prompt with src/engine/generate.ts and prints each new token
// with its probability, rank and the model's top alternatives (or the JSON in generateUsage.ts).
import { generate, type StopReason } from '../engine/generate';
import { resolveModelForCli } from '../engine/hub';
import { HookedGPT2 } from '../engine/model';
import * as tokenizer from '../tokenizer';
import { ExitCode, UsageError, type CliCommand, type CliIo } from './command';
import { deviceFlag, numberFlag, parseFlags, tokenIdsFlag } from './flags';
import { GENERATE_SUMMARY, GENERATE_USAGE } from './generateUsage';
import { processingFromFlags, SWITCH_OPTIONS, tlVersionFromFlag } from './processingFlags';

function parse(args: readonly string[]) {
  const { values } = parseFlags(args, {
    model: { type: 'string' },
    text: { type: 'string' },
    tokens: { type: 'string' },
    'no-bos': { type: 'boolean', default: false },
    'max-new-tokens': { type: 'string' },
    temperature: { type: 'string' },
    'top-k': { type: 'string' },
    'top-p': { type: 'string' },
    seed: { type: 'string' },
    json: { type: 'boolean', default: false },
    'no-processing': { type: 'boolean', default: false },
    ...SWITCH_OPTIONS,
    device: { type: 'string' },
    'tl-version': { type: 'string' },
  });
  if (values.model === undefined) throw new UsageError('--model DIR is required');
  if ((values.text === undefined) === (values.tokens === undefined)) throw new UsageError('give exactly one of --text or --tokens');
  const tokens = values.tokens === undefined ? undefined : tokenIdsFlag(values.tokens);
  const device = deviceFlag(values.device);
  const sampling = {
    maxNewTokens: numberFlag('--max-new-tokens', values['max-new-tokens'], 32, true),
    temperature: numberFlag('--temperature', values.temperature, 1, false),
    topK: numberFlag('--top-k', values['top-k'], 0, true),
    topP: numberFlag('--top-p', values['top-p'], 1, false),
    seed: numberFlag('--seed', values.seed, 0, true),
  };
  // The sampler's own checks, as usage errors before the model loads.
  if (sampling.maxNewTokens < 0) throw new UsageError(`--max-new-tokens must be ≥ 0, got ${sampling.maxNewTokens}`);
  if (sampling.temperature < 0) throw new UsageError(`--temperature must be ≥ 0 (0 = greedy), got ${sampling.temperature}`);
  if (sampling.topK < 0) throw new UsageError(`--top-k must be ≥ 0 (0 = all), got ${sampling.topK}`);
  if (!(sampling.topP > 0 && sampling.topP <= 1))
    throw new UsageError(`--top-p must be in (0, 1] (0 would keep no token), got ${sampling.topP}`);
  return {
    model: values.model,
    text: values.text,
    tokens,
    bos: !values['no-bos'],
    json: values.json === true,
    sampling,
    device,
    processing: processingFromFlags(values),
    tlVersion: tlVersionFromFlag(values['tl-version']),
  };
}

const STOPPED: Readonly<Record<StopReason, string>> = {
  maxNewTokens: 'the token budget (--max-new-tokens)',
  endOfText: '<|endoftext|>',
  contextFull: 'the context window (n_ctx)',
};

async function run(args: readonly string[], io: CliIo): Promise<number> {
  const a = parse(args);
  const resolved = await resolveModelForCli(a.model, { writeStderr: io.stderr });
  const model = await HookedGPT2.fromPretrained(resolved.folder, {
    ...a.processing,
    device: a.device,
    transformerLensVersion: a.tlVersion,
  });
  try {
    if (model.notice) io.stderr(`notice: ${model.notice}\n`);
    for (const w of model.loadWarnings) io.stderr(`warning: ${w}\n`);
    const { n_ctx } = model.cfg;
    const prompt = a.tokens ?? [...(a.bos ? [tokenizer.END_OF_TEXT_ID] : []), ...tokenizer.encode(a.text ?? '')];
    if (prompt.length === 0) {
      io.stderr('model-lens generate: the prompt is empty (empty text with --no-bos); give at least one token\n');
      return ExitCode.failure;
    }
    if (prompt.length > n_ctx) {
      io.stderr(`model-lens generate: the prompt is ${prompt.length} tokens; ${model.cfg.model_name} reads at most n_ctx=${n_ctx}\n`);
      return ExitCode.failure;
    }
    const bad = prompt.find((t) => t >= model.cfg.d_vocab);
    if (bad !== undefined) {
      io.stderr(`model-lens generate: token ${bad} is not an id in 0..${model.cfg.d_vocab - 1}\n`);
      return ExitCode.failure;
    }
    if (!a.json) {
      const s = a.sampling;
      const how =
        s.temperature === 0 ? 'greedy' : `temperature ${s.temperature}, top-k ${s.topK || 'all'}, top-p ${s.topP}, seed ${s.seed}`;
      io.stdout(`${model.cfg.model_name}: ${prompt.length} prompt tokens on ${model.provider}; ${how}\n`);
      io.stdout(`${'#'.padStart(4)}  ${'id'.padStart(6)}  ${'prob'.padStart(7)}  ${'rank'.padStart(6)}  token\n`);
    }
    const result = await generate(model, prompt, {
      ...a.sampling,
      onToken: (t, i) => {
        if (a.json) return;
        const row = `${String(i + 1).padStart(4)}  ${String(t.id).padStart(6)}  ${(t.prob * 100).toFixed(2).padStart(6)}%  ${String(t.rank).padStart(6)}  ${tokenizer.tokenDisplay(t.id)}`;
        io.stdout(`${row}\n`);
      },
    });
    if (a.json) {
      const tokens = result.tokens.map((t) => ({
        id: t.id,
        text: tokenizer.decode([t.id]),
        prob: t.prob,
        top: t.top.map((x) => ({ id: x.id, prob: x.prob })),
      }));
      io.stdout(`${JSON.stringify({ prompt: result.prompt, tokens })}\n`);
    } else {
      io.stdout(`stopped at ${STOPPED[result.stop]} after ${result.tokens.length} tokens\n`);
      io.stdout(`${tokenizer.decode([...prompt, ...result.tokens.map((t) => t.id)])}\n`);
    }
    return ExitCode.ok;
  } finally {
    await model.dispose();
  }
}

export const generateCommand: CliCommand = { name: 'generate', summary: GENERATE_SUMMARY, usage: GENERATE_USAGE, run };
