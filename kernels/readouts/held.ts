// Hook points copied out as they are, for a view that answers later from held copies (the logit
// lens and DLA read a few small [pos, d_model] tensors; holding them costs less than re-running
// the forward). Each hook is an output of its own. They were one Concat of every hook, so that
// the copy handed back would be one allocation; but the session then held each hook and the
// Concat of them together in its arena, 76 hooks of 4 MiB twice at gpt2-medium's 1,024 tokens.
// Separate outputs: the first view's peak there is +955 MiB over the loaded model against +1,187,
// and what stays after the panel closes is the same (panelMemory.test.ts still passes).
import type { HeldActivations } from '../../src/engine/runState';
import type { Readout, ReadoutAnswer } from './readout';

export function held(hooks: readonly string[]): Readout {
  return {
    key: `held:${hooks.join(',')}`, // the hooks fix the outputs, so they are part of the key
    params: {},
    emit(g) {
      for (const h of hooks) g.output(heldName(h), g.b.op('Identity', [h]));
    },
  };
}

const heldName = (hook: string): string => `held/${hook}`;

/** The hooks of a `held(hooks)` answer by name. */
export function heldActivations(hooks: readonly string[], answer: ReadoutAnswer): HeldActivations {
  const out = new Map<string, { readonly dims: readonly number[]; readonly data: Float32Array }>();
  for (const h of hooks) {
    const a = answer[heldName(h)];
    if (a === undefined || !(a.data instanceof Float32Array)) throw new Error(`internal: the held answer has no float32 '${h}'`);
    out.set(h, { dims: [...a.dims], data: a.data });
  }
  return out;
}
