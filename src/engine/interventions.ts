// Declarative interventions, compiled into the graph as extra nodes on a hook tensor before its
// consumers, so an ablated or patched run is one session run with no round trip through
// JavaScript. Values that change between calls (means, patch sources, vectors) are graph inputs,
// so one compiled session serves every call with the same structure.
import type { GraphBuilder, HookDecl, HookTransform } from './onnx/builder';
import type { HostTensor } from './ort/session';
import { hookShape, listHookPoints } from './hookPoints';
import type { HookedGPT2Config, Tensor } from './types';

export type Intervention =
  /** Heads of one layer set to zero, or to `mean`, on hook_z (default) or hook_result (needs use_attn_result). */
  | {
      readonly kind: 'ablateHeads';
      readonly layer: number;
      readonly heads: readonly number[];
      readonly hook?: 'z' | 'result';
      /** Mean ablation: broadcastable to the hook's shape, e.g. [n_heads, d_head] or the hook's full [1, pos, n_heads, d_head]. Zero ablation when absent. */
      readonly mean?: Tensor;
    }
  /** MLP neurons of one layer (hook_post) set to zero, or to `mean` ([d_mlp] or [1, pos, d_mlp]). */
  | { readonly kind: 'ablateNeurons'; readonly layer: number; readonly neurons: readonly number[]; readonly mean?: Tensor }
  /** A hook's value replaced from another run (e.g. a clean cache), at all or some positions and heads. */
  | {
      readonly kind: 'patch';
      readonly hook: string;
      /** The hook's full tensor from the other run: TransformerLens's shape with batch 1. */
      readonly source: Tensor;
      readonly positions?: readonly number[];
      readonly heads?: readonly number[];
    }
  /**
   * A batched run's per-entry patch: batch entry k takes `source` at entries[k]'s positions and
   * heads (null: entry k is left alone). One graph piece serves a whole sweep; the selection is a
   * feed with a batch axis, so a sweep of N patches is one session call with batch N.
   */
  | {
      readonly kind: 'patchEntries';
      readonly hook: string;
      /** The hook's full tensor with batch 1 (the same source for every entry) or batch = entries.length. */
      readonly source: Tensor;
      readonly entries: readonly (PatchSite | null)[];
    }
  /** A vector added to a hook (steering), e.g. [d_model] onto blocks.L.hook_resid_pre; at all or some positions. */
  | { readonly kind: 'addVector'; readonly hook: string; readonly vector: Tensor; readonly positions?: readonly number[] };

/** Where a patch applies: positions (all when absent) × heads (all when absent). */
export interface PatchSite {
  readonly positions?: readonly number[];
  readonly heads?: readonly number[];
}

export interface CompiledInterventions {
  /** Identifies the graph structure; equal keys can share one session. */
  readonly key: string;
  readonly transforms: ReadonlyMap<string, HookTransform>;
  /** The graph inputs these interventions add, for a run of `batch` prompts of `pos` tokens. */
  feeds(pos: number, batch?: number): Record<string, HostTensor>;
}

type Cfg = HookedGPT2Config;

function fail(i: number, msg: string): never {
  throw new Error(`intervention ${i}: ${msg}`);
}

function checkIndices(i: number, what: string, xs: readonly number[], limit: number): void {
  if (xs.length === 0) fail(i, `no ${what} given`);
  for (const x of xs) if (!Number.isInteger(x) || x < 0 || x >= limit) fail(i, `${what} index ${x} is out of range 0..${limit - 1}`);
}

/** True when `dims` broadcast onto `target` (numpy rules, right-aligned). */
function broadcastsTo(dims: readonly number[], target: readonly number[]): boolean {
  if (dims.length > target.length) return false;
  const off = target.length - dims.length;
  return dims.every((d, k) => d === 1 || d === target[off + k]);
}

function hostF32(t: Tensor): HostTensor {
  return { type: 'float32', dims: [...t.dims], data: t.data };
}

