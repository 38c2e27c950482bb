// Client of bench/torch_gpt2.py: one long-lived Python process answering JSON lines, so torch
// and the engine are measured interleaved in the same run on the same weights.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';
import { join } from 'node:path';

/** Debian's interpreter: python3-torch is installed for it, not for a pyenv python3 on PATH. */
export const TORCH_PYTHON = process.env.MODEL_LENS_BENCH_PYTHON ?? '/usr/bin/python3';

export interface TorchInfo {
  readonly torch: string;
  readonly threads: number;
  /** BLAS/LAPACK libraries mapped into the process (from /proc/self/maps). */
  readonly blas: readonly string[];
  readonly matmul1024_gflops: number;
  readonly omp_wait_policy: string;
  readonly rss_mib: number;
  readonly load_s: number;
}

/** One forward of the peer, timed inside Python (the pipe round trip is not counted). */
export interface TorchForward {
  readonly ms: number;
  /** CPU time of every thread of the peer during the forward. */
  readonly cpu_ms: number;
  readonly rss_before_mib: number;
  /** VmHWM reset before the forward and read after it. */
  readonly peak_rss_mib: number;
  /** Activations kept (0 without keep). */
  readonly kept: number;
}

export class TorchPeer {
  private readonly pending: ((line: string) => void)[] = [];
  private exited: string | null = null;

  private constructor(private readonly proc: ChildProcessWithoutNullStreams) {
    createInterface({ input: proc.stdout }).on('line', (line) => this.pending.shift()?.(line));
    let stderr = '';
    proc.stderr.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-2000);
    });
    proc.on('exit', (code, signal) => {
      this.exited = `the torch peer exited (${signal ?? `code ${code}`}): ${stderr.trim().split('\n').slice(-3).join(' | ')}`;
      for (const p of this.pending.splice(0)) p(JSON.stringify({ error: this.exited }));
    });
  }

  /** Starts the peer on `folder`; it loads the checkpoint before answering its first line. */
  static start(folder: string, threads: number): { peer: TorchPeer; ready: Promise<{ load_s: number }> } {
    const proc = spawn(TORCH_PYTHON, [join(__dirname, 'torch_gpt2.py'), folder, String(threads)], {
      // torch.set_num_threads covers OpenMP; Debian's torch calls BLAS through libblas.so.3, and
      // OpenBLAS's pthread build (when it provides that) has its own pool, which torch does not
      // size. OpenMP threads that spin-wait after each parallel region then fight OpenBLAS's
      // threads for the cores: measured 3-8x slower forwards here, so they sleep instead.
      env: {
        ...process.env,
        OMP_NUM_THREADS: String(threads),
        OPENBLAS_NUM_THREADS: String(threads),
        MKL_NUM_THREADS: String(threads),
        OMP_WAIT_POLICY: process.env.OMP_WAIT_POLICY ?? 'PASSIVE',
      },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const peer = new TorchPeer(proc);
    return { peer, ready: peer.next<{ load_s: number }>(600_000) };
  }

  info(): Promise<TorchInfo> {
    return this.request<TorchInfo>({ cmd: 'info' }, 120_000);
  }

  forward(tokens: readonly number[], keep: boolean, timeoutMs: number): Promise<TorchForward> {
    return this.request<TorchForward>({ cmd: 'forward', tokens, keep }, timeoutMs);
  }

  /** Greedy generation of `maxNew` tokens on a key/value cache, timed inside Python. */
  generate(tokens: readonly number[], maxNew: number, timeoutMs: number): Promise<{ ms: number; ids: number[] }> {
    return this.request<{ ms: number; ids: number[] }>({ cmd: 'generate', tokens, max_new: maxNew }, timeoutMs);
  }

  /**
   * TransformerLens's from_pretrained processing of the loaded weights, in torch (torch_gpt2.py
   * tl_process), timed inside Python. The weights are processed into new tensors and dropped
   * (the peer's forward is unchanged), but for those named in `dump` ('3.W_Q', 'W_U': its keys),
   * written to `dir` as raw float32, KEY.f32.
   */
  process(dump: readonly string[] = [], dir = ''): Promise<{ process_s: number; written: string[] }> {
    return this.request<{ process_s: number; written: string[] }>({ cmd: 'process', dump, dir }, 300_000);
  }

  /** Converts every weight to `dtype` (TransformerLens's from_pretrained dtype); later forwards compute in it. */
  toDtype(dtype: 'float32' | 'bfloat16'): Promise<{ ms: number; rss_mib: number }> {
    return this.request<{ ms: number; rss_mib: number }>({ cmd: 'dtype', dtype }, 120_000);
  }

  /** Logits [pos, d_vocab] as float32, written by the peer to `path`. */
  logits(tokens: readonly number[], path: string): Promise<{ dims: number[] }> {
    return this.request<{ dims: number[] }>({ cmd: 'logits', tokens, path }, 300_000);
  }

  async close(): Promise<void> {
    if (this.exited !== null) return;
    const gone = new Promise<void>((resolve) => this.proc.once('exit', () => resolve()));
    this.proc.stdin.end(JSON.stringify({ cmd: 'quit' }) + '\n');
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), 10_000);
    await gone;
    clearTimeout(timer);
  }

  private request<T>(body: object, timeoutMs: number): Promise<T> {
    if (this.exited !== null) return Promise.reject(new Error(this.exited));
    const reply = this.next<T>(timeoutMs);
    this.proc.stdin.write(JSON.stringify(body) + '\n');
    return reply;
  }

  private next<T>(timeoutMs: number): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        // A peer that overran cannot answer the next request in order; stop it.
        this.proc.kill('SIGKILL');
        reject(new Error(`the torch peer did not answer within ${timeoutMs / 1000} s`));
      }, timeoutMs);
      this.pending.push((line) => {
        clearTimeout(timer);
        let parsed: unknown;
        try {
          parsed = JSON.parse(line);
        } catch {
          reject(new Error(`the torch peer wrote a line that is not JSON: ${line.slice(0, 200)}`));
          return;
        }
        const err = (parsed as { error?: unknown }).error;
        if (typeof err === 'string') reject(new Error(err));
        else resolve(parsed as T);
      });
    });
  }
}
