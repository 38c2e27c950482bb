// The tensor view's diverging colour scale, from the theme: zero is the editor's own background,
// so a value near zero disappears into the page in every theme, and the two ends are a blue and
// an orange (colour-blind safe, after ColorBrewer's PuOr/RdBu ends) that stay readable on it:
// deep on a light background, bright on a dark or high-contrast one. NaN and ±Inf cells take the
// theme's error colour.

export type Rgb = readonly [number, number, number];

export interface Palette {
  readonly mid: Rgb;
  readonly neg: Rgb;
  readonly pos: Rgb;
  readonly bad: Rgb;
  readonly dark: boolean;
}

/** "rgb(1, 2, 3)", "rgba(…)", "#rrggbb" or "#rgb" → [r, g, b]; null when unreadable. */
export function parseColor(css: string): Rgb | null {
  const s = css.trim();
  const m = /^rgba?\(\s*([\d.]+)[,\s]+([\d.]+)[,\s]+([\d.]+)/.exec(s);
  if (m) return [Number(m[1]), Number(m[2]), Number(m[3])];
  const h = /^#([0-9a-f]{3}|[0-9a-f]{6})(?:[0-9a-f]{2})?$/i.exec(s);
  if (h) {
    const hex = h[1]!.length === 3 ? [...h[1]!].map((c) => c + c).join('') : h[1]!;
    return [parseInt(hex.slice(0, 2), 16), parseInt(hex.slice(2, 4), 16), parseInt(hex.slice(4, 6), 16)];
  }
  return null;
}

const luminance = ([r, g, b]: Rgb): number => (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255;

/** Read from the page's computed styles each time the theme may have changed. */
export function themePalette(): Palette {
  const style = getComputedStyle(document.body);
  const mid = parseColor(style.backgroundColor) ?? parseColor(style.getPropertyValue('--vscode-editor-background')) ?? [255, 255, 255];
  const dark = luminance(mid) < 0.5;
  const bad = parseColor(style.getPropertyValue('--vscode-errorForeground')) ?? [229, 20, 0];
  return dark ? { mid, dark, bad, neg: [96, 165, 250], pos: [251, 146, 60] } : { mid, dark, bad, neg: [33, 102, 172], pos: [179, 88, 6] };
}

/** -1..1 → a colour between the negative end, the background at 0 and the positive end; NaN → bad. */
export function diverge(p: Palette, t: number, out: Uint8ClampedArray, at: number): void {
  if (!Number.isFinite(t)) {
    out[at] = p.bad[0];
    out[at + 1] = p.bad[1];
    out[at + 2] = p.bad[2];
    out[at + 3] = 255;
    return;
  }
  const x = Math.max(-1, Math.min(1, t));
  const end = x < 0 ? p.neg : p.pos;
  const f = Math.abs(x);
  out[at] = p.mid[0] + (end[0] - p.mid[0]) * f;
  out[at + 1] = p.mid[1] + (end[1] - p.mid[1]) * f;
  out[at + 2] = p.mid[2] + (end[2] - p.mid[2]) * f;
  out[at + 3] = 255;
}

export const rgbCss = ([r, g, b]: Rgb): string => `rgb(${Math.round(r)},${Math.round(g)},${Math.round(b)})`;