/** A keep-mask for one axis of a hook: 1 everywhere except 0 at `indices`, shaped to broadcast. */
function keepMask(b: GraphBuilder, rank: number, axis: number, size: number, indices: readonly number[]): string {
  const data = new Float32Array(size).fill(1);
  for (const k of indices) data[k] = 0;
  const dims = Array.from({ length: rank }, (_, a) => (a === axis ? size : 1));
  return b.constantData('keep', 'float32', dims, data);
}

/** x·keep, or x·keep + mean·(1 − keep) when a mean is given (as a graph input). */
function ablate(b: GraphBuilder, x: string, keep: string, meanInput: string | null): string {
  const kept = b.op('Mul', [x, keep]);
  if (meanInput === null) return kept;
  const dropped = b.op('Sub', [b.scalarF(1), keep]);
  return b.op('Add', [kept, b.op('Mul', [meanInput, dropped])]);
}

/** Validates interventions against the model and compiles them into hook transforms. */
export function compileInterventions(cfg: Cfg, interventions: readonly Intervention[]): CompiledInterventions {
  const decls = new Map(listHookPoints(cfg).map((h) => [h.name, h] as const));
  const chains = new Map<string, HookTransform[]>();
  const keyParts: string[] = [];
  const valueFeeds: { name: string; make: (pos: number, batch: number) => HostTensor }[] = [];
  const declOf = (i: number, name: string): HookDecl =>
    decls.get(name) ?? fail(i, `no hook point named '${name}' (flags: use_attn_result=${cfg.use_attn_result})`);
  const add = (name: string, t: HookTransform): void => {
    const list = chains.get(name) ?? [];
    list.push(t);
    chains.set(name, list);
  };

  interventions.forEach((iv, i) => {
    const input = `intervention/${i}`;
    switch (iv.kind) {
      case 'ablateHeads': {
        if (!Number.isInteger(iv.layer) || iv.layer < 0 || iv.layer >= cfg.n_layers)
          fail(i, `layer ${iv.layer} is out of range 0..${cfg.n_layers - 1}`);
        checkIndices(i, 'head', iv.heads, cfg.n_heads);
        const which = iv.hook ?? 'z';
        const decl = declOf(i, `blocks.${iv.layer}.attn.hook_${which}`);
        const mean = iv.mean;
        if (mean) valueFeeds.push({ name: input, make: (pos) => meanTensor(decl, cfg, pos, mean, i) });
        keyParts.push(`heads:${decl.name}:${[...iv.heads].sort().join(',')}:${mean ? `mean${mean.dims.length}` : 'zero'}`);
        add(decl.name, (b, raw) => ablate(b, raw, keepMask(b, 4, 2, cfg.n_heads, iv.heads), mean ? b.input(input, 'float32', null) : null));
        return;
      }
      case 'ablateNeurons': {
        if (!Number.isInteger(iv.layer) || iv.layer < 0 || iv.layer >= cfg.n_layers)
          fail(i, `layer ${iv.layer} is out of range 0..${cfg.n_layers - 1}`);
        checkIndices(i, 'neuron', iv.neurons, cfg.d_mlp);
        const decl = declOf(i, `blocks.${iv.layer}.mlp.hook_post`);
        const mean = iv.mean;
        if (mean) valueFeeds.push({ name: input, make: (pos) => meanTensor(decl, cfg, pos, mean, i) });
        keyParts.push(`neurons:${decl.name}:${[...iv.neurons].sort().join(',')}:${mean ? `mean${mean.dims.length}` : 'zero'}`);
        add(decl.name, (b, raw) => ablate(b, raw, keepMask(b, 3, 2, cfg.d_mlp, iv.neurons), mean ? b.input(input, 'float32', null) : null));
        return;
      }
      case 'patch': {
        const decl = declOf(i, iv.hook);
        const headAxis = decl.dims.indexOf('head_index');
        if (iv.heads && headAxis < 0) fail(i, `${decl.name} has no head axis to select heads on`);
        if (iv.heads) checkIndices(i, 'head', iv.heads, cfg.n_heads);
        const src = iv.source;
        const selectName = `${input}/select`;
        valueFeeds.push({
          name: input,
          make: (pos, batch) => checkedSource(decl, cfg, pos, src, [1, batch], i),
        });
        valueFeeds.push({ name: selectName, make: (pos) => patchSelection(decl, cfg, pos, iv.positions, iv.heads, i) });
        keyParts.push(`patch:${decl.name}`);
        add(decl.name, (b, raw) =>
          b.op('Where', [b.input(selectName, 'bool', null), b.input(input, 'float32', null), raw], undefined, { type: 'float32' }),
        );
        return;
      }
      case 'patchEntries': {
        const decl = declOf(i, iv.hook);
        const headAxis = decl.dims.indexOf('head_index');
        iv.entries.forEach((e) => {
          if (e?.heads && headAxis < 0) fail(i, `${decl.name} has no head axis to select heads on`);
          if (e?.heads) checkIndices(i, 'head', e.heads, cfg.n_heads);
        });
        const selectName = `${input}/select`;
        const entries = iv.entries;
        // A batch of 1 prompt is broadcast: everything before this hook runs once, and the Where
        // below widens the run to one row per entry from here on (runMetricBatch relies on it).
        const check = (batch: number): void => {
          if (entries.length !== batch && batch !== 1) fail(i, `${entries.length} patch entries for a batch of ${batch} prompts`);
        };
        valueFeeds.push({
          name: input,
          make: (pos, batch) => (check(batch), checkedSource(decl, cfg, pos, iv.source, [1, entries.length], i)),
        });
        valueFeeds.push({ name: selectName, make: (pos, batch) => (check(batch), entrySelection(decl, cfg, pos, entries, i)) });
        keyParts.push(`patchEntries:${decl.name}`);
        add(decl.name, (b, raw) =>
          b.op('Where', [b.input(selectName, 'bool', null), b.input(input, 'float32', null), raw], undefined, { type: 'float32' }),
        );
        return;
      }
      case 'addVector': {
        const decl = declOf(i, iv.hook);
        const vec = iv.vector;
        valueFeeds.push({ name: input, make: (pos) => steeringTensor(decl, cfg, pos, vec, iv.positions, i) });
        keyParts.push(`add:${decl.name}`);
        add(decl.name, (b, raw) => b.op('Add', [raw, b.input(input, 'float32', null)]));
        return;
      }
      default: {
        const exhaustive: never = iv;
        throw new Error(`unknown intervention ${JSON.stringify(exhaustive)}`);
      }
    }
  });

  const transforms = new Map<string, HookTransform>();
  for (const [name, list] of chains) {
    transforms.set(name, (b, raw, decl) => list.reduce((x, t) => t(b, x, decl), raw));
  }
  return {
    key: keyParts.join('|'),
    transforms,
    feeds(pos, batch = 1) {
      const out: Record<string, HostTensor> = {};
      for (const f of valueFeeds) out[f.name] = f.make(pos, batch);
      return out;
    },
  };
}

