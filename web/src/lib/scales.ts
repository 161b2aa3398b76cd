// Axes for the SVG charts (parallel coordinates, scatter): numeric or categorical.
import { numericOf } from './columns';
import { tickLabel } from './chart';

export interface Axis {
  kind: 'numeric' | 'categorical';
  /** Position in [0, 1] of a value, or null when the run has none. */
  pos: (v: number | string | undefined) => number | null;
  ticks: { pos: number; label: string }[];
  log?: boolean;
}

export function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count;
  const mag = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => (hi - lo) / s <= count) ?? raw;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

/** An axis for these values: numeric when every present value reads as a finite number. */
export function makeAxis(values: (number | string | undefined)[], opts: { log?: boolean } = {}): Axis {
  const present = values.filter((v) => v !== undefined && v !== '');
  const nums = present.map((v) => numericOf(v));
  const numeric = present.length > 0 && nums.every((n) => n !== undefined && Number.isFinite(n));
  if (numeric) {
    const ns = nums as number[];
    const log = !!opts.log && ns.every((n) => n > 0);
    const f = log ? Math.log10 : (x: number) => x;
    let lo = Math.min(...ns.map(f));
    let hi = Math.max(...ns.map(f));
    if (lo === hi) {
      lo -= 0.5;
      hi += 0.5;
    }
    const span = hi - lo;
    const pos = (v: number | string | undefined) => {
      const n = numericOf(v);
      if (n === undefined || !Number.isFinite(n) || (log && n <= 0)) return null;
      return (f(n) - lo) / span;
    };
    const ticks = log
      ? niceTicks(lo, hi, 4)
          .filter((t) => Number.isInteger(t))
          .map((t) => ({ pos: (t - lo) / span, label: tickLabel(Math.pow(10, t)) }))
      : niceTicks(lo, hi, 5).map((t) => ({ pos: (t - lo) / span, label: tickLabel(t) }));
    return { kind: 'numeric', pos, ticks, log };
  }
  const cats = Array.from(new Set(present.map(String))).sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
  const index = new Map(cats.map((c, i) => [c, i]));
  const n = cats.length;
  const pos = (v: number | string | undefined) => {
    if (v === undefined || v === '') return null;
    const i = index.get(String(v));
    return i === undefined ? null : n === 1 ? 0.5 : i / (n - 1);
  };
  const step = Math.max(1, Math.ceil(n / 12));
  const ticks = cats.filter((_, i) => i % step === 0).map((c) => ({ pos: pos(c)!, label: c.length > 14 ? c.slice(0, 13) + '…' : c }));
  return { kind: 'categorical', pos, ticks };
}

/** A colour for t in [0, 1] on a ramp (blue, teal, amber) that reads on light and dark backgrounds. */
export function rampColor(t: number): string {
  const stops = [
    [70, 100, 220],
    [30, 160, 170],
    [110, 190, 90],
    [235, 160, 40],
  ];
  const x = Math.min(1, Math.max(0, t)) * (stops.length - 1);
  const i = Math.min(stops.length - 2, Math.floor(x));
  const f = x - i;
  const c = stops[i].map((a, k) => Math.round(a + (stops[i + 1][k] - a) * f));
  return `rgb(${c[0]}, ${c[1]}, ${c[2]})`;
}
