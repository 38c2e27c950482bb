// Process environment onnxruntime reads when it creates its environment (the first session).
//
// Why ORT_DISABLE_TELEMETRY: on Linux, onnxruntime-node 1.30's telemetry start-up reads
// /proc/self/cmdline and matches it with a std::regex, whose matcher recurses once per
// character. A command line of about 30 KB or more (`model-lens run --text <40 KB>`) overflows
// the main thread's 8 MB stack: a segmentation fault (exit 139) before any session exists,
// reproduced with a bare InferenceSession.create and a 32 KB argument (gdb: ~87,000 frames of
// three functions cycling, under OrtSingletonData::InitOrtObjects). With telemetry disabled that
// code never runs; Model Lens sends nothing anywhere in any case.
//
// A native library reads the variable with getenv, so it must be in the real process
// environment. Assigning process.env does that on the main thread only: in a worker_threads
// worker, process.env is a private copy, so whoever starts an engine worker sets it in its own
// (main-thread) process.env first (see ortEnvironmentForWorkers).
import { isMainThread } from 'node:worker_threads';

export const ORT_TELEMETRY_VARIABLE = 'ORT_DISABLE_TELEMETRY';

/** Sets what onnxruntime must see before its first session; a value the user set is kept. */
export function prepareOrtEnvironment(env: NodeJS.ProcessEnv = process.env): void {
  if (env[ORT_TELEMETRY_VARIABLE] === undefined) env[ORT_TELEMETRY_VARIABLE] = '1';
}

/** For the thread that starts an engine worker: call before `new Worker(...)`. Same as prepareOrtEnvironment. */
export const ortEnvironmentForWorkers = prepareOrtEnvironment;

// On import: the CLI and the tests load onnxruntime on the main thread.
if (isMainThread) prepareOrtEnvironment();
