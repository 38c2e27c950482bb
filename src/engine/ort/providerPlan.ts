// What the 'auto' execution provider tries on each platform, and the platform checks behind it.
// Kept apart from session.ts, which loads onnxruntime's native addon, so the extension host can
// ask these questions (providerStatus.ts) without loading it.
import { existsSync, readdirSync } from 'node:fs';
import type { ExecutionProviderName } from '../types';

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
 * What 'auto' tries on a platform, fastest first. The platform and the GPU check are passed in so
 * unit tests cover every branch on one machine. Only Linux is checked through device nodes: on
 * macOS onnxruntime's WebGPU provider runs on Metal and on Windows on D3D12, neither of which has a
 * software fallback as slow as lavapipe, so webgpu is simply tried there (a failure falls back to
 * the CPU with a notice). onnxruntime-node ships no CUDA provider for macOS.
 */
export function autoProviderPlan(platform: NodeJS.Platform, gpuPresent: () => boolean = gpuDevicePresent): ProviderPlan {
  switch (platform) {
    case 'linux':
      if (gpuPresent()) return { order: AUTO_ORDER, skipped: [] };
      return {
        order: AUTO_ORDER.filter((p) => p !== 'webgpu'),
        skipped: ['webgpu skipped: no GPU device node (/dev/nvidia*, /dev/dri/renderD*)'],
      };
    case 'darwin':
      return { order: ['webgpu', 'cpu'], skipped: [] };
    case 'win32':
      return { order: AUTO_ORDER, skipped: [] };
    default:
      return { order: ['cpu'], skipped: [`cuda and webgpu skipped: onnxruntime-node has no GPU provider on ${platform}`] };
  }
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
