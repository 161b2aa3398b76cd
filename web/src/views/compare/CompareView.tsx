// /compare?runs=a,b,c — metric curves overlaid, parallel coordinates, a scatter,
// the params that differ and the metrics side by side.
import { useCallback, useEffect, useMemo, useState } from 'react';
import { api, type Run } from '../../api';
import { ErrorBox } from '../../components/ErrorBox';
import type { ChartRun } from '../../components/MetricChart';
import { MetricsCompare, ParamsDiff } from '../../components/ParamsDiff';
import { ParallelCoordinates } from '../../components/ParallelCoordinates';
import { ScatterPlot } from '../../components/ScatterPlot';
import { seriesColor } from '../../lib/chart';
import { differingParams, keysOfRuns } from '../../lib/columns';
import { useCrumbs } from '../../lib/crumbs';
import { useReady } from '../../lib/ready';
import { navigate, setSearchParams, useLocation } from '../../lib/router';
import { MetricsPanel } from '../run/MetricsPanel';

const quote = (s: string) => "'" + s.replace(/'/g, "''") + "'";

/** Load runs by id (any experiment), in the order given. */
async function loadRuns(ids: string[]): Promise<Run[]> {
  const found = new Map<string, Run>();
  const chunks: string[][] = [];
  for (let i = 0; i < ids.length; i += 200) chunks.push(ids.slice(i, i + 200));
  const pages = await Promise.all(
    chunks.map((c) => api.searchRuns({ filter: `attributes.run_id IN (${c.map(quote).join(', ')})`, max_results: c.length, view: 'all' })),
  );
  for (const p of pages) for (const r of p.runs) found.set(r.id, r);
  // ids the search did not return (another store's filter rules): fetch one by one
  const missing = ids.filter((id) => !found.has(id));
  await Promise.all(
    missing.slice(0, 50).map((id) =>
      api.run(id).then(
        (r) => found.set(id, r),
        () => undefined,
      ),
    ),
  );
  return ids.map((id) => found.get(id)).filter((r): r is Run => !!r);
}

const CHARTS_FIRST = 6;

export function CompareView() {
  const { search } = useLocation();
  const q = useMemo(() => new URLSearchParams(search), [search]);
  const idsParam = q.get('runs') ?? '';
  const ids = useMemo(() => Array.from(new Set(idsParam.split(',').map((s) => decodeURIComponent(s.trim())).filter(Boolean))), [idsParam]);
  const [runs, setRuns] = useState<Run[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [chartsReady, setChartsReady] = useState(false);
  const [allCharts, setAllCharts] = useState(false);
  // The plots and tables below the charts are drawn a moment later, so that the
  // charts' requests leave first.
  const [rest, setRest] = useState(false);
  useEffect(() => {
    if (!runs) return;
    const t = setTimeout(() => setRest(true), 50);
    return () => clearTimeout(t);
  }, [runs]);

  useEffect(() => {
    let live = true;
    setError(null);
    loadRuns(ids).then(
      (r) => live && setRuns(r),
      (e) => live && setError(e),
    );
    return () => {
      live = false;
    };
  }, [ids]);

  const colorIdx = useMemo(() => new Map(ids.map((id, i) => [id, i])), [ids]);
  const colorOf = useCallback((id: string) => seriesColor(colorIdx.get(id) ?? 0), [colorIdx]);
  const list = runs ?? [];
  const keys = useMemo(() => keysOfRuns(list), [list]);
  const metricKeys = useMemo(() => keys.metrics.filter((k) => !k.startsWith('system/')), [keys]);
  const differing = useMemo(() => differingParams(list, keys.params), [list, keys]);
  const chartRuns: ChartRun[] = useMemo(
    () => list.map((r) => ({ id: r.id, label: r.name || r.id.slice(0, 8), color: colorOf(r.id), startTime: r.start_time })),
    [list, colorOf],
  );

  const experiments = useMemo(() => Array.from(new Map(list.map((r) => [r.experiment_id, r.experiment])).entries()), [list]);
  useCrumbs([
    ...(experiments.length === 1 ? [{ label: experiments[0][1] || experiments[0][0], to: `/experiments/${encodeURIComponent(experiments[0][0])}` }] : []),
    { label: `Compare ${ids.length} runs` },
  ]);

  // Parallel coordinates: the differing params, then a metric.
  const pcMetric = q.get('pc') ?? metricKeys[0] ?? null;
  const pcDims = useMemo(() => {
    const dims = differing.slice(0, 10).map((k) => 'params.' + k);
    if (pcMetric) dims.push('metrics.' + pcMetric);
    return dims;
  }, [differing, pcMetric]);

  // Scatter: defaults to the first differing param against the first metric.
  const allKeys = useMemo(() => [...keys.params.map((k) => 'params.' + k), ...metricKeys.map((k) => 'metrics.' + k)], [keys, metricKeys]);
  const sx = q.get('sx') ?? (differing[0] ? 'params.' + differing[0] : allKeys[0] ?? '');
  const sy = q.get('sy') ?? (metricKeys[0] ? 'metrics.' + metricKeys[0] : allKeys[1] ?? '');

  const shownKeys = allCharts ? metricKeys : metricKeys.slice(0, CHARTS_FIRST);
  useReady((runs !== null && rest && (chartsReady || shownKeys.length === 0)) || !!error || ids.length === 0);

  const remove = (id: string) => {
    const next = ids.filter((x) => x !== id);
    setSearchParams({ runs: next.map(encodeURIComponent).join(',') || null }, { replace: true });
  };

  if (error)
    return (
      <div className="page">
        <ErrorBox error={error} />
      </div>
    );
  if (!ids.length)
    return (
      <div className="page">
        <div className="empty">Choose runs to compare: select them in a runs table and press Compare.</div>
      </div>
    );
  if (!runs)
    return (
      <div className="loading">
        <span className="spinner" /> Loading {ids.length} runs…
      </div>
    );

  const keyOptions = (
    <>
      <optgroup label="Params">
        {keys.params.map((k) => (
          <option key={k} value={'params.' + k}>
            {k}
          </option>
        ))}
      </optgroup>
      <optgroup label="Metrics">
        {metricKeys.map((k) => (
          <option key={k} value={'metrics.' + k}>
            {k}
          </option>
        ))}
      </optgroup>
    </>
  );

  return (
    <div className="page compare-page">
      <div className="page-head">
        <div>
          <h1>Compare {runs.length} runs</h1>
          {runs.length < ids.length && <div className="sub">{ids.length - runs.length} of the chosen runs were not found.</div>}
        </div>
      </div>
      <div className="chips compare-runs" data-testid="compare-runs">
        {runs.slice(0, 30).map((r) => (
          <span key={r.id} className="chip run-chip">
            <span className="swatch" style={{ background: colorOf(r.id) }} />
            <a
              href={`/runs/${encodeURIComponent(r.id)}`}
              onClick={(e) => {
                e.preventDefault();
                navigate(`/runs/${encodeURIComponent(r.id)}`);
              }}
            >
              {r.name || r.id.slice(0, 8)}
            </a>
            {runs.length > 2 && (
              <button aria-label={`Remove ${r.name || r.id}`} title="Remove from the comparison" onClick={() => remove(r.id)}>
                ×
              </button>
            )}
          </span>
        ))}
        {runs.length > 30 && <span className="faint">+{runs.length - 30} more</span>}
      </div>

      <section className="compare-section">
        <h2 className="section-title">
          Metrics <span className="muted">{metricKeys.length}</span>
        </h2>
        <MetricsPanel keys={shownKeys} runs={chartRuns} onReady={setChartsReady} syncKey="compare" emptyText="These runs logged no metrics." />
        {!allCharts && metricKeys.length > CHARTS_FIRST && (
          <div className="more-charts">
            <button className="btn" onClick={() => setAllCharts(true)}>
              Show all {metricKeys.length} metrics
            </button>
          </div>
        )}
      </section>

      {rest && (
      <>
      <div className="stack compare-plots">
        <section className="panel">
          <div className="panel-title">
            Parallel coordinates
            <span className="spacer" />
            <label className="row">
              <span className="muted">metric</span>
              <select value={pcMetric ?? ''} onChange={(e) => setSearchParams({ pc: e.target.value || null }, { replace: true })}>
                {metricKeys.map((k) => (
                  <option key={k} value={k}>
                    {k}
                  </option>
                ))}
              </select>
            </label>
          </div>
          <div className="panel-body">
            <ParallelCoordinates
              runs={runs}
              dims={pcDims}
              colorBy={pcMetric ? 'metrics.' + pcMetric : null}
              colorOf={colorOf}
              onRunClick={(r) => navigate(`/runs/${encodeURIComponent(r.id)}`)}
            />
          </div>
        </section>
        <section className="panel">
          <div className="panel-title">
            Scatter
            <span className="spacer" />
            <label className="row">
              <span className="muted">x</span>
              <select value={sx} onChange={(e) => setSearchParams({ sx: e.target.value }, { replace: true })} data-testid="scatter-x">
                {keyOptions}
              </select>
            </label>
            <label className="row">
              <span className="muted">y</span>
              <select value={sy} onChange={(e) => setSearchParams({ sy: e.target.value }, { replace: true })} data-testid="scatter-y">
                {keyOptions}
              </select>
            </label>
          </div>
          <div className="panel-body">
            {sx && sy ? (
              <ScatterPlot runs={runs} x={sx} y={sy} colorOf={colorOf} onRunClick={(r) => navigate(`/runs/${encodeURIComponent(r.id)}`)} />
            ) : (
              <div className="empty" data-testid="scatter">
                Nothing to plot.
              </div>
            )}
          </div>
        </section>
      </div>

      <section className="panel compare-table-panel">
        <div className="panel-title">Params that differ</div>
        <div className="panel-body">
          <ParamsDiff runs={runs} colorOf={colorOf} />
        </div>
      </section>
      <section className="panel compare-table-panel">
        <div className="panel-title">Latest metric values</div>
        <div className="panel-body">
          <MetricsCompare runs={runs} colorOf={colorOf} />
        </div>
      </section>
      </>
      )}
    </div>
  );
}
