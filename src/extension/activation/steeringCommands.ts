// "Model Lens: Add Steering Vector…" and "Model Lens: Remove Steering Vector": the palette's way to
// the steering vector the activation panel's Steering view also sets. The command takes an
// optional PanelSteering so tests and keybindings can skip the prompts.
import * as vscode from 'vscode';
import { isAbortError } from '../../common/errors';
import type { PanelSteering } from '../../protocol/activation';
import type { SteeringState } from './steering';

export const STEERING_COMMANDS = {
  add: 'modelLens.addSteeringVector',
  remove: 'modelLens.removeSteeringVector',
  /** Hidden: the steering in use (PanelSteering or null), for tests. */
  state: 'modelLens.steering.state',
} as const;

async function askSteering(): Promise<PanelSteering | undefined> {
  const title = 'Add steering vector';
  const plus = await vscode.window.showInputBox({ title: `${title} (1/4)`, prompt: 'Steer towards (e.g. " Love")', ignoreFocusOut: true });
  if (plus === undefined) return undefined;
  const minus = await vscode.window.showInputBox({
    title: `${title} (2/4)`,
    prompt: 'Steer away from (e.g. " Hate")',
    ignoreFocusOut: true,
  });
  if (minus === undefined) return undefined;
  const layer = await vscode.window.showInputBox({
    title: `${title} (3/4)`,
    prompt: 'Layer whose resid_pre the vector is read from and added to',
    value: '6',
    validateInput: (v) => (/^\d+$/.test(v.trim()) ? undefined : 'a layer number, e.g. 6'),
  });
  if (layer === undefined) return undefined;
  const coefficient = await vscode.window.showInputBox({
    title: `${title} (4/4)`,
    prompt: 'Coefficient (the vector is scaled by it; negative steers the other way)',
    value: '5',
    validateInput: (v) => (Number.isFinite(Number(v)) && v.trim() !== '' ? undefined : 'a number, e.g. 5'),
  });
  if (coefficient === undefined) return undefined;
  return { plus, minus, layer: Number(layer.trim()), coefficient: Number(coefficient) };
}

function checked(a: unknown): PanelSteering | undefined {
  if (typeof a !== 'object' || a === null) return undefined;
  const s = a as Record<string, unknown>;
  const ok =
    typeof s.plus === 'string' &&
    typeof s.minus === 'string' &&
    Number.isSafeInteger(s.layer) &&
    (s.layer as number) >= 0 &&
    typeof s.coefficient === 'number' &&
    Number.isFinite(s.coefficient);
  if (!ok) throw new Error('a steering vector is { plus, minus, layer, coefficient }');
  return { plus: s.plus as string, minus: s.minus as string, layer: s.layer as number, coefficient: s.coefficient as number };
}

export function registerSteeringCommands(steering: SteeringState): vscode.Disposable[] {
  const report = (e: unknown): undefined => {
    if (!isAbortError(e)) void vscode.window.showErrorMessage(`Model Lens: ${e instanceof Error ? e.message : String(e)}`);
    return undefined;
  };
  return [
    vscode.commands.registerCommand(STEERING_COMMANDS.add, async (arg?: unknown) => {
      try {
        const s = checked(arg) ?? (await askSteering());
        if (!s) return undefined;
        await vscode.window.withProgress(
          { location: vscode.ProgressLocation.Window, title: 'Model Lens: computing the steering vector' },
          () => steering.set(s),
        );
        void vscode.window.setStatusBarMessage(
          `Model Lens: steering ${s.coefficient} × (${JSON.stringify(s.plus)} − ${JSON.stringify(s.minus)}) at layer ${s.layer}`,
          5000,
        );
        return steering.setting;
      } catch (e) {
        return report(e);
      }
    }),
    vscode.commands.registerCommand(STEERING_COMMANDS.remove, () => steering.set(null)),
    vscode.commands.registerCommand(STEERING_COMMANDS.state, () => steering.setting),
  ];
}
