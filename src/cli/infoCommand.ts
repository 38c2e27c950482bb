// `model-lens info --model M`: the model as the seed notebook tours it before any text goes in:
// the config as print(model.cfg), the parameter count, the module tree with every hook point's
// name and shape, and the weights with their shapes. Reads config.json only: no weights, no
// onnxruntime.
import { resolveModelForCli } from '../engine/hub';
import {
  configAsJson,
  countParameters,
  formatModuleTree,
  formatTransformerLensConfig,
  listParameters,
  moduleTree,
  readModelConfig,
  transformerLensConfig,
  type HookNode,
  type ModuleNode,
} from '../engine/modelInfo';
import type { ExecutionProviderName, TransformerLensVersion } from '../engine/types';
import { processingCall } from '../engine/processing';
import type { ProcessingOptions } from '../engine/types';
import { ExitCode, UsageError, type CliCommand } from './command';
import { parseFlags } from './flags';
import { SWITCH_OPTIONS, processingFromFlags, tlVersionFromFlag } from './processingFlags';

const usage = `usage: model-lens info --model DIR|ID [--no-processing | --[no-]fold-ln --[no-]center-writing-weights
                         --[no-]center-unembed --[no-]fold-value-biases] [--tokens N] [--tl-version V] [--device D] [--json]

Shows a GPT-2 as TransformerLens does, from its config.json alone (no weights are read):
the config as print(model.cfg), the parameter count as sum(p.numel() for p in model.parameters()),
the module tree with every hook point and its shape, and every weight with its shape.
  --model DIR|ID     the checkpoint folder, a Hub id (gpt2, gpt2-medium, …) or demo
  --no-processing    from_pretrained_no_processing: LayerNorm keeps its w and b (normalization_type 'LN')
  --[no-]fold-ln, --[no-]center-writing-weights, --[no-]center-unembed, --[no-]fold-value-biases
                     one from_pretrained switch each (default: on, as TransformerLens); only fold_ln
                     changes the config and the parameters, the others are named in the output
  --tokens N         hook shapes for N tokens, batch 1 (default: symbolic batch and pos)
  --tl-version V     3 (default) or 2: TransformerLens release whose hook points to list
  --device D         cpu (default) or cuda: the config's device
  --json             print one JSON object: model, processing, n_parameters, config, modules, weights
`;

interface InfoArgs {
  model: string;
  processing: ProcessingOptions;
  tokens?: number;
  tlVersion: TransformerLensVersion;
  device: ExecutionProviderName;
  json: boolean;
}

function parse(args: readonly string[]): InfoArgs {
  const { values } = parseFlags(args, {
    model: { type: 'string' },
    'no-processing': { type: 'boolean', default: false },
    ...SWITCH_OPTIONS,
    tokens: { type: 'string' },
    'tl-version': { type: 'string' },
    device: { type: 'string' },
    json: { type: 'boolean', default: false },
  });
  if (values.model === undefined) throw new UsageError('--model DIR|ID is required');
  let tokens: number | undefined;
  if (values.tokens !== undefined) {
    if (!/^\d+$/.test(values.tokens) || Number(values.tokens) < 1) {
      throw new UsageError(`--tokens must be a positive whole number, got '${values.tokens}'`);
    }
    tokens = Number(values.tokens);
  }
  const tlVersion = tlVersionFromFlag(values['tl-version']);
  const device = values.device ?? 'cpu';
  if (device !== 'cpu' && device !== 'cuda') throw new UsageError(`--device must be cpu or cuda, got '${device}'`);
  return {
    model: values.model,
    processing: processingFromFlags(values),
    ...(tokens !== undefined ? { tokens } : {}),
    tlVersion,
    device,
    json: values.json ?? false,
  };
}

/** The module tree as plain JSON: modules with class and parameters, hooks with name, dims, shape. */
function treeJson(n: ModuleNode | HookNode): unknown {
  if (n.kind === 'hook') return { hook: n.name, dims: n.dims, shape: n.shape, gated: n.gated };
  return {
    module: n.path,
    class: n.className,
    parameters: n.parameters.map((p) => ({ name: p.name, shape: p.shape })),
    children: n.children.map(treeJson),
  };
}

export const infoCommand: CliCommand = {
  name: 'info',
  summary: 'the model as TransformerLens shows it: config, parameter count, module tree with hook points, weights',
  usage,
  async run(args, io) {
    const a = parse(args);
    const resolved = await resolveModelForCli(a.model, { writeStderr: io.stderr });
    const cfg = await readModelConfig(resolved.folder, { processing: a.processing.fold_ln, tlVersion: a.tlVersion });
    const config = transformerLensConfig(cfg, { provider: a.device });
    const nParameters = countParameters(cfg);
    const tree = moduleTree(cfg, a.tokens ?? 1);
    const weights = listParameters(cfg);
    const processing = processingCall(a.processing);
    if (a.json) {
      const out = {
        model: cfg.model_name,
        folder: resolved.folder,
        demo: resolved.isDemo,
        processing,
        n_parameters: nParameters,
        config: configAsJson(config),
        tokens: a.tokens ?? null,
        modules: treeJson(tree),
        weights: weights.map((w) => ({ name: w.name, shape: w.shape, dims: w.dimNames })),
      };
      io.stdout(`${JSON.stringify(out)}\n`);
      return ExitCode.ok;
    }
    const shapes = a.tokens === undefined ? 'batch and pos symbolic' : `${a.tokens} token${a.tokens === 1 ? '' : 's'}, batch 1`;
    io.stdout(
      [
        `${cfg.model_name} (${processing}${resolved.isDemo ? '; demo model, random weights' : ''})`,
        `Total number of parameters: ${nParameters.toLocaleString('en-US')}`,
        '',
        formatTransformerLensConfig(config),
        `Modules and hook points (shapes for ${shapes}):`,
        formatModuleTree(tree, cfg, a.tokens === undefined),
        'Weights:',
        ...weights.map((w) => `  ${w.name} [${w.shape.join(', ')}]`),
        '',
      ].join('\n'),
    );
    return ExitCode.ok;
  },
};
