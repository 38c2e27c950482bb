// Hook points copied out as they are, for a view that answers later from held copies (the logit
// lens and DLA read a few small [pos, d_model] tensors; holding them costs less than re-running
// the forward). Answers are named after the hooks.
import type { Readout } from './readout';

export function held(hooks: readonly string[]): Readout {
  return {
    key: `held:${hooks.join(',')}`, // the hooks fix the outputs, so they are part of the key
    params: {},
    emit(g) {
      for (const h of hooks) g.output(h, h);
    },
  };
}
