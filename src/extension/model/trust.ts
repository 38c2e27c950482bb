// Which value of a file-pointing setting may be used: a workspace's settings.json is written by
// whoever wrote the repository, so in an untrusted workspace only the user's own (and the
// default) values count. Pure logic, no vscode import, so the unit tests cover it.

/** The subset of WorkspaceConfiguration.inspect()'s result this needs. */
export interface InspectedValue<T> {
  readonly defaultValue?: T;
  readonly globalValue?: T;
  readonly workspaceValue?: T;
  readonly workspaceFolderValue?: T;
}

export interface TrustedValue<T> {
  readonly value: T | undefined;
  /** A workspace value was present and ignored because the workspace is not trusted. */
  readonly ignoredWorkspaceValue: boolean;
}

/** VS Code's precedence (folder > workspace > user > default), minus the workspace when untrusted. */
export function trustedSettingValue<T>(inspected: InspectedValue<T> | undefined, trusted: boolean): TrustedValue<T> {
  if (!inspected) return { value: undefined, ignoredWorkspaceValue: false };
  const fromWorkspace = inspected.workspaceFolderValue ?? inspected.workspaceValue;
  if (trusted && fromWorkspace !== undefined) return { value: fromWorkspace, ignoredWorkspaceValue: false };
  return {
    value: inspected.globalValue ?? inspected.defaultValue,
    ignoredWorkspaceValue: !trusted && fromWorkspace !== undefined,
  };
}
