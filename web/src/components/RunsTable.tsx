// The runs table: virtualized (only the visible rows are in the DOM), sortable,
// with chosen columns, grouping by a param and row selection.
import { memo, useCallback, useEffect, useMemo, useRef, useState, type CSSProperties, type MouseEvent, type ReactElement } from 'react';
import type { Run } from '../api';
import { cellValue, columnLabel, numericOf, runDuration, sortRuns, splitKey, type SortSpec } from '../lib/columns';
import { formatDuration, formatNumber, formatRelative, formatTime } from '../lib/format';
import { Link } from '../lib/router';
import { StatusBadge } from './StatusBadge';

export interface RunsTableProps {
  runs: Run[];
  /** Chosen columns ("metrics.acc", "params.lr", "tags.x"). */
  columns: string[];
  sort: SortSpec | null;
  onSortChange: (sort: SortSpec | null) => void;
  selected: ReadonlySet<string>;
  onSelectedChange: (selected: Set<string>) => void;
  /** A param (or any column key) to group rows by. */
  groupBy?: string | null;
  onRemoveColumn?: (key: string) => void;
  colorOf?: (runId: string) => string | undefined;
  rowHeight?: number;
  /** Viewport height used when the container has no layout (tests). */
  fallbackHeight?: number;
  now?: number;
  emptyText?: string;
}

type Row = { type: 'run'; run: Run; depth: number } | { type: 'group'; value: string; count: number; runs: Run[]; collapsed: boolean };

const OVERSCAN = 8;
const W_SELECT = 36;
const W_STATUS = 96;
const W_NAME = 280;
const W_CREATED = 118;
const W_DURATION = 100;
const W_COL = 124;

/** Wide enough for the header's label (up to a limit): long keys like model.learning_rate fit. */
function colWidth(key: string): number {
  const [entity] = splitKey(key);
  const fit = Math.round(columnLabel(key).length * 7.4 + 34);
  return Math.min(entity === 'tags' ? 240 : 200, Math.max(entity === 'tags' ? 150 : W_COL, fit));
}

function renderCell(run: Run, key: string): { text: string; title?: string; numeric: boolean } {
  const v = cellValue(run, key);
  if (v === undefined) return { text: '', numeric: false };
  const [entity] = splitKey(key);
  if (entity === 'metrics') return { text: formatNumber(v as number), title: String(v), numeric: true };
  if (entity === 'params') {
    const n = numericOf(v);
    return { text: n !== undefined ? formatNumber(v) : String(v), title: String(v), numeric: n !== undefined };
  }
  if (key === 'attributes.start_time' || key === 'attributes.end_time') return { text: formatTime(v as number), numeric: false };
  if (key === 'attributes.duration') return { text: formatDuration(v as number), numeric: true };
  return { text: String(v), title: String(v), numeric: false };
}

function groupRows(runs: Run[], groupBy: string, collapsed: ReadonlySet<string>): Row[] {
  const groups = new Map<string, Run[]>();
  for (const r of runs) {
    const v = cellValue(r, groupBy);
    const k = v === undefined ? '' : String(v);
    let g = groups.get(k);
    if (!g) groups.set(k, (g = []));
    g.push(r);
  }
  const keys = Array.from(groups.keys()).sort((a, b) => {
    if (a === '') return 1;
    if (b === '') return -1;
    const na = numericOf(a);
    const nb = numericOf(b);
    if (na !== undefined && nb !== undefined) return na - nb;
    return a.localeCompare(b);
  });
  const rows: Row[] = [];
  for (const k of keys) {
    const g = groups.get(k)!;
    const c = collapsed.has(k);
    rows.push({ type: 'group', value: k, count: g.length, runs: g, collapsed: c });
    if (!c) for (const r of g) rows.push({ type: 'run', run: r, depth: 1 });
  }
  return rows;
}

function mean(runs: Run[], key: string): number | undefined {
  let s = 0;
  let n = 0;
  for (const r of runs) {
    const v = numericOf(cellValue(r, key));
    if (v !== undefined && Number.isFinite(v)) {
      s += v;
      n++;
    }
  }
  return n ? s / n : undefined;
}