/** A patch source of the hook's full shape for this run, with batch 1 or one of `batches`. */
function checkedSource(decl: HookDecl, cfg: Cfg, pos: number, src: Tensor, batches: readonly number[], i: number): HostTensor {
  const want = hookShape(decl, cfg, pos);
  const sameTail = src.dims.length === want.length && src.dims.every((d, k) => k === 0 || d === want[k]);
  if (!sameTail || !batches.includes(src.dims[0]!)) {
    fail(
      i,
      `patch source for ${decl.name} has shape [${src.dims.join(', ')}], this run needs [${[...new Set(batches)].join(' or ')}, ${want.slice(1).join(', ')}]`,
    );
  }
  return hostF32(src);
}

/** patchSelection per batch entry, stacked: bool [batch, ...]; a null entry selects nothing. */
function entrySelection(decl: HookDecl, cfg: Cfg, pos: number, entries: readonly (PatchSite | null)[], i: number): HostTensor {
  const one = hookShape(decl, cfg, pos);
  const size = one.reduce((a, b) => a * b, 1);
  // Nothing selected: one all-false row, so this hook does not widen a shared prompt to every entry.
  if (entries.every((e) => e === null)) return { type: 'bool', dims: one, data: new Uint8Array(size) };
  const sel = new Uint8Array(size * entries.length);
  entries.forEach((e, k) => {
    if (e !== null) sel.set(patchSelection(decl, cfg, pos, e.positions, e.heads, i).data as Uint8Array, k * size);
  });
  return { type: 'bool', dims: [entries.length, ...one.slice(1)], data: sel };
}

