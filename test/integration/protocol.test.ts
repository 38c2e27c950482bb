// The host/webview contract's validation and request bookkeeping (no webview needed, but it
// runs in the host like the code that uses it).
import assert from 'node:assert/strict';
import { PendingRequests, ProtocolError, validateEnvelope } from '../../src/protocol/envelope';
import { tokensHostSchemas, tokensWebviewSchemas } from '../../src/protocol/tokens';
import { vocabHostSchemas, vocabWebviewSchemas } from '../../src/protocol/vocab';

describe('Model Lens protocol', () => {
  it('accepts well-formed messages in both directions', () => {
    const hover = validateEnvelope({ id: 3, body: { type: 'tokens/hover', index: 7 } }, tokensWebviewSchemas);
    assert.equal(hover.body.type, 'tokens/hover');
    const result = validateEnvelope(
      {
        id: 1,
        body: {
          type: 'tokens/result',
          source: { label: 'a.txt', range: 'whole document', uri: 'file:///a.txt', start: 0, end: 2 },
          chars: 2,
          note: '',
          ids: Int32Array.of(64),
          starts: Uint32Array.of(0),
          ends: Uint32Array.of(2),
          vocabIds: Int32Array.of(64),
          vocabDisplays: ['a'],
          bosDisplay: '<|endoftext|>',
          prependBos: false,
        },
      },
      tokensHostSchemas,
    );
    assert.equal(result.body.type, 'tokens/result');
    const reply = validateEnvelope({ id: 9, inReplyTo: 2, body: { type: 'error', code: 'failed', message: 'x' } }, tokensHostSchemas);
    assert.equal(reply.inReplyTo, 2);
  });

  it('rejects malformed messages with a message naming the problem', () => {
    const cases: [unknown, RegExp][] = [
      [null, /not an object/],
      [{ id: -1, body: { type: 'ready' } }, /id/],
      [{ id: 1, body: { type: 'nope' } }, /unknown message type "nope"/],
      [{ id: 1, body: { type: 'tokens/hover', index: 'x' } }, /tokens\/hover: field index/],
      [{ id: 1, body: { type: 'tokens/reveal', index: 1.5 } }, /field index/],
      [{ id: 1, body: { type: 'copyText', text: 5, what: 'x' } }, /copyText: field text/],
      [{ id: 1, body: { type: '__proto__' } }, /unknown message type/],
    ];
    for (const [raw, re] of cases)
      assert.throws(
        () => validateEnvelope(raw, tokensWebviewSchemas),
        (e: Error) => e instanceof ProtocolError && re.test(e.message),
      );
    assert.throws(
      () => validateEnvelope({ id: 1, body: { type: 'vocab/search', query: 'a', mode: 'fuzzy' } }, vocabWebviewSchemas),
      /field mode/,
    );
    // Typed arrays must arrive as typed arrays, not JSON number arrays.
    assert.throws(
      () =>
        validateEnvelope(
          { id: 1, body: { type: 'vocab/results', query: '', mode: 'id', total: 1, ids: [1], displays: ['!'] } },
          vocabHostSchemas,
        ),
      /vocab\/results: field ids/,
    );
  });

  it('pending requests resolve on replies, reject on error replies and time out', async () => {
    const pending = new PendingRequests();
    const ok = pending.wait(1, 'copyText', 1000);
    const bad = pending.wait(2, 'copyText', 1000);
    const slow = pending.wait(3, 'vocab/search', 20);
    assert.equal(pending.settle(1, { type: 'copied' }), true);
    assert.equal(pending.settle(2, { type: 'error', code: 'failed', message: 'clipboard unavailable' } as never), true);
    assert.equal(pending.settle(99, { type: 'copied' }), false);
    assert.deepEqual(await ok, { type: 'copied' });
    await assert.rejects(bad, /failed: clipboard unavailable/);
    await assert.rejects(slow, /vocab\/search timed out after 20 ms/);
  });
});
