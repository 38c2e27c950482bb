// Getting the model the settings name, for whichever feature needs weights first: the cache
// without a word, a download behind a cancellable notification with MB/s and time left, and
// a plain offer of the built-in demo model (random weights) when nothing can be had.
import * as vscode from 'vscode';
import { join } from 'node:path';
import {
  HubError,
  describeModel,
  describeProgress,
  hubSettings,
  isHubError,
  resolveDemoModel,
  resolveModel,
  type DownloadProgress,
  type ResolvedModel,
} from '../../engine/hub';
import { readModelSetting, type ModelSetting } from './modelSettings';

export type { ResolvedModel };

export const SELECT_MODEL_COMMAND = 'modelLens.selectModel';

const USE_DEMO = 'Use Demo Model (random weights)';
const SELECT = 'Select Model…';
const RETRY = 'Retry';

// One acquisition per setting at a time: two panels opening together share one notification.
const pending = new Map<string, Promise<ResolvedModel>>();
// Once the user accepted the demo model for a spec, do not ask again this session.
const demoAccepted = new Set<string>();
let warnedUntrusted = false;

/**
 * The model from modelLens.model / modelLens.revision, ready for loadCheckpoint. Rejects with
 * vscode.CancellationError when cancelled, or with the HubError when the user declined the demo.
 */
export function acquireModel(context: vscode.ExtensionContext, token?: vscode.CancellationToken): Promise<ResolvedModel> {
  const setting = readModelSetting();
  warnIfUntrusted(setting);
  const key = `${setting.spec}@${setting.revision ?? ''}`;
  let p = pending.get(key);
  if (!p) {
    p = acquire(context, setting, key).finally(() => pending.delete(key));
    pending.set(key, p);
  }
  return raceCancellation(p, token);
}

async function acquire(context: vscode.ExtensionContext, setting: ModelSetting, key: string): Promise<ResolvedModel> {
  const demoCacheDir = join(context.globalStorageUri.fsPath, 'demo-model');
  if (demoAccepted.has(key)) return resolveDemoModel({ demoCacheDir, reason: 'chosen earlier in this session' });
  const base = { revision: setting.revision, demoCacheDir };
  for (;;) {
    try {
      // The cache (or a local folder) first, with no network and no notification.
      try {
        return await resolveModel(setting.spec, { ...base, offline: true });
      } catch (err) {
        if (!isHubError(err, 'offline') || offlineByEnvironment()) throw err;
      }
      return await downloadWithNotification(setting, base);
    } catch (err) {
      if (err instanceof vscode.CancellationError || isHubError(err, 'cancelled')) throw new vscode.CancellationError();
      const choice = await offerAlternatives(setting.spec, err);
      if (choice === RETRY) continue;
      if (choice === USE_DEMO) {
        demoAccepted.add(key);
        return resolveDemoModel({ demoCacheDir, reason: err instanceof Error ? err.message : String(err) });
      }
      if (choice === SELECT) void vscode.commands.executeCommand(SELECT_MODEL_COMMAND);
      throw err;
    }
  }
}

function downloadWithNotification(setting: ModelSetting, base: { revision?: string; demoCacheDir: string }): Promise<ResolvedModel> {
  return Promise.resolve(
    vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: `Model Lens: getting ${setting.spec}`, cancellable: true },
      async (progress, token) => {
        const controller = new AbortController();
        const sub = token.onCancellationRequested(() => controller.abort());
        // withProgress's bar moves by increments; keep the last percentage per file.
        const lastPct = new Map<string, number>();
        const onProgress = (p: DownloadProgress): void => {
          let increment: number | undefined;
          if (p.total && p.file === 'model.safetensors') {
            const pct = (100 * p.bytes) / p.total;
            increment = pct - (lastPct.get(p.file) ?? 0);
            lastPct.set(p.file, pct);
          }
          progress.report({ message: describeProgress(p), increment });
        };
        try {
          progress.report({ message: 'asking the Hugging Face Hub…' });
          const model = await resolveModel(setting.spec, { ...base, signal: controller.signal, onProgress });
          void vscode.window.setStatusBarMessage(`Model Lens: ${describeModel(model)} ready`, 5_000);
          return model;
        } finally {
          sub.dispose();
        }
      },
    ),
  );
}

async function offerAlternatives(spec: string, err: unknown): Promise<string | undefined> {
  const message = err instanceof Error ? err.message : String(err);
  const retryable = err instanceof HubError && (err.code === 'network' || err.code === 'http' || err.code === 'disk-full');
  const buttons = retryable ? [USE_DEMO, SELECT, RETRY] : [USE_DEMO, SELECT];
  return vscode.window.showWarningMessage(
    `Model Lens could not get the model "${spec}". ${message} You can use the built-in demo model instead: it has GPT-2's vocabulary but random weights, so its predictions mean nothing.`,
    ...buttons,
  );
}

/** HF_HUB_OFFLINE as the engine reads it: then the cache-only miss is the final answer. */
function offlineByEnvironment(): boolean {
  return hubSettings().offline;
}

function warnIfUntrusted(setting: ModelSetting): void {
  if (setting.ignored.length === 0 || warnedUntrusted) return;
  warnedUntrusted = true;
  void vscode.window.showInformationMessage(
    `Model Lens ignores this workspace's ${setting.ignored.join(' and ')} because the workspace is not trusted; using "${setting.spec}" from your user settings.`,
  );
}

function raceCancellation<T>(p: Promise<T>, token: vscode.CancellationToken | undefined): Promise<T> {
  if (!token) return p;
  if (token.isCancellationRequested) return Promise.reject(new vscode.CancellationError());
  return new Promise<T>((resolvePromise, reject) => {
    const sub = token.onCancellationRequested(() => {
      sub.dispose();
      reject(new vscode.CancellationError());
    });
    p.then(
      (v) => {
        sub.dispose();
        resolvePromise(v);
      },
      (e: unknown) => {
        sub.dispose();
        reject(e);
      },
    );
  });
}
