// What the 'auto' execution provider tries on each platform, and the platform checks behind it.
// Kept apart from session.ts, which loads onnxruntime's native addon, so the extension host can
// ask these questions (providerStatus.ts) without loading it.
import { existsSync, readdirSync } from 'node:fs';
import type { DeviceOption, ExecutionProviderName } from '../types';

/** Fastest first: 'auto' tries these in order and keeps the first that creates a session. */
export const AUTO_ORDER: readonly ExecutionProviderName[] = ['cuda', 'webgpu', 'cpu'];

/**
 * Linux only (device nodes under /dev; autoProviderPlan asks it on Linux alone): whether this
 * machine exposes a GPU to user space. 'auto' only tries webgpu when it does: on a
 * machine without one, Dawn can still find a software Vulkan adapter (Mesa's lavapipe), which
 * computes correctly but far slower than the CPU provider. Asking for 'webgpu' by name still
 * tries it (CI does, to test the webgpu path on lavapipe).
 */
export function gpuDevicePresent(): boolean {
  try {
    if (readdirSync('/dev').some((f) => /^nvidia\d+$/.test(f))) return true;
    return existsSync('/dev/dri') && readdirSync('/dev/dri').some((f) => f.startsWith('renderD'));
  } catch {
    return false;
  }
}

export interface ProviderPlan {
  readonly order: readonly ExecutionProviderName[];
  /** Providers left out of the order, each with why; joined into the fallback notice. */
  readonly skipped: readonly string[];
}

/**
 * The providers onnxruntime-node 1.30's binding for each target can append (besides the CPU), read
 * from the binaries it ships (the provider names compiled into each onnxruntime_binding.node):
 * CUDA only in linux-x64 (and only with its provider library installed), WebGPU in linux-x64,
 * darwin-arm64 and win32-x64/arm64, nothing but the CPU in linux-arm64. Trying a provider a build
 * lacks only fails, but the failure would then fill every fallback notice.
 */
const GPU_PROVIDERS_BUILT: Readonly<Record<string, readonly ExecutionProviderName[]>> = {
  'linux-x64': ['cuda', 'webgpu'],
  'linux-arm64': [],
  'darwin-arm64': ['webgpu'],
  'win32-x64': ['webgpu'],
  'win32-arm64': ['webgpu'],
};

/**
 * What 'auto' tries on a platform, fastest first. The platform, architecture and GPU check are
 * passed in so unit tests cover every branch on one machine. Only Linux is checked through device
 * nodes: on macOS onnxruntime's WebGPU provider runs on Metal and on Windows on D3D12, neither of
 * which has a software fallback as slow as lavapipe, so webgpu is simply tried there (a failure
 * falls back to the CPU with a notice).
 */
export function autoProviderPlan(
  platform: NodeJS.Platform,
  gpuPresent: () => boolean = gpuDevicePresent,
  arch: string = process.arch,
): ProviderPlan {
  const target = `${platform}-${arch}`;
  const built = GPU_PROVIDERS_BUILT[target];
  if (built === undefined || built.length === 0) {
    return { order: ['cpu'], skipped: [`cuda and webgpu skipped: onnxruntime-node has no GPU provider for ${target}`] };
  }
  const skipped: string[] = [];
  let order = AUTO_ORDER.filter((p) => p === 'cpu' || built.includes(p));
  if (platform === 'linux' && order.includes('webgpu') && !gpuPresent()) {
    order = order.filter((p) => p !== 'webgpu');
    skipped.push('webgpu skipped: no GPU device node (/dev/nvidia*, /dev/dri/renderD*)');
  }
  return { order, skipped };
}

/**
 * Whether sessions asked for on `device` can only run on the CPU provider, so that their graph may
 * use what only the CPU provider is used with (weightInputs.ts Bf16Decode 'bitcast'). 'auto' is
 * when no GPU provider is built for the platform, or, on Linux, when there is no GPU device node
 * at all (CUDA needs /dev/nvidia*, webgpu is skipped without one: autoProviderPlan).
 */
export function runsOnlyOnCpu(
  device: DeviceOption,
  platform: NodeJS.Platform = process.platform,
  gpuPresent: () => boolean = gpuDevicePresent,
  arch: string = process.arch,
): boolean {
  if (device === 'cpu') return true;
  if (device !== 'auto') return false;
  const noGpuNode = platform === 'linux' && !gpuPresent();
  return autoProviderPlan(platform, gpuPresent, arch).order.every((p) => p === 'cpu' || (p === 'cuda' && noGpuNode));
}

/**
 * Whether 'auto' ending on the CPU is news worth a notification on this platform. On macOS
 * (Metal) and Windows (D3D12) webgpu is expected to start on any machine, so landing on the CPU
 * means something is wrong; on Linux, 'auto' on the CPU is the normal case on a machine without
 * CUDA or a GPU device node, and the status bar's tooltip says why without interrupting.
 */
export function autoCpuFallbackIsNews(platform: NodeJS.Platform): boolean {
  return platform === 'darwin' || platform === 'win32';
}
