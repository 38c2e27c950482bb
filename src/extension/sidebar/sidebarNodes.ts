// What the Model Lens sidebar shows, as plain data: the Model, Modules and hooks, and Weights
// trees built from a config (src/engine/modelInfo.ts). No vscode import, so the in-host tests
// can read the same nodes the views render, and the layout is easy to change in one place.
import {
  countParameters,
  listParameters,
  moduleTree,
  pyRepr,
  torchDtypeName,
  transformerLensConfig,
  type HookNode,
  type ModuleNode,
} from '../../engine/modelInfo';
import { symbolicShape } from '../../engine/hookPoints';
import type { ExecutionProviderName, HookedGPT2Config, ProcessingOptions } from '../../engine/types';
import type { WeightDtype } from '../../engine/weightDtype';
import { TENSOR_COMMANDS } from '../tensorView/commandIds';

/** The context values package.json's menus match (right-click actions). */
export const CONTEXT = {
  hook: 'modelLens.hook',
  gatedHook: 'modelLens.hook.gated',
  module: 'modelLens.module',
  weight: 'modelLens.weight',
  load: 'modelLens.load',
} as const;

export interface SidebarNode {
  /** Stable across refreshes (keeps expansion): a hook's or weight's full name, or a path. */
  readonly id: string;
  readonly label: string;
  readonly description?: string;
  readonly tooltip?: string;
  readonly contextValue?: string;
  /** A command id to run on click (with the node as its argument). */
  readonly command?: string;
  /** A hook's or weight's TransformerLens name (what "Copy Name" copies). */
  readonly name?: string;
  readonly children?: readonly SidebarNode[];
}

export interface LoadedModelState {
  readonly cfg: HookedGPT2Config;
  /** "gpt2 · Hugging Face cache" or the demo label. */
  readonly label: string;
  readonly provider: ExecutionProviderName;
  readonly requested: string;
  readonly notice: string | null;
  readonly processing: ProcessingOptions;
  /** How the weights are held (modelLens.dtype when the model loaded). */
  readonly dtype: WeightDtype;
  /** The engine's process memory (the worker thread shares the extension host's process); absent when it could not be read. */
  readonly memory?: { readonly rss: number; readonly heapUsed: number; readonly arrayBuffers: number };
}

const mib = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(0)} MiB`;

const shapeText = (s: readonly (number | string)[]): string => `[${s.join(', ')}]`;

/** The Model view: the loaded model, or the configured one with a Load action. */
export function modelNodes(loaded: LoadedModelState | undefined, configured: string, loadCommand: string): SidebarNode[] {
  if (loaded === undefined) {
    return [
      { id: 'configured', label: configured, description: 'configured, not loaded', tooltip: 'modelLens.model' },
      {
        id: 'load',
        label: 'Load model',
        description: 'reads the weights into the engine',
        command: loadCommand,
        contextValue: CONTEXT.load,
      },
    ];
  }
  const { cfg } = loaded;
  const switches = Object.entries(loaded.processing)
    .filter(([, on]) => on)
    .map(([k]) => k);
  const anyProcessing = switches.length > 0;
  const config = transformerLensConfig(cfg, { provider: loaded.provider, dtype: loaded.dtype });
  return [
    { id: 'model', label: cfg.model_name, description: loaded.label, tooltip: loaded.label },
    {
      id: 'provider',
      label: 'Provider',
      description: loaded.notice ? `${loaded.provider} (asked for ${loaded.requested})` : loaded.provider,
      ...(loaded.notice ? { tooltip: loaded.notice } : {}),
    },
    { id: 'dtype', label: 'dtype', description: torchDtypeName(loaded.dtype) },
    ...(loaded.memory
      ? [
          {
            id: 'memory',
            label: 'Memory',
            description: `${mib(loaded.memory.rss)} resident`,
            tooltip: `process.memoryUsage() in the engine worker: ${mib(loaded.memory.rss)} resident set of the extension host process (the worker thread, onnxruntime's native memory and the weights included), ${mib(loaded.memory.arrayBuffers)} in array buffers, ${mib(loaded.memory.heapUsed)} JS heap`,
          },
        ]
      : []),
    {
      id: 'processing',
      label: 'Processing',
      description: anyProcessing ? 'from_pretrained' : 'from_pretrained_no_processing',
      tooltip: anyProcessing ? switches.join(', ') : 'no fold_ln, centering or value-bias folding',
      children: Object.entries(loaded.processing).map(([k, on]) => ({ id: `processing.${k}`, label: k, description: on ? 'on' : 'off' })),
    },
    {
      id: 'parameters',
      label: 'Parameters',
      description: countParameters(cfg).toLocaleString('en-US'),
      tooltip: 'sum(p.numel() for p in model.parameters()), as TransformerLens counts them',
    },
    {
      id: 'config',
      label: 'Config',
      description: 'HookedTransformerConfig',
      children: config.map(([k, v]) => ({ id: `config.${k}`, label: k, description: pyRepr(k, v) })),
    },
  ];
}

