// Workspace trust for modelLens.model: an untrusted workspace's settings never choose the
// folder weights are read from (src/extension/model/trust.ts is vscode-free for this test).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { trustedSettingValue } from '../../src/extension/model/trust';

describe('model setting under workspace trust', () => {
  const inspected = {
    defaultValue: 'openai-community/gpt2',
    globalValue: 'gpt2-medium',
    workspaceValue: '/tmp/evil-model',
    workspaceFolderValue: './folder-model',
  };

  it('uses the folder, then workspace value when trusted', () => {
    assert.deepEqual(trustedSettingValue(inspected, true), { value: './folder-model', ignoredWorkspaceValue: false });
    assert.deepEqual(trustedSettingValue({ ...inspected, workspaceFolderValue: undefined }, true), {
      value: '/tmp/evil-model',
      ignoredWorkspaceValue: false,
    });
  });

  it('ignores workspace values when untrusted and says so', () => {
    assert.deepEqual(trustedSettingValue(inspected, false), { value: 'gpt2-medium', ignoredWorkspaceValue: true });
    assert.deepEqual(trustedSettingValue({ defaultValue: 'openai-community/gpt2', workspaceValue: '/x' }, false), {
      value: 'openai-community/gpt2',
      ignoredWorkspaceValue: true,
    });
    assert.deepEqual(trustedSettingValue({ defaultValue: 'openai-community/gpt2' }, false), {
      value: 'openai-community/gpt2',
      ignoredWorkspaceValue: false,
    });
  });
});
