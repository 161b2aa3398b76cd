// /experiments/:id — the runs of an experiment.
import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { api, ApiError, searchAllRuns, type Experiment, type Run } from '../../api';
import { ColumnChooser } from '../../components/ColumnChooser';
import { ErrorBox } from '../../components/ErrorBox';
import { DatasetsMenu } from '../../components/DatasetsMenu';
import { FilterBox } from '../../components/FilterBox';
import { RunsTable } from '../../components/RunsTable';
import { seriesColor } from '../../lib/chart';
import {
  defaultColumns,
  formatColumns,
  formatSort,
  keysOfRuns,
  parseColumns,
  parseSort,
  type KeySets,
  type SortSpec,
} from '../../lib/columns';
import { useCrumbs } from '../../lib/crumbs';
import { formatNumber } from '../../lib/format';
import { useReady } from '../../lib/ready';
import { navigate, setSearchParams, useLocation } from '../../lib/router';

/** At most this many runs are loaded into the table. */
export const MAX_RUNS = 50_000;
const PAGE = 5000;
const POLL_RUNNING_MS = 5000;
const POLL_IDLE_MS = 15000;

function mergeKeys(a: KeySets, b: KeySets | null): KeySets {
  if (!b) return a;
  const u = (x: string[], y: string[]) => Array.from(new Set([...x, ...y])).sort();
  return { params: u(a.params, b.params), metrics: u(a.metrics, b.metrics), tags: u(a.tags, b.tags) };
}

