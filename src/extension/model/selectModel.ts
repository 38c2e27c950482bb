// "Model Lens: Select Model": a quick pick of the GPT-2 family and whatever else is in the
// Hugging Face cache, each saying whether it is cached or what it would cost to download,
// plus a local folder, any Hub id, and the built-in demo model; and below them the weight
// processing (TransformerLens's from_pretrained switches): a preset or a custom combination.
import { freemem } from 'node:os';
import * as vscode from 'vscode';
import { DEMO_MODEL_SPEC, canonicalRepoId, formatBytes, modelChoices, type ModelChoice } from '../../engine/hub';
import { memoryWarning, residentBytesNeeded } from '../../engine/hub/memoryNeed';
import { PROCESSING_PRESETS, presetOf, processingCall } from '../../engine/processing';
import { PROCESSING_SWITCHES, type ProcessingOptions } from '../../engine/types';
import { readModelSetting, readProcessingSetting, readWeightDtype, writeModelSetting, writeProcessingSetting } from './modelSettings';

interface Item extends vscode.QuickPickItem {
  readonly action:
    | { kind: 'spec'; spec: string; sizeBytes?: number }
    | { kind: 'folder' }
    | { kind: 'hubId' }
    | { kind: 'processing'; options: ProcessingOptions }
    | { kind: 'customProcessing' };
}

/** Shows the picker; returns the spec written to modelLens.model, or undefined when dismissed. */
export async function selectModel(): Promise<string | undefined> {
  const current = readModelSetting();
  const qp = vscode.window.createQuickPick<Item>();
  qp.title = 'Model Lens: Select Model';
  qp.placeholder = `Current: ${current.spec}${current.revision ? `@${current.revision}` : ''}`;
  qp.matchOnDescription = true;
  qp.busy = true;
  const cts = new AbortController();
  try {
    // The cache and the approximate sizes at once, then exact sizes from the Hub when it answers.
    qp.items = toItems(await modelChoices({ offline: true, revision: current.revision }), current.spec);
    qp.show();
    void modelChoices({ revision: current.revision, signal: cts.signal })
      .then((choices) => {
        if (cts.signal.aborted) return;
        const active = qp.activeItems[0]?.label;
        qp.items = toItems(choices, current.spec);
        const again = qp.items.find((i) => i.label === active);
        if (again) qp.activeItems = [again];
      })
      .catch(() => undefined)
      .finally(() => {
        qp.busy = false;
      });
    const picked = await new Promise<Item | undefined>((resolvePromise) => {
      qp.onDidAccept(() => resolvePromise(qp.selectedItems[0]));
      qp.onDidHide(() => resolvePromise(undefined));
    });
    qp.hide();
    if (!picked) return undefined;
    if (picked.action.kind === 'processing' || picked.action.kind === 'customProcessing') {
      const options = picked.action.kind === 'processing' ? picked.action.options : await pickCustomProcessing(readProcessingSetting());
      if (options) await applyProcessing(options);
      return undefined;
    }
    if (picked.action.kind === 'spec' && picked.action.sizeBytes !== undefined) {
      // Warned before the setting changes: loading a model that does not fit can stall the machine.
      const warning = memoryWarning(picked.action.sizeBytes, freemem(), formatBytes, readWeightDtype());
      if (warning !== null) {
        const go = await vscode.window.showWarningMessage(
          `Model Lens: ${picked.action.spec} may not fit: ${warning}.`,
          { modal: true },
          'Load anyway',
        );
        if (go !== 'Load anyway') return undefined;
      }
    }
    const spec = await specFor(picked);
    if (spec === undefined) return undefined;
    await writeModelSetting(spec);
    return spec;
  } finally {
    cts.abort();
    qp.dispose();
  }
}

/** The processing rows: one per preset, then "Custom…", the current one checked. */
function processingItems(current: ProcessingOptions): Item[] {
  const currentPreset = presetOf(current);
  return [
    { label: 'Weight processing', kind: vscode.QuickPickItemKind.Separator, action: { kind: 'customProcessing' } },
    ...PROCESSING_PRESETS.map((p): Item => ({
      label: `${p.id === currentPreset?.id ? '$(check)' : '$(settings)'} Processing: ${p.label}`,
      detail: processingCall(p.options),
      action: { kind: 'processing', options: p.options },
    })),
    {
      label: `${currentPreset ? '$(settings)' : '$(check)'} Processing: custom…`,
      detail: currentPreset ? 'Choose each from_pretrained switch' : processingCall(current),
      action: { kind: 'customProcessing' },
    },
  ];
}

