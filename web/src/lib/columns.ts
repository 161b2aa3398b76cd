// Columns of the runs table: keys like "metrics.acc", "params.lr", "tags.team",
// "attributes.start_time"; their values, labels and ordering.
import type { Run } from '../api';

export type Entity = 'metrics' | 'params' | 'tags' | 'attributes';

export interface SortSpec {
  key: string;
  desc: boolean;
}

export function splitKey(key: string): [Entity, string] {
  const dot = key.indexOf('.');
  return [key.slice(0, dot) as Entity, key.slice(dot + 1)];
}

export function runDuration(run: Run, now: number = Date.now()): number | null {
  if (run.end_time != null) return run.end_time - run.start_time;
  if (run.status === 'RUNNING') return now - run.start_time;
  return null;
}

/** The raw value of a column for a run: a number, a string or undefined. */
export function cellValue(run: Run, key: string): number | string | undefined {
  const [entity, name] = splitKey(key);
  switch (entity) {
    case 'metrics':
      return run.metrics[name];
    case 'params':
      return run.params[name];
    case 'tags':
      return run.tags[name];
    case 'attributes':
      switch (name) {
        case 'name':
        case 'run_name':
          return run.name;
        case 'status':
          return run.status;
        case 'start_time':
          return run.start_time;
        case 'end_time':
          return run.end_time ?? undefined;
        case 'duration':
          return runDuration(run) ?? undefined;
        case 'run_id':
        case 'id':
          return run.id;
        case 'parent_id':
          return run.parent_id ?? undefined;
      }
  }
  return undefined;
}

/** A param or tag value as a number when it reads as one, for sorting and charts. */
export function numericOf(v: number | string | undefined | null): number | undefined {
  if (v == null || v === '') return undefined;
  if (typeof v === 'number') return v;
  const t = v.trim();
  if (t === '') return undefined;
  if (t === 'NaN' || t === 'nan') return NaN;
  if (t === 'Infinity' || t === 'inf') return Infinity;
  if (t === '-Infinity' || t === '-inf') return -Infinity;
  const n = Number(t);
  return Number.isNaN(n) ? undefined : n;
}

const collator = new Intl.Collator('en', { numeric: true, sensitivity: 'base' });

/** Compare two cell values; missing ones go last whatever the direction (handled by the caller). */
function compareDefined(a: number | string, b: number | string): number {
  const na = typeof a === 'number' ? a : numericOf(a);
  const nb = typeof b === 'number' ? b : numericOf(b);
  if (na !== undefined && nb !== undefined) {
    if (Number.isNaN(na)) return Number.isNaN(nb) ? 0 : 1;
    if (Number.isNaN(nb)) return -1;
    return na < nb ? -1 : na > nb ? 1 : 0;
  }
  if (na !== undefined) return -1; // numbers before text
  if (nb !== undefined) return 1;
  return collator.compare(String(a), String(b));
}

/** Return the runs sorted by a column (a new array); runs without the value last. */
export function sortRuns(runs: Run[], sort: SortSpec | null): Run[] {
  if (!sort) return runs;
  const now = Date.now();
  const key = sort.key;
  const dir = sort.desc ? -1 : 1;
  const vals = new Map<Run, number | string | undefined>();
  for (const r of runs) vals.set(r, key === 'attributes.duration' ? runDuration(r, now) ?? undefined : cellValue(r, key));
  const out = runs.slice();
  out.sort((ra, rb) => {
    const a = vals.get(ra);
    const b = vals.get(rb);
    if (a === undefined) return b === undefined ? 0 : 1;
    if (b === undefined) return -1;
    return dir * compareDefined(a, b);
  });
  return out;
}

export function parseSort(s: string | null): SortSpec | null {
  if (!s) return null;
  const m = s.match(/^(.*?)(?::(asc|desc))?$/i);
  if (!m || !m[1]) return null;
  return { key: m[1], desc: (m[2] ?? 'asc').toLowerCase() === 'desc' };
}

export function formatSort(s: SortSpec | null): string | null {
  return s ? `${s.key}:${s.desc ? 'desc' : 'asc'}` : null;
}

/** Column keys from the URL ("metrics.acc,params.lr"); keys may hold commas if encoded as %2C. */
export function parseColumns(s: string | null): string[] | null {
  if (s == null) return null;
  if (s === '') return [];
  return s
    .split(',')
    .map((k) => decodeURIComponent(k))
    .filter((k) => /^(metrics|params|tags|attributes)\./.test(k));
}

export function formatColumns(cols: string[]): string {
  return cols.map((k) => k.replace(/%/g, '%25').replace(/,/g, '%2C')).join(',');
}

export const ATTRIBUTE_LABELS: Record<string, string> = {
  start_time: 'Created',
  end_time: 'Ended',
  duration: 'Duration',
  status: 'Status',
  name: 'Name',
  run_id: 'Run id',
  parent_id: 'Parent',
};

export function columnLabel(key: string): string {
  const [entity, name] = splitKey(key);
  if (entity === 'attributes') return ATTRIBUTE_LABELS[name] ?? name;
  return name;
}

export interface KeySets {
  params: string[];
  metrics: string[];
  tags: string[];
}

/** Every param, metric and tag name of some runs, sorted. */
export function keysOfRuns(runs: Run[]): KeySets {
  const p = new Set<string>();
  const m = new Set<string>();
  const t = new Set<string>();
  for (const r of runs) {
    for (const k in r.params) p.add(k);
    for (const k in r.metrics) m.add(k);
    for (const k in r.tags) t.add(k);
  }
  const sorted = (s: Set<string>) => Array.from(s).sort(collator.compare);
  return { params: sorted(p), metrics: sorted(m), tags: sorted(t) };
}

/** Params whose value is not the same in every run (a missing value counts as a value). */
export function differingParams(runs: Run[], keys?: string[]): string[] {
  const all = keys ?? keysOfRuns(runs).params;
  return all.filter((k) => {
    if (runs.length < 2) return false;
    const first = runs[0].params[k];
    for (let i = 1; i < runs.length; i++) if (runs[i].params[k] !== first) return true;
    return false;
  });
}

/** A default choice of columns: the first metrics (not system/) and the params that vary. */
export function defaultColumns(runs: Run[], keys: KeySets): string[] {
  const metrics = keys.metrics.filter((k) => !k.startsWith('system/')).slice(0, 4);
  const sample = runs.slice(0, 500);
  const params = differingParams(sample, keys.params).slice(0, 4);
  return [...metrics.map((k) => 'metrics.' + k), ...params.map((k) => 'params.' + k)];
}
