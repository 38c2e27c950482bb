// The activation panel's messages for ablation sources, steering and compare are validated before
// use: well-formed ones pass, and each malformed field is named.
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { activationHostSchemas, activationWebviewSchemas, MAX_FIELD_PROMPT } from '../../src/protocol/activation';
import { validateEnvelope } from '../../src/protocol/envelope';

const ok = (body: unknown): unknown => validateEnvelope({ id: 1, body }, activationWebviewSchemas);
const bad = (body: unknown, field: RegExp): void => assert.throws(() => ok(body), field);

describe('activation protocol: ablation methods, steering, compare', () => {
  it('an ablation may name its method; an unknown method is refused', () => {
    ok({ type: 'act/ablate', ablation: { kind: 'head', layer: 1, index: 2 } });
    ok({ type: 'act/ablate', ablation: { kind: 'neuron', layer: 0, index: 7, method: 'resample' } });
    bad({ type: 'act/ablate', ablation: { kind: 'head', layer: 1, index: 2, method: 'noise' } }, /field ablation/);
  });

  it('mean source, resample prompt and steering are checked', () => {
    ok({ type: 'act/meanSource', from: 'file' });
    bad({ type: 'act/meanSource', from: '/etc/passwd' }, /field from/);
    ok({ type: 'act/resamplePrompt', text: 'A slow grey cat' });
    bad({ type: 'act/resamplePrompt', text: 'x'.repeat(MAX_FIELD_PROMPT + 1) }, /field text/);
    ok({ type: 'act/steer', steering: null });
    ok({ type: 'act/steer', steering: { plus: ' Love', minus: ' Hate', layer: 6, coefficient: -4.5 } });
    bad({ type: 'act/steer', steering: { plus: ' Love', minus: ' Hate', layer: 6, coefficient: Number.NaN } }, /field steering/);
    bad({ type: 'act/steer', steering: { plus: ' Love', minus: ' Hate', layer: -1, coefficient: 1 } }, /field steering/);
    bad({ type: 'act/steer', steering: { plus: ' Love', layer: 6, coefficient: 1 } }, /field steering/);
  });

  it('steerTop and compare requests and replies are checked', () => {
    ok({ type: 'act/steerTop', runId: 3 });
    ok({ type: 'act/compare', runId: 3, other: null, layer: 0, head: 1 });
    ok({ type: 'act/compare', runId: 3, other: 'another prompt', layer: 0, head: 1 });
    bad({ type: 'act/compare', runId: 3, other: 5, layer: 0, head: 1 }, /field other/);
    const reply = {
      type: 'act/steerTopData',
      withIds: Int32Array.of(1, 2),
      withProbs: Float32Array.of(0.5, 0.2),
      withoutIds: Int32Array.of(2, 1),
      withoutProbs: Float32Array.of(0.6, 0.1),
      stringIds: Int32Array.of(1, 2),
      strings: ['a', 'b'],
    };
    validateEnvelope({ id: 2, inReplyTo: 1, body: reply }, activationHostSchemas);
    assert.throws(
      () => validateEnvelope({ id: 2, inReplyTo: 1, body: { ...reply, withProbs: [0.5, 0.2] } }, activationHostSchemas),
      /field withProbs/,
    );
  });
});
