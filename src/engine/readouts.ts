// "Forward + these readouts" as one graph: the readouts of kernels/readouts/ are appended to the
// forward graph, the graph's outputs become only their answers, and every node that no answer
// needs is dropped (a layer-0 head pattern runs layer 0 only; no readout that skips the logits
// pays for the unembedding); hook points held from an earlier run can be given as inputs, and
// then nothing before them runs. HookedGPT2.readout() opens one session per readout set
// (ReadoutSessions) and fetches only the answers.
import type { ReadoutAnswer, Readout, ReadoutGraph } from '../../kernels/readouts/readout';
import type { GraphBuilder } from './onnx/builder';
import type { GraphIR, NodeDef } from './onnx/ir';
import { viewAfter } from './onnx/viewAfter';
import type { EngineSession, HostTensor } from './ort/session';
import type { GPT2Weights, HookedGPT2Config } from './types';

export type { Readout, ReadoutAnswer } from '../../kernels/readouts/readout';

/** The graph name of readout `key`'s answer or parameter `name`; '/' keeps it out of TransformerLens's namespace. */
export function readoutTensorName(key: string, name: string): string {
  return `readout/${key}/${name}`;
}

/** The graph input of readout `key`'s per-call parameter `name` (apart from its answers, which may share a name). */
export function readoutParamName(key: string, name: string): string {
  return `readout/${key}/param:${name}`;
}

/** The variant key of a readout set: the readouts' keys, which fix the nodes (parameters do not). */
export function readoutSetKey(readouts: readonly Readout[]): string {
  const keys = readouts.map((r) => r.key);
  if (new Set(keys).size !== keys.length) throw new Error(`readouts asked twice in one request: ${keys.join(', ')}`);
  return keys.join('+');
}

/** Appends the readouts' nodes after the forward graph; returns their answers' graph names. */
export function emitReadouts(
  b: GraphBuilder,
  cfg: HookedGPT2Config,
  weights: GPT2Weights,
  tokens: string,
  logits: string,
  readouts: readonly Readout[],
  attentionMask: string | null = null,
): { outputs: string[]; order: [string, string][] } {
  const outputs: string[] = [];
  const order: [string, string][] = [];
  let next: string | null = null;
  for (const r of readouts) {
    const g: ReadoutGraph = {
      b,
      cfg,
      weights,
      tokens,
      logits,
      attentionMask,
      param(name) {
        const p = r.params[name];
        if (p === undefined) throw new Error(`internal: readout ${r.key} reads parameter '${name}' it did not declare`);
        const input = readoutParamName(r.key, name);
        return b.has(input) ? input : b.input(input, p.type, [p.values.length]);
      },
      before(tensor, hook) {
        order.push([tensor, hook]);
      },
      output(name, tensor) {
        const out = b.op('Identity', [tensor], undefined, { out: readoutTensorName(r.key, name) });
        b.output(out, null);
        outputs.push(out);
      },
      nextTokens() {
        next ??= b.once('readout/nextTokens', () => {
          // tokens[:, 1:] with a 0 appended: the token that follows each position. [batch, pos, 1]
          const shifted = b.op('Slice', [tokens, b.ints([1]), b.ints([Number.MAX_SAFE_INTEGER]), b.ints([1])]);
          const pad = b.op('Slice', [b.op('Mul', [tokens, b.constant('int64', [0], [])]), b.ints([0]), b.ints([1]), b.ints([1])]);
          return b.op('Unsqueeze', [b.op('Concat', [shifted, pad], { axis: { i: 1 } }), b.ints([2])]);
        });
        return next;
      },
    };
    r.emit(g);
  }
  return { outputs, order };
}

/**
 * The graph with `tensor` computed before hook point `hook`, for each pair: the hook's value
 * passes through viewAfter (onnx/viewAfter.ts), which changes no value but makes the hook wait
 * for the tensor. onnxruntime otherwise runs a readout's nodes
 * after the whole forward, whatever their order in the graph (tried: moving them up, one output
 * per layer), so a readout of every layer's pattern kept all of them alive: +710 MiB of arena at
 * 1,024 tokens, GPT-2 small shape, against +183 for one layer's.
 */
export function orderBefore(g: GraphIR, pairs: readonly (readonly [string, string])[]): GraphIR {
  if (pairs.length === 0) return g;
  const nodes = [...g.nodes];
  const types = new Map(g.types);
  pairs.forEach(([tensor, hook], k) => {
    const at = nodes.findIndex((n) => n.outputs.includes(hook));
    if (at < 0) return; // the hook is not computed in this graph
    const node = nodes[at]!;
    const raw = node.inputs[0]!;
    const value = `order/${k}/value`;
    nodes.push(...viewAfter(raw, tensor, value, types.get(raw) ?? 'float32', types));
    nodes[at] = { ...node, inputs: [value, ...node.inputs.slice(1)] };
  });
  return { ...g, nodes: topologicalOrder(nodes, new Set([...g.inputs.map((v) => v.name), ...g.initializers.keys()])), types };
}