function hookNode(h: HookNode, cfg: HookedGPT2Config, pos: number | undefined): SidebarNode {
  const shape = pos === undefined ? symbolicShape({ name: h.name, dims: h.dims }, cfg) : h.shape;
  return {
    id: h.name,
    label: h.attr,
    description: `${shapeText(shape)}${h.gated ? ' · flag-gated, off' : ''}`,
    tooltip: `${h.name}\n[${h.dims.join(', ')}]${h.gated ? '\nFires only when its config flag is on (use_attn_result, use_split_qkv_input, use_attn_in, use_hook_mlp_in).' : ''}`,
    contextValue: h.gated ? CONTEXT.gatedHook : CONTEXT.hook,
    name: h.name,
  };
}

function moduleNode(m: ModuleNode, cfg: HookedGPT2Config, pos: number | undefined): SidebarNode {
  return {
    id: `module:${m.path}`,
    label: m.attr,
    description: m.className,
    tooltip: m.path,
    contextValue: CONTEXT.module,
    children: [
      ...m.parameters.map((p) => ({
        id: `param:${p.name}`,
        label: p.name.slice(p.name.lastIndexOf('.') + 1),
        description: shapeText(p.shape),
        tooltip: `${p.name}\n[${p.dimNames.join(', ')}]`,
        contextValue: CONTEXT.weight,
        name: p.name,
        command: TENSOR_COMMANDS.openWeight,
      })),
      ...m.children.map((c) => (c.kind === 'hook' ? hookNode(c, cfg, pos) : moduleNode(c, cfg, pos))),
    ],
  };
}

/**
 * The module tree in TransformerLens's nesting. `pos`: the current selection's token count
 * (hook shapes for it, batch 1); undefined shows 'batch' and 'pos' by name.
 */
export function moduleNodes(cfg: HookedGPT2Config, pos: number | undefined): SidebarNode[] {
  const root = moduleTree(cfg, pos ?? 1);
  return root.children.map((c) => (c.kind === 'hook' ? hookNode(c, cfg, pos) : moduleNode(c, cfg, pos)));
}

/**
 * Every parameter with its shape, in named_parameters() order, then TransformerLens's factored
 * circuits per layer (`model.blocks[L].attn.OV` = W_V @ W_O and `.QK` = W_Q @ W_K^T, FactoredMatrix
 * objects: products never formed, shown with the shape they stand for).
 */
export function weightNodes(cfg: HookedGPT2Config): SidebarNode[] {
  const circuits: SidebarNode = {
    id: 'circuits',
    label: 'Factored circuits',
    description: 'OV, QK per layer',
    children: Array.from({ length: cfg.n_layers }, (_, L) => [
      {
        id: `circuit:blocks.${L}.attn.OV`,
        label: `blocks.${L}.attn.OV`,
        description: `${shapeText([cfg.n_heads, cfg.d_model, cfg.d_model])} = W_V @ W_O`,
        tooltip: `FactoredMatrix: A = W_V [${cfg.n_heads}, ${cfg.d_model}, ${cfg.d_head}], B = W_O [${cfg.n_heads}, ${cfg.d_head}, ${cfg.d_model}]`,
        name: `blocks.${L}.attn.OV`,
        children: headNodes(cfg, L, 'OV'),
      },
      {
        id: `circuit:blocks.${L}.attn.QK`,
        label: `blocks.${L}.attn.QK`,
        description: `${shapeText([cfg.n_heads, cfg.d_model, cfg.d_model])} = W_Q @ W_K^T`,
        tooltip: `FactoredMatrix: A = W_Q [${cfg.n_heads}, ${cfg.d_model}, ${cfg.d_head}], B = W_K^T [${cfg.n_heads}, ${cfg.d_head}, ${cfg.d_model}]`,
        name: `blocks.${L}.attn.QK`,
        children: headNodes(cfg, L, 'QK'),
      },
    ]).flat(),
  };
  return [...parameterNodes(cfg), circuits];
}

function parameterNodes(cfg: HookedGPT2Config): SidebarNode[] {
  return listParameters(cfg).map((p) => ({
    id: `weight:${p.name}`,
    label: p.name,
    description: shapeText(p.shape),
    tooltip: `[${p.dimNames.join(', ')}]`,
    contextValue: CONTEXT.weight,
    name: p.name,
    command: TENSOR_COMMANDS.openWeight,
  }));
}

/** One head's circuit, dense [d_model, d_model], opened on click. */
function headNodes(cfg: HookedGPT2Config, L: number, which: 'OV' | 'QK'): SidebarNode[] {
  return Array.from({ length: cfg.n_heads }, (_, h) => ({
    id: `circuit:blocks.${L}.attn.${which}[${h}]`,
    label: `head ${h}`,
    description: shapeText([cfg.d_model, cfg.d_model]),
    tooltip: `blocks.${L}.attn.${which}[${h}] made dense (${which === 'OV' ? 'W_V[h] @ W_O[h]' : 'W_Q[h] @ W_K[h]^T'}); click to open it`,
    contextValue: CONTEXT.weight,
    name: `blocks.${L}.attn.${which}[${h}]`,
    command: TENSOR_COMMANDS.openWeight,
  }));
}
