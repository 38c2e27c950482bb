// The model acquisition feature: the Select Model command, and acquireModel for whatever
// needs weights (the activation panel, inline logits).
import * as vscode from 'vscode';
import { SELECT_MODEL_COMMAND } from './acquire';
import { selectModel } from './selectModel';

export { acquireModel, SELECT_MODEL_COMMAND, type ResolvedModel } from './acquire';
export { readModelSetting, affectsModelSetting, MODEL_SETTING, REVISION_SETTING } from './modelSettings';
export { describeModel } from '../../engine/hub';

export function registerModelFeatures(): vscode.Disposable {
  return vscode.commands.registerCommand(SELECT_MODEL_COMMAND, () => selectModel());
}