/** A multi-select of the four switches, the current ones ticked; undefined when dismissed. */
async function pickCustomProcessing(current: ProcessingOptions): Promise<ProcessingOptions | undefined> {
  type SwitchItem = vscode.QuickPickItem & { readonly key: keyof ProcessingOptions };
  const items: SwitchItem[] = PROCESSING_SWITCHES.map((key) => ({ label: key, picked: current[key], key }));
  const picked = await vscode.window.showQuickPick(items, {
    title: 'Model Lens: from_pretrained switches (ticked = True)',
    canPickMany: true,
  });
  if (!picked) return undefined;
  const on = new Set(picked.map((i) => i.key));
  return {
    fold_ln: on.has('fold_ln'),
    center_writing_weights: on.has('center_writing_weights'),
    center_unembed: on.has('center_unembed'),
    fold_value_biases: on.has('fold_value_biases'),
  };
}

async function applyProcessing(options: ProcessingOptions): Promise<void> {
  const shadowed = await writeProcessingSetting(options);
  if (shadowed.length > 0) {
    void vscode.window.showWarningMessage(
      `Model Lens: saved ${processingCall(options)} in your user settings, but this workspace's settings override ${shadowed.join(', ')}.`,
    );
  }
}

function toItems(choices: readonly ModelChoice[], currentSpec: string): Item[] {
  const currentId = canonicalRepoId(currentSpec);
  const dtype = readWeightDtype();
  const models = choices.map((c): Item => {
    const size = c.cached?.sizeBytes ?? c.downloadSize?.bytes;
    const cost =
      (c.cached
        ? `cached, ${formatBytes(c.cached.sizeBytes)}`
        : c.downloadSize
          ? `download ${c.downloadSize.exact ? '' : '≈ '}${formatBytes(c.downloadSize.bytes)}`
          : 'download (size unknown)') +
      (size !== undefined ? ` · needs ≈ ${formatBytes(residentBytesNeeded(size, dtype))} memory (${dtype})` : '');
    return {
      label: c.repoId === currentId ? `$(check) ${c.repoId}` : c.repoId,
      description: cost,
      detail: c.description,
      action: { kind: 'spec', spec: c.repoId, ...(size !== undefined ? { sizeBytes: size } : {}) },
    };
  });
  return [
    ...models,
    { label: '', kind: vscode.QuickPickItemKind.Separator, action: { kind: 'hubId' } },
    { label: '$(folder-opened) Local folder…', detail: 'A folder with config.json and model.safetensors', action: { kind: 'folder' } },
    {
      label: '$(cloud-download) Other Hub model id…',
      detail: 'A GPT-2 checkpoint on the Hugging Face Hub, as ORG/NAME',
      action: { kind: 'hubId' },
    },
    {
      label: `$(beaker) Built-in demo model`,
      description: currentSpec === DEMO_MODEL_SPEC ? 'current' : undefined,
      detail: "GPT-2's vocabulary with small random weights: works offline, predictions mean nothing",
      action: { kind: 'spec', spec: DEMO_MODEL_SPEC },
    },
    ...processingItems(readProcessingSetting()),
  ];
}

async function specFor(item: Item): Promise<string | undefined> {
  switch (item.action.kind) {
    case 'spec':
      return item.action.spec;
    case 'folder': {
      const uris = await vscode.window.showOpenDialog({
        canSelectFolders: true,
        canSelectFiles: false,
        canSelectMany: false,
        openLabel: 'Use this model folder',
      });
      return uris?.[0]?.fsPath;
    }
    case 'processing':
    case 'customProcessing':
      return undefined; // handled by the caller, never a model spec
    case 'hubId':
      return vscode.window.showInputBox({
        title: 'Hugging Face model id',
        placeHolder: 'ORG/NAME, e.g. openai-community/gpt2-medium',
        validateInput: (v) => (canonicalRepoId(v) ? undefined : 'Expected a model id like ORG/NAME'),
      });
    default: {
      const never: never = item.action;
      return never;
    }
  }
}
