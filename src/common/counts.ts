// The one rule for counts shown to the user: numbers in the user's locale, and token counts are
// tokens of the text; where BOS is added to the model's input, the caller says "+ BOS" after it.
// No vscode import: the extension passes vscode.env.language, the webviews navigator.language.

export function formatCount(n: number, locale?: string): string {
  return new Intl.NumberFormat(safeLocale(locale)).format(n);
}

/** e.g. "1,024 tokens", "1 token". */
export function tokenCount(n: number, locale?: string): string {
  return `${formatCount(n, locale)} ${n === 1 ? 'token' : 'tokens'}`;
}

/** An unknown or malformed locale tag falls back to the runtime's default rather than throwing. */
function safeLocale(locale: string | undefined): string | undefined {
  if (locale === undefined) return undefined;
  try {
    return Intl.NumberFormat.supportedLocalesOf([locale]).length > 0 ? locale : undefined;
  } catch {
    return undefined;
  }
}