interface RowProps {
  row: Row;
  top: number;
  height: number;
  columns: string[];
  width: number;
  selected: boolean;
  color?: string;
  now: number;
  groupBy?: string | null;
  onToggle: (run: Run, e: MouseEvent) => void;
  onToggleGroup: (value: string) => void;
  onSelectGroup: (runs: Run[], select: boolean) => void;
  groupSelected?: boolean;
}

const RunRow = memo(function RunRow({ row, top, height, columns, width, selected, color, now, groupBy, onToggle, onToggleGroup, onSelectGroup, groupSelected }: RowProps) {
  const style: CSSProperties = { top, height, width };
  if (row.type === 'group') {
    return (
      <div className="rt-row rt-group" style={style} data-testid="run-group" role="row">
        <div className="rt-cell rt-select rt-sticky" style={{ width: W_SELECT, left: 0 }}>
          <input
            type="checkbox"
            aria-label={`Select the runs of ${row.value}`}
            checked={!!groupSelected}
            onChange={(e) => onSelectGroup(row.runs, e.target.checked)}
          />
        </div>
        <button className="rt-group-toggle" style={{ width: W_STATUS + W_NAME + W_CREATED + W_DURATION }} onClick={() => onToggleGroup(row.value)}>
          <span className={'caret' + (row.collapsed ? '' : ' open')} aria-hidden="true">
            ▸
          </span>
          <span className="mono muted">{groupBy ? columnLabel(groupBy) : ''} =</span>
          <strong className="mono">{row.value === '' ? '(none)' : row.value}</strong>
          <span className="muted">
            {row.count} run{row.count === 1 ? '' : 's'}
          </span>
        </button>
        {columns.map((k) => {
          const numeric = splitKey(k)[0] === 'metrics';
          const m = numeric ? mean(row.runs, k) : undefined;
          return (
            <div key={k} className="rt-cell num muted" style={{ width: colWidth(k) }} title={m !== undefined ? `mean of ${row.count}` : undefined}>
              {m !== undefined ? 'μ ' + formatNumber(m) : ''}
            </div>
          );
        })}
      </div>
    );
  }
  const run = row.run;
  return (
    <div
      className={'rt-row' + (selected ? ' selected' : '')}
      style={style}
      data-testid="run-row"
      data-run-id={run.id}
      data-status={run.status}
      role="row"
      aria-selected={selected}
    >
      <div className="rt-cell rt-select rt-sticky" style={{ width: W_SELECT, left: 0 }} onClick={(e) => onToggle(run, e)}>
        <input type="checkbox" aria-label={`Select run ${run.name || run.id}`} checked={selected} readOnly />
      </div>
      <div className="rt-cell rt-sticky" style={{ width: W_STATUS, left: W_SELECT }}>
        <StatusBadge status={run.status} />
      </div>
      <div className="rt-cell rt-name rt-sticky rt-sticky-last" style={{ width: W_NAME, left: W_SELECT + W_STATUS, paddingLeft: row.depth ? 20 : undefined }} title={run.name || run.id}>
        {color && <span className="swatch" style={{ background: color }} />}
        <Link to={`/runs/${encodeURIComponent(run.id)}`}>{run.name || run.id.slice(0, 8)}</Link>
        {run.parent_id && <span className="rt-child" title="A child run (a sweep trial or a multirun job)">↳</span>}
      </div>
      <div className="rt-cell muted" style={{ width: W_CREATED }} title={formatTime(run.start_time)}>
        {formatRelative(run.start_time, now)}
      </div>
      <div className="rt-cell num muted" style={{ width: W_DURATION }}>
        {formatDuration(runDuration(run, now))}
      </div>
      {columns.map((k) => {
        const c = renderCell(run, k);
        return (
          <div key={k} className={'rt-cell' + (c.numeric ? ' num' : '')} style={{ width: colWidth(k) }} title={c.title}>
            {c.text}
          </div>
        );
      })}
    </div>
  );
});

