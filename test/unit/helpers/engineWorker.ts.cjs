// Test-only worker entry: registers tsx's CommonJS hook, then runs the TypeScript worker source
// (the shipped build runs dist/engineWorker.js instead).
require('tsx/cjs');
require('../../../src/engine/worker/engineWorker.ts');
