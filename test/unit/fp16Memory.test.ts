// fp16 weights take about half of fp32's memory (ModelOptions.dtype 'fp16'): the measurement is
// in helpers/halfMemory.ts, shared with bf16Memory.test.ts; each runs in its own process.
import { describeHalfMemory } from './helpers/halfMemory';

describeHalfMemory('fp16');
