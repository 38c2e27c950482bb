// Colour-blind-safe scales for the activation panel's canvases: viridis for magnitudes (0..1)
// and a diverging blue–orange for signed values. Everything else takes the theme's colours.

const VIRIDIS: readonly [number, number, number][] = [
  [68, 1, 84],
  [59, 82, 139],
  [33, 145, 140],
  [94, 201, 98],
  [253, 231, 37],
];

// Blue (negative) through a light neutral to orange (positive), after ColorBrewer's PuOr/RdBu ends.
const DIVERGING: readonly [number, number, number][] = [
  [33, 102, 172],
  [146, 197, 222],
  [240, 240, 240],
  [244, 165, 96],
  [179, 88, 6],
];

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
  return css(ramp(DIVERGING, (t + 1) / 2));
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

/**
 * A 256-entry RGBA table of a scale, computed once, for heatmaps drawn as ImageData: a cell is a
 * table lookup, not a CSS string per cell. 'viridis' maps 0..1, 'diverging' maps −1..1.
 */
export function colorTable(scale: 'viridis' | 'diverging'): Uint8ClampedArray {
  const out = new Uint8ClampedArray(256 * 4);
  for (let i = 0; i < 256; i++) {
    const [r, g, b] = ramp(scale === 'viridis' ? VIRIDIS : DIVERGING, i / 255);
    out.set([r, g, b, 255], i * 4);
  }
  return out;
}
