// The numbers behind the sweep view: best-so-far, sorting, axes and scales. No React here.
import { toNumber } from '../../api';
import type { JsonFloat, SpaceParam, SweepResponse, Trial } from './types';

export type Direction = 'minimize' | 'maximize';

/** Objective `i` of a trial as a number; null when it has none (not COMPLETE). */
export function trialValue(t: Pick<Trial, 'values'>, i = 0): number | null {
  const v = t.values?.[i];
  return v === undefined || v === null ? null : toNumber(v as JsonFloat);
}

export interface BestPoint {
  number: number | null;
  run_id: string;
  value: number;
  best: number;
}

/**
 * The optimization history: one point per COMPLETE (and feasible) trial with a finite
 * value, in trial order, with the best value up to and including it.
 */
export function computeBestSoFar(trials: Trial[], direction: Direction, objective = 0): BestPoint[] {
  const sign = direction === 'maximize' ? -1 : 1;
  const ordered = [...trials].sort((a, b) => (a.number ?? Infinity) - (b.number ?? Infinity) || a.start_time - b.start_time);
  const out: BestPoint[] = [];
  let best: number | null = null;
  for (const t of ordered) {
    if (t.state !== 'COMPLETE' || t.feasible === false) continue;
    const v = trialValue(t, objective);
    if (v === null || Number.isNaN(v)) continue;
    if (best === null || v * sign < best * sign) best = v;
    out.push({ number: t.number, run_id: t.run_id, value: v, best });
  }
  return out;
}

/** The history to draw: computed when the direction is known, else the server's (from best_value). */
export function historyOf(s: SweepResponse, objective = 0): BestPoint[] | null {
  const dirs = s.settings.directions;
  if (dirs && dirs[objective]) {
    if (dirs.length > 1) return null; // no single best with several objectives
    return computeBestSoFar(s.trials, dirs[objective] as Direction, objective);
  }
  if (objective === 0 && s.best_so_far.length) {
    return s.best_so_far.map((p) => ({ number: p.number, run_id: p.run_id, value: toNumber(p.value), best: toNumber(p.best) }));
  }
  return null;
}

export type SortKey = 'number' | 'state' | 'duration' | `value:${number}` | `param:${string}`;

const STATE_ORDER: Record<string, number> = { RUNNING: 0, COMPLETE: 1, PRUNED: 2, FAILED: 3 };

function compareUnknown(a: unknown, b: unknown): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  if (typeof a === 'boolean' && typeof b === 'boolean') return Number(a) - Number(b);
  return String(a).localeCompare(String(b), undefined, { numeric: true });
}

/** Trials sorted by a column; missing values (no value, NaN, absent param) always last. */
export function sortTrials(trials: Trial[], key: SortKey, desc = false): Trial[] {
  const get = (t: Trial): unknown => {
    if (key === 'number') return t.number;
    if (key === 'state') return STATE_ORDER[t.state] ?? 9;
    if (key === 'duration') return t.duration;
    if (key.startsWith('value:')) {
      const v = trialValue(t, Number(key.slice(6)));
      return v === null || Number.isNaN(v) ? null : v;
    }
    return t.params[key.slice(6)];
  };
  const rows = trials.map((t, i) => ({ t, i, v: get(t) }));
  rows.sort((a, b) => {
    const am = a.v === null || a.v === undefined;
    const bm = b.v === null || b.v === undefined;
    if (am || bm) return am === bm ? a.i - b.i : am ? 1 : -1;
    const c = compareUnknown(a.v, b.v);
    return (desc ? -c : c) || a.i - b.i;
  });
  return rows.map((r) => r.t);
}

/** The sort that puts the best trials first for an objective. */
export function bestFirst(direction: string | undefined, objective = 0): { key: SortKey; desc: boolean } {
  return { key: `value:${objective}`, desc: direction === 'maximize' };
}

// ---- axes -------------------------------------------------------------------------

export interface Axis {
  name: string;
  kind: 'linear' | 'log' | 'categorical';
  /** Numeric domain (log: of the values themselves, > 0). */
  min: number;
  max: number;
  categories: string[];
  isInt: boolean;
}

export interface Distribution {
  log: boolean;
  int: boolean;
  low: number | null;
  high: number | null;
  choices: string[] | null;
}

/** Read `log int [1, 64] step 2` or `choice(a, b)` (the sweep syntax's words). */
export function parseDistribution(text: string | null | undefined): Distribution | null {
  if (!text) return null;
  const t = text.trim();
  const choice = t.match(/^choice\((.*)\)$/);
  if (choice) return { log: false, int: false, low: null, high: null, choices: choice[1].split(',').map((s) => s.trim()) };
  const m = t.match(/^(log\s+)?(int\s+)?\[\s*([^,\]]+)\s*,\s*([^\]]+)\]/);
  if (!m) return null;
  return { log: !!m[1], int: !!m[2], low: Number(m[3]), high: Number(m[4]), choices: null };
}

