// Every position's logits, as a readout: what `run()` returns for a long prompt. As a readout it
// can be answered in windows of positions (readoutWindows.ts), so a 1,024-token run's [pos, d_vocab]
// logits exist once, in the array returned, instead of also in the session's arena (which would
// keep that peak, 206 MB for GPT-2, for as long as the session lives).
import type { Readout } from './readout';

/** Answers `logits` [batch, pos, d_vocab_out], the unembedding's output at every position. */
export function logitsReadout(): Readout {
  return {
    key: 'logits',
    windows: 'rows', // position p's row is p's logits
    params: {},
    emit(g) {
      g.output('logits', g.b.op('Identity', [g.logits]));
    },
  };
}
