// A model load's progress as the user reads it (notification, activation panel), and the panel's
// act/busy message that carries it, checked against its schema.
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { describeLoadProgress, loadFraction } from '../../src/extension/activation/loadProgressText';
import { activationHostSchemas } from '../../src/protocol/activation';
import { validateEnvelope } from '../../src/protocol/envelope';
import type { LoadProgress } from '../../src/engine/model';

describe('load progress text', () => {
  it('says the bytes read in megabytes, then the later stages', () => {
    assert.equal(
      describeLoadProgress({ stage: 'read', done: 120_400_000, total: 548_100_000 }, 'en').detail,
      'reading weights 120 / 548 MB',
    );
    assert.equal(describeLoadProgress({ stage: 'read', done: 1_250_000, total: 3_400_000 }, 'en').detail, 'reading weights 1.3 / 3.4 MB');
    assert.equal(describeLoadProgress({ stage: 'process' }, 'en').detail, 'processing weights');
    assert.equal(describeLoadProgress({ stage: 'sessions', done: 0, total: 1 }, 'en').detail, 'building sessions');
  });

  it('moves forward through a whole load, from 0 to 1, never back', () => {
    const steps: LoadProgress[] = [
      { stage: 'read', done: 0, total: 100 },
      { stage: 'read', done: 40, total: 100 },
      { stage: 'read', done: 100, total: 100 },
      { stage: 'process' },
      { stage: 'sessions', done: 0, total: 1 },
      { stage: 'sessions', done: 1, total: 1 },
    ];
    const fractions = steps.map(loadFraction);
    assert.equal(fractions[0], 0);
    assert.equal(fractions.at(-1), 1);
    for (let i = 1; i < fractions.length; i++) assert.ok(fractions[i]! >= fractions[i - 1]!, `step ${i}: ${fractions.join(', ')}`);
    assert.ok(fractions[1]! > fractions[0]! && fractions[1]! < fractions[2]!);
  });

  it('act/busy carries the detail and fraction, and the schema refuses a fraction outside 0..1', () => {
    const base = { type: 'act/busy', label: 'Loading the model…', phase: 'loading' };
    validateEnvelope({ id: 1, body: base }, activationHostSchemas);
    validateEnvelope({ id: 2, body: { ...base, detail: 'reading weights 1.3 / 3.4 MB', fraction: 0.27 } }, activationHostSchemas);
    assert.throws(() => validateEnvelope({ id: 3, body: { ...base, fraction: 1.5 } }, activationHostSchemas), /field fraction/);
    assert.throws(() => validateEnvelope({ id: 4, body: { ...base, fraction: Number.NaN } }, activationHostSchemas), /field fraction/);
    assert.throws(() => validateEnvelope({ id: 5, body: { ...base, detail: 42 } }, activationHostSchemas), /field detail/);
  });
});