/** Nodes in an order where each comes after the producers of its inputs, otherwise as given. */
function topologicalOrder(nodes: readonly NodeDef[], given: ReadonlySet<string>): NodeDef[] {
  const producer = new Map<string, number>();
  nodes.forEach((n, i) => n.outputs.forEach((o) => producer.set(o, i)));
  const out: NodeDef[] = [];
  const state = new Uint8Array(nodes.length); // 0 new, 1 on the stack, 2 placed
  for (let root = 0; root < nodes.length; root++) {
    if (state[root]) continue;
    const stack: [number, number][] = [[root, 0]];
    state[root] = 1;
    while (stack.length > 0) {
      const top = stack[stack.length - 1]!;
      const [i, k] = top;
      const inputs = nodes[i]!.inputs;
      if (k < inputs.length) {
        top[1]++;
        const p = inputs[k] === '' || given.has(inputs[k]!) ? undefined : producer.get(inputs[k]!);
        if (p === undefined || state[p] === 2) continue;
        if (state[p] === 1) throw new Error(`internal: a cycle through '${inputs[k]}'`);
        state[p] = 1;
        stack.push([p, 0]);
        continue;
      }
      stack.pop();
      state[i] = 2;
      out.push(nodes[i]!);
    }
  }
  return out;
}

/**
 * The graph with only `outputs` as outputs and only the nodes, initializers and inputs they need.
 * `given` tensors (hook points held from an earlier run of the same tokens and interventions)
 * become graph inputs: their producers, and everything only those producers needed, are dropped,
 * so a question about layer 5 asked with layer 5's resid_pre given runs layer 5 alone.
 */
export function pruneGraph(g: GraphIR, outputs: readonly string[], given: ReadonlySet<string> = new Set()): GraphIR {
  const needed = new Set(outputs);
  const kept: boolean[] = new Array<boolean>(g.nodes.length).fill(false);
  for (let i = g.nodes.length - 1; i >= 0; i--) {
    const n = g.nodes[i]!;
    if (!n.outputs.some((o) => needed.has(o) && !given.has(o))) continue;
    kept[i] = true;
    for (const x of n.inputs) needed.add(x);
  }
  const wanted = new Set(outputs);
  const fed = [...given].filter((t) => needed.has(t) && !g.inputs.some((v) => v.name === t));
  for (const t of fed) if (!g.types.has(t)) throw new Error(`internal: given tensor '${t}' is not in the graph`);
  return {
    ...g,
    nodes: g.nodes.filter((_, i) => kept[i]),
    initializers: new Map([...g.initializers].filter(([k]) => needed.has(k))),
    inputs: [...g.inputs.filter((v) => needed.has(v.name)), ...fed.map((t) => ({ name: t, type: g.types.get(t)!, dims: null }))],
    outputs: g.outputs.filter((v) => wanted.has(v.name)),
  };
}

/** Every readout's parameters as graph feeds. */
export function readoutFeeds(readouts: readonly Readout[], inputs: readonly string[]): Record<string, HostTensor> {
  const feeds: Record<string, HostTensor> = {};
  for (const r of readouts) {
    for (const [name, p] of Object.entries(r.params)) {
      const input = readoutParamName(r.key, name);
      if (!inputs.includes(input)) continue; // a parameter no answer depends on was pruned away
      feeds[input] = { type: 'int64', dims: [p.values.length], data: BigInt64Array.from(p.values, (v) => BigInt(v)) };
    }
  }
  return feeds;
}

/** Session outputs back to answers by readout key and answer name. */
export function readoutAnswers(readouts: readonly Readout[], out: Record<string, HostTensor>): Map<string, ReadoutAnswer> {
  const answers = new Map<string, ReadoutAnswer>();
  for (const r of readouts) {
    const prefix = readoutTensorName(r.key, '');
    const mine: Record<string, { dims: readonly number[]; data: Float32Array | BigInt64Array }> = {};
    for (const [name, t] of Object.entries(out)) {
      if (!name.startsWith(prefix) || name.includes('/param:')) continue;
      if (!(t.data instanceof Float32Array) && !(t.data instanceof BigInt64Array))
        throw new Error(`internal: readout answer '${name}' is neither float32 nor int64`);
      mine[name.slice(prefix.length)] = { dims: [...t.dims], data: t.data };
    }
    answers.set(r.key, mine);
  }
  return answers;
}

/** Sessions per readout set, least recently used released first; all released on dispose or a provider switch. */
export class ReadoutSessions {
  private readonly sessions = new Map<string, Promise<EngineSession>>();

  constructor(private readonly max = 6) {}

  get(key: string, open: () => Promise<EngineSession>): Promise<EngineSession> {
    const hit = this.sessions.get(key);
    if (hit !== undefined) {
      this.sessions.delete(key);
      this.sessions.set(key, hit);
      return hit;
    }
    const made = open();
    this.sessions.set(key, made);
    made.catch(() => {
      if (this.sessions.get(key) === made) this.sessions.delete(key);
    });
    while (this.sessions.size > this.max) {
      const oldest = this.sessions.keys().next().value!;
      const evicted = this.sessions.get(oldest)!;
      this.sessions.delete(oldest);
      void evicted.then(
        (s) => s.release(),
        () => undefined,
      );
    }
    return made;
  }

  get size(): number {
    return this.sessions.size;
  }

  /** Releases every session (the onnxruntime arena memory its runs grew goes with it). */
  async releaseAll(): Promise<void> {
    const all = [...this.sessions.values()];
    this.sessions.clear();
    await Promise.all(all.map(async (p) => (await p.catch(() => null))?.release()));
  }
}
