// Colour-blind-safe scales for the activation panel's canvases: viridis for magnitudes (0..1)
// and a diverging blue–orange for signed values. Everything else takes the theme's colours.

const VIRIDIS: readonly [number, number, number][] = [
  [68, 1, 84],
  [59, 82, 139],
  [33, 145, 140],
  [94, 201, 98],
  [253, 231, 37],
];

// Blue (negative) through a neutral to orange (positive), after ColorBrewer's PuOr/RdBu ends. On
// a light theme the neutral is light and strength is darkness; on a dark one (and high contrast)
// the neutral is near the panel's background and strength is brightness, so a zero cell does not
// glare and a strong one stands out as it does on paper.
const DIVERGING_LIGHT: readonly [number, number, number][] = [
  [33, 102, 172],
  [146, 197, 222],
  [240, 240, 240],
  [244, 165, 96],
  [179, 88, 6],
];
const DIVERGING_DARK: readonly [number, number, number][] = [
  [120, 185, 240],
  [45, 100, 150],
  [48, 48, 52],
  [150, 85, 30],
  [250, 165, 75],
];

/** The diverging stops for the theme the webview shows now (VS Code sets the body's class). */
function divergingStops(): readonly [number, number, number][] {
  const cls = typeof document === 'undefined' ? null : document.body.classList;
  const light = !cls || cls.contains('vscode-light') || cls.contains('vscode-high-contrast-light');
  return light ? DIVERGING_LIGHT : DIVERGING_DARK;
}

function ramp(stops: readonly [number, number, number][], t: number): [number, number, number] {
  const x = Math.max(0, Math.min(1, Number.isFinite(t) ? t : 0)) * (stops.length - 1);
  const i = Math.min(stops.length - 2, Math.floor(x));
  const f = x - i;
  const a = stops[i]!;
  const b = stops[i + 1]!;
  return [a[0] + (b[0] - a[0]) * f, a[1] + (b[1] - a[1]) * f, a[2] + (b[2] - a[2]) * f];
}

function css([r, g, b]: [number, number, number]): string {
  return `rgb(${Math.round(r)},${Math.round(g)},${Math.round(b)})`;
}

/** 0..1 → viridis. */
export function viridis(t: number): string {
  return css(ramp(VIRIDIS, t));
}

/** -1..1 → blue–neutral–orange. */
export function diverging(t: number): string {
  return css(ramp(divergingStops(), (t + 1) / 2));
}

/** Black or white text, whichever reads on a diverging cell of this theme (by the cell's luma). */
export function textOnDiverging(t: number): string {
  const [r, g, b] = ramp(divergingStops(), (t + 1) / 2);
  return 0.299 * r + 0.587 * g + 0.114 * b > 140 ? '#000' : '#fff';
}

/** Black or white text, whichever reads on a viridis cell. */
export function textOnViridis(t: number): string {
  return t > 0.55 ? '#000' : '#fff';
}

/** A theme colour by CSS variable, for text and lines drawn on canvases. */
export function themeColor(name: string, fallback: string): string {
  const v = getComputedStyle(document.body).getPropertyValue(name).trim();
  return v || fallback;
}

const tables = new Map<readonly [number, number, number][], Uint8ClampedArray>();

/**
 * A 256-entry RGBA table of a scale, for heatmaps drawn as ImageData: a cell is a table lookup,
 * not a CSS string per cell. 'viridis' maps 0..1, 'diverging' maps −1..1. Call it when drawing:
 * the diverging table follows the current theme (each theme's table is made once).
 */
export function colorTable(scale: 'viridis' | 'diverging'): Uint8ClampedArray {
  const stops = scale === 'viridis' ? VIRIDIS : divergingStops();
  let out = tables.get(stops);
  if (out === undefined) {
    out = new Uint8ClampedArray(256 * 4);
    for (let i = 0; i < 256; i++) {
      const [r, g, b] = ramp(stops, i / 255);
      out.set([r, g, b, 255], i * 4);
    }
    tables.set(stops, out);
  }
  return out;
}
