// The project's own small UI layer. Panels build their controls only through these functions;
// today they are @vscode/webview-ui-toolkit web components, and because the toolkit is archived
// upstream, replacing it means rewriting this file alone (plain <button>/<input> styled with the
// same theme variables would do).
import {
  provideVSCodeDesignSystem,
  vsCodeButton,
  vsCodeCheckbox,
  vsCodeDropdown,
  vsCodeOption,
  vsCodeProgressRing,
  vsCodeTextField,
} from '@vscode/webview-ui-toolkit';

let registered = false;
function ensureRegistered(): void {
  if (registered) return;
  provideVSCodeDesignSystem().register(
    vsCodeButton(),
    vsCodeCheckbox(),
    vsCodeDropdown(),
    vsCodeOption(),
    vsCodeProgressRing(),
    vsCodeTextField(),
  );
  registered = true;
}

/** A plain element with a class and optional text. */
export function el<K extends keyof HTMLElementTagNameMap>(tag: K, className?: string, text?: string): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

export interface ButtonOptions {
  readonly appearance?: 'primary' | 'secondary';
  readonly title?: string;
  readonly testId?: string;
}

export function button(label: string, onClick: () => void, options: ButtonOptions = {}): HTMLElement {
  ensureRegistered();
  const b = document.createElement('vscode-button');
  b.textContent = label;
  b.setAttribute('appearance', options.appearance ?? 'secondary');
  if (options.title) b.setAttribute('title', options.title);
  if (options.testId) b.dataset.testid = options.testId;
  b.addEventListener('click', onClick);
  return b;
}

export interface Checkbox {
  readonly element: HTMLElement;
  checked(): boolean;
  setChecked(value: boolean): void;
}

export function checkbox(label: string, initial: boolean, onChange: (checked: boolean) => void, testId?: string): Checkbox {
  ensureRegistered();
  const c = document.createElement('vscode-checkbox') as HTMLElement & { checked: boolean };
  c.textContent = label;
  c.checked = initial;
  if (testId) c.dataset.testid = testId;
  c.addEventListener('change', () => onChange(c.checked));
  return { element: c, checked: () => c.checked, setChecked: (v) => (c.checked = v) };
}

export interface TextField {
  readonly element: HTMLElement;
  value(): string;
  setValue(value: string): void;
  focus(): void;
}

export function textField(placeholder: string, initial: string, onInput: (value: string) => void, testId?: string): TextField {
  ensureRegistered();
  const t = document.createElement('vscode-text-field') as HTMLElement & { value: string };
  t.setAttribute('placeholder', placeholder);
  t.setAttribute('aria-label', placeholder);
  t.value = initial;
  if (testId) t.dataset.testid = testId;
  t.addEventListener('input', () => onInput(t.value));
  return { element: t, value: () => t.value, setValue: (v) => (t.value = v), focus: () => t.focus() };
}

export interface Dropdown<V extends string> {
  readonly element: HTMLElement;
  value(): V;
}

export function dropdown<V extends string>(
  options: readonly { readonly value: V; readonly label: string }[],
  initial: V,
  onChange: (value: V) => void,
  testId?: string,
): Dropdown<V> {
  ensureRegistered();
  const d = document.createElement('vscode-dropdown') as HTMLElement & { value: string };
  for (const o of options) {
    const opt = document.createElement('vscode-option') as HTMLElement & { value: string };
    opt.setAttribute('value', o.value);
    opt.textContent = o.label;
    if (o.value === initial) opt.setAttribute('selected', '');
    d.appendChild(opt);
  }
  if (testId) d.dataset.testid = testId;
  const read = (): V => options.find((o) => o.value === d.value)?.value ?? initial;
  d.addEventListener('change', () => onChange(read()));
  return { element: d, value: read };
}

export function progressRing(): HTMLElement {
  ensureRegistered();
  return document.createElement('vscode-progress-ring');
}

/** A short-lived message in a status line (e.g. "Copied 15 ids"). */
export function flash(target: HTMLElement, message: string, ms = 5000): void {
  target.textContent = message;
  const stamp = String(Date.now());
  target.dataset.stamp = stamp;
  setTimeout(() => {
    if (target.dataset.stamp === stamp) target.textContent = '';
  }, ms);
}
