// bf16 weights take about half of fp32's memory (ModelOptions.dtype 'bf16'), as fp16's do: the
// same measurement (helpers/halfMemory.ts), in a process of its own.
import { describeHalfMemory } from './helpers/halfMemory';

describeHalfMemory('bf16');
