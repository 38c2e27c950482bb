/**
 * The seeded generator every randomized test, fixture and bench uses, so a failure replays from
 * its seed: the engine's own mulberry32 (src/engine/prng.ts, which seeds generation), one
 * definition for both. Not for anything secret.
 */
export { mulberry32 as seededRandom } from '../../src/engine/prng';