export function categoryOf(v: unknown): string {
  if (v === null || v === undefined) return '∅';
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

/** The axis of a searched param over the trials (its recorded range when there is one). */
export function paramAxis(p: SpaceParam, trials: Trial[]): Axis {
  const values = trials.map((t) => t.params[p.name]).filter((v) => v !== undefined && v !== null);
  const dist = parseDistribution(p.distribution);
  const numeric = values.length > 0 && values.every((v) => typeof v === 'number' && Number.isFinite(v));
  if (p.kind === 'categorical' || dist?.choices || !numeric) {
    const cats: string[] = dist?.choices ? [...dist.choices] : [];
    for (const v of values) {
      const c = categoryOf(v);
      if (!cats.includes(c)) cats.push(c);
    }
    if (!dist?.choices) cats.sort((a, b) => a.localeCompare(b, undefined, { numeric: true }));
    return { name: p.name, kind: 'categorical', min: 0, max: Math.max(0, cats.length - 1), categories: cats, isInt: false };
  }
  const nums = values as number[];
  let min = Math.min(...nums);
  let max = Math.max(...nums);
  if (dist && dist.low !== null && dist.high !== null && Number.isFinite(dist.low) && Number.isFinite(dist.high)) {
    min = Math.min(min, dist.low);
    max = Math.max(max, dist.high);
  }
  // Unknown distribution: a positive range over two decades reads better on a log scale.
  const log = dist ? dist.log : min > 0 && max / min >= 100;
  return { name: p.name, kind: log && min > 0 ? 'log' : 'linear', min, max, categories: [], isInt: p.kind === 'int' || !!dist?.int };
}

/** A numeric axis for values (objectives). */
export function valueAxis(name: string, values: number[], log = false): Axis {
  const finite = values.filter((v) => Number.isFinite(v));
  const min = finite.length ? Math.min(...finite) : 0;
  const max = finite.length ? Math.max(...finite) : 1;
  return { name, kind: log && min > 0 ? 'log' : 'linear', min, max, categories: [], isInt: false };
}

/** Position in [0, 1] of a value on an axis (0 = min); null if it cannot be placed. */
export function normalize(axis: Axis, v: unknown): number | null {
  if (axis.kind === 'categorical') {
    const i = axis.categories.indexOf(categoryOf(v));
    if (i < 0) return null;
    return axis.categories.length === 1 ? 0.5 : i / (axis.categories.length - 1);
  }
  if (typeof v !== 'number' || !Number.isFinite(v)) return null;
  if (axis.max === axis.min) return 0.5;
  if (axis.kind === 'log') {
    if (v <= 0) return null;
    return (Math.log10(v) - Math.log10(axis.min)) / (Math.log10(axis.max) - Math.log10(axis.min));
  }
  return (v - axis.min) / (axis.max - axis.min);
}

/** Nice round ticks over [min, max] (about `count` of them). */
export function linearTicks(min: number, max: number, count = 5): number[] {
  if (!Number.isFinite(min) || !Number.isFinite(max)) return [];
  if (min === max) return [min];
  const span = max - min;
  const raw = span / Math.max(1, count);
  const mag = Math.pow(10, Math.floor(Math.log10(raw)));
  const norm = raw / mag;
  const step = (norm < 1.5 ? 1 : norm < 3 ? 2 : norm < 7 ? 5 : 10) * mag;
  const first = Math.ceil(min / step - 1e-9) * step;
  const out: number[] = [];
  for (let v = first; v <= max + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

/** Powers of ten (and 2x, 5x when the range is short) over [min, max], min > 0. */
export function logTicks(min: number, max: number): number[] {
  if (!(min > 0) || !(max > 0)) return [];
  const lo = Math.floor(Math.log10(min));
  const hi = Math.ceil(Math.log10(max));
  const mults = hi - lo <= 2 ? [1, 2, 5] : [1];
  const out: number[] = [];
  for (let e = lo; e <= hi; e++) {
    for (const m of mults) {
      const v = Number((m * Math.pow(10, e)).toPrecision(12));
      if (v >= min * (1 - 1e-9) && v <= max * (1 + 1e-9)) out.push(v);
    }
  }
  return out.length >= 2 ? out : linearTicks(min, max, 3);
}

export function axisTicks(axis: Axis, count = 5): number[] {
  if (axis.kind === 'categorical') return axis.categories.map((_, i) => i);
  const t = axis.kind === 'log' ? logTicks(axis.min, axis.max) : linearTicks(axis.min, axis.max, count);
  return axis.isInt ? t.filter((v) => Number.isInteger(v)) : t;
}

/** A short label for a tick or value: 0.0123, 1.2e-4, 12k. */
export function shortNumber(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  if (a === 0) return '0';
  if (a >= 1e5 || a < 1e-3) return v.toExponential(1).replace('e+', 'e');
  if (a >= 1e3) return `${Number((v / 1e3).toPrecision(3))}k`;
  return String(Number(v.toPrecision(3)));
}

/** Pad a numeric range by a fraction so points do not sit on the frame. */
export function padRange(min: number, max: number, log: boolean, frac = 0.06): [number, number] {
  if (log && min > 0) {
    const a = Math.log10(min);
    const b = Math.log10(max);
    const p = (b - a || 1) * frac;
    return [Math.pow(10, a - p), Math.pow(10, b + p)];
  }
  const p = (max - min || Math.abs(max) || 1) * frac;
  return [min - p, max + p];
}

/** Run ids of the Pareto-optimal trials, for the given directions (when the server gave none). */
export function paretoFront(trials: Trial[], directions: string[]): string[] {
  const signs = directions.map((d) => (d === 'maximize' ? -1 : 1));
  const pts = trials
    .filter((t) => t.state === 'COMPLETE' && t.feasible !== false && t.values && t.values.length === signs.length)
    .map((t) => ({ id: t.run_id, v: t.values!.map((x, i) => toNumber(x) * signs[i]) }));
  const dominates = (a: number[], b: number[]) => a.every((x, i) => x <= b[i]) && a.some((x, i) => x < b[i]);
  return pts.filter((p) => !pts.some((q) => q !== p && dominates(q.v, p.v))).map((p) => p.id);
}