export function RunsTable(props: RunsTableProps) {
  const { runs, columns, sort, onSortChange, selected, onSelectedChange, groupBy, onRemoveColumn, colorOf } = props;
  const rowHeight = props.rowHeight ?? 34;
  const scroller = useRef<HTMLDivElement>(null);
  const [scrollTop, setScrollTop] = useState(0);
  const [viewport, setViewport] = useState(props.fallbackHeight ?? 600);
  const [collapsed, setCollapsed] = useState<Set<string>>(new Set());
  const lastClicked = useRef<number | null>(null);
  const [tick, setTick] = useState(0);
  const clock = useMemo(() => Date.now(), [runs, tick]);
  const now = props.now ?? clock;

  // durations of RUNNING runs keep counting
  const anyRunning = useMemo(() => runs.some((r) => r.status === 'RUNNING'), [runs]);
  useEffect(() => {
    if (!anyRunning || props.now !== undefined) return;
    const id = setInterval(() => setTick((t) => t + 1), 5000);
    return () => clearInterval(id);
  }, [anyRunning, props.now]);

  useEffect(() => {
    const el = scroller.current;
    if (!el) return;
    const measure = () => setViewport(el.clientHeight || props.fallbackHeight || 600);
    measure();
    if (typeof ResizeObserver === 'undefined') return;
    const ro = new ResizeObserver(measure);
    ro.observe(el);
    return () => ro.disconnect();
  }, [props.fallbackHeight]);

  const sorted = useMemo(() => sortRuns(runs, sort), [runs, sort]);
  const rows: Row[] = useMemo(
    () => (groupBy ? groupRows(sorted, groupBy, collapsed) : sorted.map((run) => ({ type: 'run' as const, run, depth: 0 }))),
    [sorted, groupBy, collapsed],
  );
  const runRows = useMemo(() => rows.filter((r): r is Extract<Row, { type: 'run' }> => r.type === 'run').map((r) => r.run), [rows]);

  // params and tags whose values are numbers sort from the highest first and align right
  const numericCols = useMemo(() => {
    const sample = runs.length > 300 ? runs.slice(0, 300) : runs;
    const out = new Set<string>();
    for (const k of columns) {
      if (splitKey(k)[0] === 'metrics') {
        out.add(k);
        continue;
      }
      let seen = 0;
      let numeric = true;
      for (const r of sample) {
        const v = cellValue(r, k);
        if (v === undefined || v === '') continue;
        seen++;
        if (numericOf(v) === undefined) {
          numeric = false;
          break;
        }
      }
      if (seen && numeric) out.add(k);
    }
    return out;
  }, [columns, runs]);

  const width = W_SELECT + W_STATUS + W_NAME + W_CREATED + W_DURATION + columns.reduce((s, k) => s + colWidth(k), 0);
  const headerHeight = 36;
  const total = rows.length * rowHeight;
  const first = Math.max(0, Math.floor(scrollTop / rowHeight) - OVERSCAN);
  const last = Math.min(rows.length, Math.ceil((scrollTop + viewport) / rowHeight) + OVERSCAN);

  const onScroll = useCallback(() => {
    const el = scroller.current;
    if (el) setScrollTop(el.scrollTop);
  }, []);

  const onToggle = useCallback(
    (run: Run, e: MouseEvent) => {
      const idx = runRows.indexOf(run);
      const next = new Set(selected);
      if (e.shiftKey && lastClicked.current !== null) {
        const [a, b] = [Math.min(lastClicked.current, idx), Math.max(lastClicked.current, idx)];
        const on = !selected.has(run.id);
        for (let i = a; i <= b; i++) {
          if (on) next.add(runRows[i].id);
          else next.delete(runRows[i].id);
        }
      } else if (next.has(run.id)) next.delete(run.id);
      else next.add(run.id);
      lastClicked.current = idx;
      onSelectedChange(next);
    },
    [runRows, selected, onSelectedChange],
  );

  const onToggleGroup = useCallback((value: string) => {
    setCollapsed((c) => {
      const n = new Set(c);
      if (n.has(value)) n.delete(value);
      else n.add(value);
      return n;
    });
  }, []);

  const onSelectGroup = useCallback(
    (group: Run[], on: boolean) => {
      const next = new Set(selected);
      for (const r of group) {
        if (on) next.add(r.id);
        else next.delete(r.id);
      }
      onSelectedChange(next);
    },
    [selected, onSelectedChange],
  );

  const allSelected = runs.length > 0 && runs.every((r) => selected.has(r.id));
  const someSelected = !allSelected && runs.some((r) => selected.has(r.id));

  const header = (
    key: string,
    label: string,
    w: number,
    opts: { numeric?: boolean; descFirst?: boolean; removable?: boolean; title?: string; left?: number; last?: boolean } = {},
  ) => {
    const active = sort?.key === key;
    // the first click sorts numbers (and times) from the highest, the second from the lowest, the third clears
    const first = opts.descFirst ?? !!opts.numeric;
    const next: SortSpec | null = !active ? { key, desc: first } : sort!.desc === first ? { key, desc: !sort!.desc } : null;
    return (
      <div
        key={key}
        className={
          'rt-cell rt-head' + (opts.numeric ? ' num' : '') + (active ? ' sorted' : '') + (opts.left !== undefined ? ' rt-sticky' : '') + (opts.last ? ' rt-sticky-last' : '')
        }
        style={{ width: w, left: opts.left }}
        role="columnheader"
        aria-sort={active ? (sort!.desc ? 'descending' : 'ascending') : 'none'}
        title={opts.title ?? `Sort by ${label}`}
        data-column={key}
      >
        <button className="rt-sort" onClick={() => onSortChange(next)}>
          <span className="ellipsis">{label}</span>
          <span className="rt-arrow" aria-hidden="true">
            {active ? (sort!.desc ? '↓' : '↑') : ''}
          </span>
        </button>
        {opts.removable && onRemoveColumn && (
          <button className="rt-remove" title={`Hide the column ${label}`} aria-label={`Hide the column ${label}`} onClick={() => onRemoveColumn(key)}>
            ×
          </button>
        )}
      </div>
    );
  };

  const visible: ReactElement[] = [];
  for (let i = first; i < last; i++) {
    const row = rows[i];
    const groupSelected = row.type === 'group' ? row.runs.every((r) => selected.has(r.id)) : undefined;
    visible.push(
      <RunRow
        key={row.type === 'run' ? row.run.id : 'g:' + row.value}
        row={row}
        top={i * rowHeight}
        height={rowHeight}
        columns={columns}
        width={width}
        selected={row.type === 'run' && selected.has(row.run.id)}
        color={row.type === 'run' && selected.has(row.run.id) ? colorOf?.(row.run.id) : undefined}
        now={now}
        groupBy={groupBy}
        onToggle={onToggle}
        onToggleGroup={onToggleGroup}
        onSelectGroup={onSelectGroup}
        groupSelected={groupSelected}
      />,
    );
  }

  return (
    <div className="runs-table" role="table" aria-rowcount={rows.length} ref={scroller} onScroll={onScroll} data-testid="runs-table">
      <div className="rt-header" style={{ width, height: headerHeight }} role="row">
        <div className="rt-cell rt-head rt-select rt-sticky" style={{ width: W_SELECT, left: 0 }}>
          <input
            type="checkbox"
            aria-label="Select all runs"
            data-testid="select-all"
            checked={allSelected}
            ref={(el) => {
              if (el) el.indeterminate = someSelected;
            }}
            onChange={(e) => onSelectedChange(e.target.checked ? new Set(runs.map((r) => r.id)) : new Set())}
          />
        </div>
        {header('attributes.status', 'Status', W_STATUS, { left: W_SELECT })}
        {header('attributes.name', 'Run', W_NAME, { left: W_SELECT + W_STATUS, last: true })}
        {header('attributes.start_time', 'Created', W_CREATED, { descFirst: true })}
        {header('attributes.duration', 'Duration', W_DURATION, { numeric: true })}
        {columns.map((k) => {
          const [entity] = splitKey(k);
          return header(k, columnLabel(k), colWidth(k), {
            numeric: numericCols.has(k),
            removable: true,
            title: `${entity.replace(/s$/, '')} ${columnLabel(k)} — click to sort`,
          });
        })}
      </div>
      <div className="rt-body" style={{ height: total, width }}>
        {visible}
      </div>
      {rows.length === 0 && <div className="empty rt-empty">{props.emptyText ?? 'No runs match.'}</div>}
    </div>
  );
}
