// Finds the inline next-token hint in the workbench: an inlay hint whose text starts "next:" or
// "⋯ next:" (stale), with its box and the box of the editor's visible text area around it.
import type { Page } from 'playwright-core';

interface Box {
  readonly left: number;
  readonly right: number;
  readonly top: number;
  readonly bottom: number;
}

export interface HintBox {
  readonly text: string;
  /** The hint's box and the editor viewport's box, in page pixels. */
  readonly hint: Box;
  readonly viewport: Box;
}

// Runs in the page (a string: this project's tests compile without DOM types).
const FIND_HINT = `(() => {
  const box = (r) => ({ left: r.left, right: r.right, top: r.top, bottom: r.bottom });
  for (const editor of document.querySelectorAll('.editor-instance .monaco-editor')) {
    const lines = editor.querySelector('.view-lines');
    const scrollable = editor.querySelector('.monaco-scrollable-element.editor-scrollable');
    if (!lines || !scrollable) continue;
    for (const e of lines.querySelectorAll('span')) {
      if (e.children.length > 0) continue;
      // The editor draws an inlay hint's spaces as no-break spaces.
      const t = (e.textContent || '').replace(/\u00a0/g, ' ').trim();
      const pseudo = [getComputedStyle(e, '::before').content, getComputedStyle(e, '::after').content].find((c) => c && c.includes('next:'));
      if (!t.startsWith('next:') && !t.startsWith('⋯ next:') && !pseudo) continue;
      // The text area ends where the minimap (or the vertical scrollbar) begins.
      const area = scrollable.getBoundingClientRect();
      const minimap = editor.querySelector('.minimap');
      const right = minimap && minimap.getBoundingClientRect().width > 0 ? Math.min(area.right, minimap.getBoundingClientRect().left) : area.right - 14;
      return { text: pseudo || t, hint: box(e.getBoundingClientRect()), viewport: { left: area.left, right, top: area.top, bottom: area.bottom } };
    }
  }
  return null;
})()`;

export async function inlineHint(page: Page): Promise<HintBox | undefined> {
  return (await page.evaluate<HintBox | null>(FIND_HINT)) ?? undefined;
}

/** True when the hint's box lies inside the editor's visible area (a pixel of slack for rounding). */
export function inView(h: HintBox): boolean {
  return (
    h.hint.left >= h.viewport.left - 1 &&
    h.hint.right <= h.viewport.right + 1 &&
    h.hint.top >= h.viewport.top - 1 &&
    h.hint.bottom <= h.viewport.bottom + 1
  );
}
