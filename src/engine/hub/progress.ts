// Download progress as people want to read it: bytes so far, total, speed over the last few
// seconds (not since the start, so a stall shows at once), and time left at that speed.

export interface DownloadProgress {
  readonly repoId: string;
  readonly file: string;
  /** Bytes of the file on disk so far, including any resumed prefix. */
  readonly bytes: number;
  /** Size of the file, when the Hub said. */
  readonly total: number | undefined;
  /** Bytes per second over the recent window; 0 until there is a measurement. */
  readonly bytesPerSecond: number;
  /** Seconds left at the current speed; undefined when unknown. */
  readonly etaSeconds: number | undefined;
  /** Bytes that were already on disk from an earlier, interrupted attempt. */
  readonly resumedFrom: number;
}

export type ProgressCallback = (p: DownloadProgress) => void;

const WINDOW_MS = 5_000;
const EMIT_EVERY_MS = 100;

/** Accumulates byte counts and emits throttled progress events. */
export class ProgressMeter {
  private readonly samples: { t: number; bytes: number }[] = [];
  private lastEmit = 0;
  private bytes: number;

  constructor(
    private readonly repoId: string,
    private readonly file: string,
    private readonly total: number | undefined,
    private readonly resumedFrom: number,
    private readonly emit: ProgressCallback | undefined,
    private readonly now: () => number = Date.now,
  ) {
    this.bytes = resumedFrom;
    this.samples.push({ t: this.now(), bytes: resumedFrom });
  }

  add(n: number): void {
    this.bytes += n;
    const t = this.now();
    this.samples.push({ t, bytes: this.bytes });
    while (this.samples.length > 2 && t - this.samples[0]!.t > WINDOW_MS) this.samples.shift();
    if (t - this.lastEmit >= EMIT_EVERY_MS) this.report();
  }

  /** Always emits, for the first and last event. */
  report(): void {
    this.lastEmit = this.now();
    this.emit?.(this.snapshot());
  }

  snapshot(): DownloadProgress {
    const first = this.samples[0]!;
    const last = this.samples[this.samples.length - 1]!;
    const dt = (last.t - first.t) / 1000;
    const bytesPerSecond = dt > 0 ? (last.bytes - first.bytes) / dt : 0;
    const etaSeconds = this.total !== undefined && bytesPerSecond > 0 ? Math.max(0, (this.total - this.bytes) / bytesPerSecond) : undefined;
    return {
      repoId: this.repoId,
      file: this.file,
      bytes: this.bytes,
      total: this.total,
      bytesPerSecond,
      etaSeconds,
      resumedFrom: this.resumedFrom,
    };
  }
}

export function formatBytes(n: number): string {
  if (n < 1000) return `${n} B`;
  if (n < 1e6) return `${(n / 1e3).toFixed(1)} kB`;
  if (n < 1e9) return `${(n / 1e6).toFixed(1)} MB`;
  return `${(n / 1e9).toFixed(2)} GB`;
}

export function formatDuration(seconds: number): string {
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

/** "model.safetensors 123.4 MB / 548.1 MB · 12.3 MB/s · 35 s left" */
export function describeProgress(p: DownloadProgress): string {
  const size = p.total !== undefined ? `${formatBytes(p.bytes)} / ${formatBytes(p.total)}` : formatBytes(p.bytes);
  const speed = p.bytesPerSecond > 0 ? ` · ${(p.bytesPerSecond / 1e6).toFixed(1)} MB/s` : '';
  const eta = p.etaSeconds !== undefined ? ` · ${formatDuration(p.etaSeconds)} left` : '';
  return `${p.file} ${size}${speed}${eta}`;
}
