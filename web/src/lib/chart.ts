// Helpers for uPlot charts: colours for both themes, axes, series.
import type uPlot from 'uplot';
export { emaSmooth } from './smoothing';

// Distinguishable colours that read on light and dark backgrounds.
const PALETTE = [
  '#2f7ed8', '#e8743b', '#19a979', '#d64d8a', '#945ecf', '#13a4b4', '#c9a227', '#6c8893',
  '#e14b4b', '#5f9c38', '#4b62d1', '#b8653b', '#2aa6d9', '#a349a4', '#7b8c2c', '#d16c9b',
  '#3d8b7f', '#c7892b', '#6a6ad1', '#9b5f4b',
];

export function seriesColor(i: number): string {
  return PALETTE[((i % PALETTE.length) + PALETTE.length) % PALETTE.length];
}

function cssVar(name: string, fallback: string): string {
  if (typeof document === 'undefined') return fallback;
  const v = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  return v || fallback;
}

export function themeColors(): { fg: string; muted: string; grid: string; bg: string; accent: string } {
  return {
    fg: cssVar('--fg', '#1b1f24'),
    muted: cssVar('--fg-muted', '#667085'),
    grid: cssVar('--grid', 'rgba(128,128,128,0.15)'),
    bg: cssVar('--bg-panel', '#ffffff'),
    accent: cssVar('--accent', '#1f6f5c'),
  };
}

const FONT = '11px system-ui, -apple-system, "Segoe UI", Roboto, sans-serif';

/** Compact tick labels: 1.2k, 3.5M, 0.001, 1e-5. */
export function tickLabel(v: number | null): string {
  if (v == null || !Number.isFinite(v)) return '';
  const a = Math.abs(v);
  if (a === 0) return '0';
  // "1.50" -> "1.5", "200" stays "200"
  const trim = (s: string) => (s.includes('.') && !s.includes('e') ? s.replace(/0+$/, '').replace(/\.$/, '') : s);
  if (a >= 1e9) return trim((v / 1e9).toPrecision(3)) + 'G';
  if (a >= 1e6) return trim((v / 1e6).toPrecision(3)) + 'M';
  if (a >= 1e4) return trim((v / 1e3).toPrecision(3)) + 'k';
  if (a < 1e-3) return v.toExponential(1);
  return String(Number(v.toPrecision(4)));
}

/** Seconds since the run started, in the unit that suits the range: 30s, 12m, 3h. */
export function relativeLabels(splits: number[], max: number): string[] {
  if (max < 180) return splits.map((v) => tickLabel(v) + 's');
  if (max < 3 * 3600) return splits.map((v) => tickLabel(v / 60) + 'm');
  if (max < 3 * 86400) return splits.map((v) => tickLabel(v / 3600) + 'h');
  return splits.map((v) => tickLabel(v / 86400) + 'd');
}

/** x and y axes styled for the current theme. */
export function axisOptions(opts: { xTime?: boolean; xRelative?: boolean; xLabel?: string; yLabel?: string } = {}): uPlot.Axis[] {
  const c = themeColors();
  const base = {
    stroke: c.muted,
    font: FONT,
    labelFont: FONT,
    grid: { stroke: c.grid, width: 1 },
    ticks: { stroke: c.grid, width: 1, size: 4 },
  };
  const x: uPlot.Axis = { ...base, label: opts.xLabel, labelSize: opts.xLabel ? 18 : 0, size: opts.xLabel ? 48 : 30 };
  if (opts.xRelative) x.values = (u, splits) => relativeLabels(splits, u.scales.x.max ?? 0);
  else if (!opts.xTime) x.values = (_u, splits) => splits.map(tickLabel);
  const y: uPlot.Axis = {
    ...base,
    label: opts.yLabel,
    labelSize: opts.yLabel ? 18 : 0,
    size: 54,
    values: (_u, splits) => splits.map(tickLabel),
  };
  return [x, y];
}

/** Above this many distinct x values, series are binned onto a common grid. */
export const MAX_ALIGNED_X = 20000;

/**
 * Merge several (x, y) series into uPlot's aligned form: one sorted x, nulls where a
 * series has no point (draw with spanGaps). When the union of x values is too large
 * (many runs logged at different steps), each series is binned onto `bins` evenly
 * spaced x values (the last point of a bin wins), which keeps the shape of every curve.
 */
export function alignSeries(series: { x: ArrayLike<number>; y: ArrayLike<number | null> }[], bins = 2000): uPlot.AlignedData {
  if (series.length === 0) return [[]] as unknown as uPlot.AlignedData;
  if (series.length === 1) {
    return [Array.from(series[0].x), Array.from(series[0].y)] as uPlot.AlignedData;
  }
  const xs = new Set<number>();
  let overflow = false;
  for (const s of series) {
    for (let i = 0; i < s.x.length; i++) xs.add(s.x[i]);
    if (xs.size > MAX_ALIGNED_X) {
      overflow = true;
      break;
    }
  }
  if (overflow) {
    let lo = Infinity;
    let hi = -Infinity;
    for (const s of series) {
      if (s.x.length) {
        lo = Math.min(lo, s.x[0]);
        hi = Math.max(hi, s.x[s.x.length - 1]);
      }
    }
    const width = (hi - lo) / (bins - 1) || 1;
    const x = new Array<number>(bins);
    for (let i = 0; i < bins; i++) x[i] = lo + i * width;
    const ys = series.map((s) => {
      const y: (number | null)[] = new Array(bins).fill(null);
      for (let i = 0; i < s.x.length; i++) {
        const v = s.y[i];
        if (v == null) continue;
        y[Math.round((s.x[i] - lo) / width)] = v;
      }
      return y;
    });
    return [x, ...ys] as uPlot.AlignedData;
  }
  const x = Float64Array.from(xs).sort();
  const index = new Map<number, number>();
  for (let i = 0; i < x.length; i++) index.set(x[i], i);
  const ys = series.map((s) => {
    const y: (number | null)[] = new Array(x.length).fill(null);
    for (let i = 0; i < s.x.length; i++) y[index.get(s.x[i])!] = s.y[i];
    return y;
  });
  return [Array.from(x), ...ys] as uPlot.AlignedData;
}