function meanTensor(decl: HookDecl, cfg: Cfg, pos: number, mean: Tensor, i: number): HostTensor {
  const dims = hookShape(decl, cfg, pos);
  if (!broadcastsTo(mean.dims, dims))
    fail(i, `mean of shape [${mean.dims.join(', ')}] does not broadcast onto ${decl.name} [${dims.join(', ')}]`);
  return hostF32(mean);
}

function checkPositions(i: number, positions: readonly number[] | undefined, pos: number): void {
  if (positions) checkIndices(i, 'position', positions, pos);
}

/** A bool tensor of the hook's full shape: true where the patch applies. */
function patchSelection(
  decl: HookDecl,
  cfg: Cfg,
  pos: number,
  positions: readonly number[] | undefined,
  heads: readonly number[] | undefined,
  i: number,
): HostTensor {
  checkPositions(i, positions, pos);
  const dims = hookShape(decl, cfg, pos);
  const sel = new Uint8Array(dims.reduce((a, b) => a * b, 1));
  // One mask per axis (positions on the pos axes, heads on the head axis, everything elsewhere);
  // an element is selected when each of its indices is. Filled one innermost row at a time: a
  // sweep builds this for every hook and batch entry, millions of elements per call.
  const posSet = positions ? new Set(positions) : null;
  const headSet = heads ? new Set(heads) : null;
  const masks = dims.map((n, axis) => {
    const d = decl.dims[axis];
    const isPos = d === 'pos' || d === 'query_pos';
    return Uint8Array.from({ length: n }, (_, j) =>
      (isPos && posSet !== null && !posSet.has(j)) || (d === 'head_index' && headSet !== null && !headSet.has(j)) ? 0 : 1,
    );
  });
  const inner = masks.pop() ?? Uint8Array.of(1);
  const index = masks.map(() => 0);
  for (let offset = 0; offset < sel.length; offset += inner.length) {
    if (masks.every((m, axis) => m[index[axis]!] === 1)) sel.set(inner, offset);
    for (let axis = index.length - 1; axis >= 0; axis--) {
      if (++index[axis]! < dims[axis]!) break;
      index[axis] = 0;
    }
  }
  return { type: 'bool', dims, data: sel };
}

/** The vector as given (broadcast by onnxruntime), or placed at `positions` in a zero tensor of the hook's shape. */
function steeringTensor(
  decl: HookDecl,
  cfg: Cfg,
  pos: number,
  vec: Tensor,
  positions: readonly number[] | undefined,
  i: number,
): HostTensor {
  const dims = hookShape(decl, cfg, pos);
  if (!broadcastsTo(vec.dims, dims))
    fail(i, `vector of shape [${vec.dims.join(', ')}] does not broadcast onto ${decl.name} [${dims.join(', ')}]`);
  if (!positions) return hostF32(vec);
  checkPositions(i, positions, pos);
  if (decl.dims[1] !== 'pos') fail(i, `positions need a hook whose axis 1 is pos; ${decl.name} is [${decl.dims.join(', ')}]`);
  const perPos = dims.slice(2).reduce((a, b) => a * b, 1);
  const out = new Float32Array(dims.reduce((a, b) => a * b, 1));
  const tail = vec.dims.slice(-Math.max(0, dims.length - 2));
  if (vec.data.length !== perPos && !(vec.data.length === 1)) {
    fail(i, `with positions, the vector must cover one position: [${dims.slice(2).join(', ')}], got [${tail.join(', ')}]`);
  }
  for (const p of positions) {
    for (let k = 0; k < perPos; k++) out[p * perPos + k] = vec.data.length === 1 ? vec.data[0]! : vec.data[k]!;
  }
  return { type: 'float32', dims, data: out };
}