const quote = (s: string) => "'" + s.replace(/'/g, "''") + "'";

export function RunsView({ experimentId }: { experimentId: string }) {
  const { search } = useLocation();
  const q = useMemo(() => new URLSearchParams(search), [search]);
  const filter = q.get('filter') ?? '';
  const sort: SortSpec | null = useMemo(() => parseSort(q.get('sort')), [q]);
  const urlColumns = useMemo(() => parseColumns(q.get('cols')), [q]);
  const groupBy = q.get('group');
  const selParam = q.get('sel') ?? '';
  const selected = useMemo(() => new Set(selParam ? selParam.split(',') : []), [selParam]);

  const [experiment, setExperiment] = useState<Experiment | null>(null);
  const [runs, setRuns] = useState<Run[]>([]);
  const [loading, setLoading] = useState(true);
  const [done, setDone] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [filterError, setFilterError] = useState<{ message: string; position?: number } | null>(null);
  const [serverKeys, setServerKeys] = useState<KeySets | null>(null);
  const [loadMs, setLoadMs] = useState<number | null>(null);
  const runsRef = useRef<Run[]>([]);
  runsRef.current = runs;

  useCrumbs([{ label: experiment?.name ?? experimentId, to: `/experiments/${encodeURIComponent(experimentId)}` }]);

  useEffect(() => {
    let live = true;
    api.experiment(experimentId).then(
      (e) => live && setExperiment(e),
      (e) => live && setError(e),
    );
    return () => {
      live = false;
    };
  }, [experimentId]);

  // Load every run matching the filter, page by page; the first page shows at once.
  useEffect(() => {
    const ctrl = new AbortController();
    const t0 = performance.now();
    setLoading(true);
    setDone(false);
    setFilterError(null);
    setError(null);
    searchAllRuns(
      { experiment_ids: [experimentId], filter },
      {
        signal: ctrl.signal,
        pageSize: PAGE,
        limit: MAX_RUNS,
        onPage: (all, last) => {
          if (ctrl.signal.aborted) return;
          setRuns(all.slice());
          if (last) {
            setDone(true);
            setLoadMs(performance.now() - t0);
          }
        },
      },
    )
      .catch((e: unknown) => {
        if (ctrl.signal.aborted || (e as Error)?.name === 'AbortError') return;
        if (e instanceof ApiError && (e.type === 'InvalidFilter' || e.status === 400)) {
          setFilterError({ message: e.message, position: e.position });
          setRuns([]);
        } else setError(e);
        setDone(true);
      })
      .finally(() => {
        if (!ctrl.signal.aborted) setLoading(false);
      });
    return () => ctrl.abort();
  }, [experimentId, filter]);

  // Live updates: refresh RUNNING runs and pick up new ones.
  const anyRunning = useMemo(() => runs.some((r) => r.status === 'RUNNING'), [runs]);
  useEffect(() => {
    if (!done || error || filterError) return;
    let stopped = false;
    const poll = async () => {
      if (stopped || document.hidden) return;
      const current = runsRef.current;
      const running = current.filter((r) => r.status === 'RUNNING').map((r) => r.id);
      const since = current.reduce((m, r) => Math.max(m, r.start_time), 0);
      const updates: Run[] = [];
      try {
        for (let i = 0; i < running.length && i < 2000; i += 200) {
          const ids = running.slice(i, i + 200).map(quote).join(', ');
          const page = await api.searchRuns({ experiment_ids: [experimentId], filter: `attributes.run_id IN (${ids})`, max_results: 200 });
          updates.push(...page.runs);
        }
        const newer = filter ? `(${filter}) AND attributes.start_time > ${since}` : `attributes.start_time > ${since}`;
        const fresh = await api.searchRuns({ experiment_ids: [experimentId], filter: newer, max_results: 1000 });
        updates.push(...fresh.runs);
      } catch {
        return; // try again at the next tick
      }
      if (stopped || !updates.length) return;
      setRuns((prev) => {
        const byId = new Map(updates.map((r) => [r.id, r]));
        const next = prev.map((r) => {
          const u = byId.get(r.id);
          if (u) byId.delete(r.id);
          return u ?? r;
        });
        const added = Array.from(byId.values()).sort((a, b) => b.start_time - a.start_time);
        return added.length ? [...added, ...next] : next;
      });
    };
    const id = setInterval(poll, anyRunning ? POLL_RUNNING_MS : POLL_IDLE_MS);
    return () => {
      stopped = true;
      clearInterval(id);
    };
  }, [done, error, filterError, anyRunning, experimentId, filter]);

  // The names of every key, for the filter's completion: asked once the runs are in,
  // so that it does not slow their loading down.
  useEffect(() => {
    if (!done) return;
    let live = true;
    api.experimentKeys(experimentId).then(
      (k) => live && setServerKeys(k),
      () => undefined,
    );
    return () => {
      live = false;
    };
  }, [done, experimentId]);

  const keys = useMemo(() => mergeKeys(keysOfRuns(runs.length > 20000 ? runs.slice(0, 20000) : runs), serverKeys), [runs, serverKeys]);
  // The default columns are chosen once, from the first runs loaded, so that they do not
  // jump around as more pages and live updates arrive.
  const frozenDefaults = useRef<string[] | null>(null);
  if (!frozenDefaults.current && runs.length > 0 && (done || runs.length >= PAGE)) frozenDefaults.current = defaultColumns(runs, keys);
  const defaults = frozenDefaults.current ?? [];
  const columns = urlColumns ?? defaults;

  const setColumns = useCallback((cols: string[]) => setSearchParams({ cols: formatColumns(cols) }, { replace: true }), []);
  const setSort = useCallback((s: SortSpec | null) => setSearchParams({ sort: formatSort(s) }, { replace: true }), []);
  const setSelected = useCallback((s: Set<string>) => setSearchParams({ sel: Array.from(s).join(',') || null }, { replace: true }), []);

  const selectedList = useMemo(() => runs.filter((r) => selected.has(r.id)), [runs, selected]);
  const colorIndex = useMemo(() => new Map(Array.from(selected).map((id, i) => [id, i])), [selected]);
  const colorOf = useCallback((id: string) => {
    const i = colorIndex.get(id);
    return i === undefined ? undefined : seriesColor(i);
  }, [colorIndex]);

  const running = useMemo(() => runs.reduce((n, r) => n + (r.status === 'RUNNING' ? 1 : 0), 0), [runs]);
  useReady(done || !!error);

  if (error) {
    return (
      <div className="page">
        <ErrorBox error={error} />
      </div>
    );
  }

  const truncated = runs.length >= MAX_RUNS;
  return (
    <div className="page fill runs-page">
      <div className="page-head">
        <div>
          <h1>{experiment?.name ?? experimentId}</h1>
          <div className="sub">
            {loading && !done ? (
              <>
                <span className="spinner" /> Loading runs… {runs.length ? formatNumber(runs.length) : ''}
              </>
            ) : (
              <>
                {formatNumber(runs.length)} run{runs.length === 1 ? '' : 's'}
                {filter ? ' matching the filter' : ''}
                {truncated ? ` (the first ${formatNumber(MAX_RUNS)}: narrow the filter)` : ''}
                {running > 0 && (
                  <>
                    {' · '}
                    <span className="live-dot" /> {running} running
                  </>
                )}
                {loadMs !== null && <span className="faint"> · loaded in {(loadMs / 1000).toFixed(2)} s</span>}
              </>
            )}
          </div>
        </div>
        <span className="spacer" />
        {done && <DatasetsMenu experimentId={experimentId} />}
      </div>
      <div className="toolbar runs-toolbar">
        <FilterBox value={filter} keys={keys} error={filterError} onSubmit={(f) => setSearchParams({ filter: f || null, sel: null })} />
        <label className="row group-by">
          <span className="muted">Group by</span>
          <select value={groupBy ?? ''} onChange={(e) => setSearchParams({ group: e.target.value || null }, { replace: true })} data-testid="group-by">
            <option value="">none</option>
            {keys.params.length > 0 && (
              <optgroup label="Params">
                {keys.params.map((k) => (
                  <option key={k} value={`params.${k}`}>
                    {k}
                  </option>
                ))}
              </optgroup>
            )}
            {keys.tags.length > 0 && (
              <optgroup label="Tags">
                {keys.tags.map((k) => (
                  <option key={k} value={`tags.${k}`}>
                    {k}
                  </option>
                ))}
              </optgroup>
            )}
          </select>
        </label>
        <ColumnChooser keys={keys} columns={columns} onChange={setColumns} onReset={() => setSearchParams({ cols: null }, { replace: true })} />
        <button
          className="btn primary"
          data-testid="compare-button"
          disabled={selected.size < 2}
          title={selected.size < 2 ? 'Select two runs or more to compare them' : `Compare ${selected.size} runs`}
          onClick={() => navigate(`/compare?runs=${Array.from(selected).map(encodeURIComponent).join(',')}`)}
        >
          Compare{selected.size ? ` ${selected.size}` : ''}
        </button>
      </div>
      {selectedList.length > 0 && (
        <div className="selection-bar">
          <span>
            {selected.size} selected
          </span>
          <div className="chips">
            {selectedList.slice(0, 12).map((r) => (
              <span key={r.id} className="chip">
                <span className="swatch" style={{ background: colorOf(r.id) }} />
                {r.name || r.id.slice(0, 8)}
              </span>
            ))}
            {selectedList.length > 12 && <span className="faint">+{selectedList.length - 12}</span>}
          </div>
          <span className="spacer" />
          <button className="btn small ghost" onClick={() => setSelected(new Set())}>
            Clear
          </button>
        </div>
      )}
      <RunsTable
        runs={runs}
        columns={columns}
        sort={sort}
        onSortChange={setSort}
        selected={selected}
        onSelectedChange={setSelected}
        groupBy={groupBy}
        onRemoveColumn={(k) => setColumns(columns.filter((c) => c !== k))}
        colorOf={colorOf}
        emptyText={
          !done ? 'Loading…' : filter ? 'No run matches the filter.' : 'No runs in this experiment yet: record one with tane.start_run() or @tane.main.'
        }
      />
    </div>
  );
}
