import { describe, expect, it } from 'vitest';
import { cellValue, formatColumns, parseColumns, parseSort, formatSort, keysOfRuns, defaultColumns } from '../src/lib/columns';
import { parseCsv } from '../src/lib/csv';
import { formatBytes, formatDuration, formatNumber, formatRelative } from '../src/lib/format';
import { makeAxis } from '../src/lib/scales';
import { route } from '../src/App';
import { makeRun, makeRuns } from './fixtures';

describe('format', () => {
  it('formats durations', () => {
    expect(formatDuration(850)).toBe('850 ms');
    expect(formatDuration(12_340)).toBe('12.3 s');
    expect(formatDuration(245_000)).toBe('4m 05s');
    expect(formatDuration(2 * 3600_000 + 3 * 60_000)).toBe('2h 03m');
    expect(formatDuration(null)).toBe('—');
  });
  it('formats numbers for cells', () => {
    expect(formatNumber(0.913456789)).toBe('0.91346');
    expect(formatNumber(12345)).toBe('12,345');
    expect(formatNumber(0.0000123)).toBe('1.23e-5');
    expect(formatNumber(NaN)).toBe('NaN');
    expect(formatNumber(-Infinity)).toBe('-∞');
    expect(formatNumber('lgbm')).toBe('lgbm');
  });
  it('formats sizes and relative times', () => {
    expect(formatBytes(1536)).toBe('1.5 KB');
    expect(formatRelative(1000, 1000 + 5 * 60_000)).toBe('5 min ago');
  });
});

describe('columns', () => {
  it('round-trips sort and columns through the URL', () => {
    expect(parseSort('metrics.acc:desc')).toEqual({ key: 'metrics.acc', desc: true });
    expect(formatSort({ key: 'params.lr', desc: false })).toBe('params.lr:asc');
    const cols = ['metrics.a,b', 'params.lr', 'tags.x%y'];
    expect(parseColumns(formatColumns(cols))).toEqual(cols);
    expect(parseColumns('bogus,metrics.a')).toEqual(['metrics.a']);
  });
  it('reads values and keys of runs', () => {
    const r = makeRun(3);
    expect(cellValue(r, 'metrics.accuracy')).toBe(0.003);
    expect(cellValue(r, 'params.model')).toBe('lgbm');
    expect(cellValue(r, 'attributes.duration')).toBe(5000);
    expect(keysOfRuns([r])).toEqual({ params: ['lr', 'model'], metrics: ['accuracy', 'loss'], tags: ['team'] });
  });
  it('chooses metrics and the params that vary as default columns', () => {
    const runs = makeRuns(20);
    expect(defaultColumns(runs, keysOfRuns(runs))).toEqual(['metrics.accuracy', 'metrics.loss', 'params.lr', 'params.model']);
  });
});

describe('csv', () => {
  it('parses quotes, escaped quotes and CRLF', () => {
    const { rows } = parseCsv('a,b\r\n"x, y","say ""hi"""\r\n1,2\r\n');
    expect(rows).toEqual([['a', 'b'], ['x, y', 'say "hi"'], ['1', '2']]);
  });
  it('guesses a tab delimiter and stops after maxRows', () => {
    const { rows, truncated } = parseCsv('a\tb\n1\t2\n3\t4\n', 2);
    expect(rows).toEqual([['a', 'b'], ['1', '2']]);
    expect(truncated).toBe(true);
  });
});

describe('scales', () => {
  it('makes numeric and categorical axes', () => {
    const n = makeAxis([1, 3, undefined, '2']);
    expect(n.kind).toBe('numeric');
    expect(n.pos(1)).toBe(0);
    expect(n.pos(3)).toBe(1);
    expect(n.pos(undefined)).toBeNull();
    const c = makeAxis(['b', 'a', 'c']);
    expect(c.kind).toBe('categorical');
    expect(c.pos('a')).toBe(0);
    expect(c.pos('c')).toBe(1);
  });
});

describe('routes', () => {
  it('maps paths to views', () => {
    const name = (p: string) => {
      const el = route(p) as { type?: { name?: string; displayName?: string; _payload?: unknown } } | null;
      if (!el) return null;
      const t = el.type as { name?: string; $$typeof?: symbol };
      return t?.name || (t?.$$typeof ? 'lazy' : '?');
    };
    expect(name('/')).toBe('ExperimentsView');
    expect(name('/experiments/3')).toBe('RunsView');
    expect(name('/runs/abc')).toBe('RunView');
    expect(name('/compare')).toBe('CompareView');
    expect(name('/runs/abc/pipeline')).toBe('lazy');
    expect(name('/runs/abc/sweep')).toBe('lazy');
    expect(name('/experiments/3/datasets/model%20input')).toBe('lazy');
    expect(name('/nope/x/y')).toBeNull();
  });
});
