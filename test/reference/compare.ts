// The parity metric (relErr, worst) lives in test/support/compare.ts with the other comparison
// helpers; this name stays for the reference tests that import it from here.
export { relErr, worst, TINY, type HookError } from '../support/compare';
