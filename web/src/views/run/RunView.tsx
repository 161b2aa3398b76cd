// /runs/:id — one run: overview, metrics, system metrics, artifacts, child runs.
import { useCallback, useEffect, useMemo, useState } from 'react';
import { api, type Run } from '../../api';
import { ArtifactBrowser } from '../../components/ArtifactBrowser';
import { ErrorBox } from '../../components/ErrorBox';
import { RunsTable } from '../../components/RunsTable';
import { StatusBadge } from '../../components/StatusBadge';
import type { SortSpec } from '../../lib/columns';
import { seriesColor } from '../../lib/chart';
import { useCrumbs } from '../../lib/crumbs';
import { formatDuration, formatTime } from '../../lib/format';
import { useReady } from '../../lib/ready';
import { Link, navigate, setSearchParams, useLocation } from '../../lib/router';
import { MetricsPanel } from './MetricsPanel';
import { Overview } from './Overview';

type Tab = 'overview' | 'metrics' | 'system' | 'artifacts' | 'children';
const POLL_MS = 5000;

export function RunView({ runId }: { runId: string }) {
  const { search } = useLocation();
  const q = useMemo(() => new URLSearchParams(search), [search]);
  const tab = ((q.get('tab') as Tab | null) ?? 'overview') as Tab;
  const [run, setRun] = useState<Run | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [children, setChildren] = useState<Run[] | null>(null);
  const [childrenMore, setChildrenMore] = useState(false);
  const [refresh, setRefresh] = useState(0);
  const [chartsReady, setChartsReady] = useState<Tab | null>(null);

  useEffect(() => {
    let live = true;
    setRun(null);
    api.run(runId).then(
      (r) => live && setRun(r),
      (e) => live && setError(e),
    );
    api.children(runId, { max_results: 1000 }).then(
      (p) => {
        if (!live) return;
        setChildren(p.runs);
        setChildrenMore(!!p.next_page_token);
      },
      () => live && setChildren([]),
    );
    return () => {
      live = false;
    };
  }, [runId]);

  // Live updates while the run is RUNNING.
  const running = run?.status === 'RUNNING';
  useEffect(() => {
    if (!running) return;
    const id = setInterval(() => {
      if (document.hidden) return;
      api.run(runId).then(
        (r) => {
          setRun(r);
          setRefresh((n) => n + 1);
        },
        () => undefined,
      );
    }, POLL_MS);
    return () => clearInterval(id);
  }, [running, runId]);

  useCrumbs(
    run
      ? [
          { label: run.experiment || run.experiment_id, to: `/experiments/${encodeURIComponent(run.experiment_id)}` },
          { label: run.name || run.id.slice(0, 8), to: `/runs/${encodeURIComponent(run.id)}` },
        ]
      : [{ label: runId.slice(0, 8) }],
  );

  const metricKeys = useMemo(() => Object.keys(run?.metrics ?? {}).sort(), [run]);
  const userKeys = useMemo(() => metricKeys.filter((k) => !k.startsWith('system/')), [metricKeys]);
  const systemKeys = useMemo(() => metricKeys.filter((k) => k.startsWith('system/')), [metricKeys]);
  const chartRuns = useMemo(() => (run ? [{ id: run.id, label: run.name || run.id.slice(0, 8), color: seriesColor(0), startTime: run.start_time }] : []), [run?.id, run?.name, run?.start_time]);

  // which tab's charts are drawn: a tab's readiness never leaks into the next one
  const onChartsReady = useCallback((r: boolean) => setChartsReady(r ? tab : null), [tab]);
  const chartTab = tab === 'metrics' || tab === 'system';
  useReady((!!run && (!chartTab || chartsReady === tab) && children !== null) || !!error);

  const [childSort, setChildSort] = useState<SortSpec | null>(null);
  const [childSel, setChildSel] = useState<Set<string>>(new Set());

  if (error)
    return (
      <div className="page">
        <ErrorBox error={error} />
      </div>
    );
  if (!run)
    return (
      <div className="loading">
        <span className="spinner" /> Loading run…
      </div>
    );

  const kind = run.tags['tane.kind'];
  const setTab = (t: Tab) => setSearchParams({ tab: t === 'overview' ? null : t, path: null, mq: null });
  const tabBtn = (t: Tab, label: string, count?: number) => (
    <button key={t} className={'tab' + (tab === t ? ' active' : '')} onClick={() => setTab(t)} data-testid={`tab-${t}`} role="tab" aria-selected={tab === t}>
      {label}
      {count !== undefined && <span className="count">{count}</span>}
    </button>
  );
  const duration = run.end_time != null ? run.end_time - run.start_time : running ? Date.now() - run.start_time : null;

  return (
    <div className="page run-page">
      <div className="page-head run-head">
        <div style={{ minWidth: 0 }}>
          <div className="row" style={{ gap: 10 }}>
            <h1 className="ellipsis" title={run.name}>
              {run.name || run.id.slice(0, 8)}
            </h1>
            <StatusBadge status={run.status} />
            {run.deleted && <span className="badge badge-err">deleted</span>}
            {kind && <span className="badge badge-neutral">{kind}</span>}
          </div>
          <div className="sub">
            <span className="mono" title="Run id">
              {run.id}
            </span>
            {' · '}
            {formatTime(run.start_time)}
            {' · '}
            {formatDuration(duration)}
            {run.parent_id && (
              <>
                {' · parent '}
                <Link to={`/runs/${encodeURIComponent(run.parent_id)}`} className="mono">
                  {run.parent_id.slice(0, 8)}
                </Link>
              </>
            )}
          </div>
        </div>
        <span className="spacer" />
        {kind === 'pipeline' && (
          <Link to={`/runs/${encodeURIComponent(run.id)}/pipeline`} className="btn" data-testid="pipeline-link">
            Pipeline DAG
          </Link>
        )}
        {kind === 'sweep' && (
          <Link to={`/runs/${encodeURIComponent(run.id)}/sweep`} className="btn" data-testid="sweep-link">
            Sweep
          </Link>
        )}
        {children && children.length > 1 && (
          <button className="btn" onClick={() => navigate(`/compare?runs=${children.slice(0, 100).map((c) => encodeURIComponent(c.id)).join(',')}`)}>
            Compare children
          </button>
        )}
      </div>

      <div className="tabs" role="tablist">
        {tabBtn('overview', 'Overview')}
        {tabBtn('metrics', 'Metrics', userKeys.length)}
        {tabBtn('system', 'System', systemKeys.length)}
        {tabBtn('artifacts', 'Artifacts')}
        {children && children.length > 0 && tabBtn('children', 'Child runs', children.length)}
        {kind === 'pipeline' && (
          <Link to={`/runs/${encodeURIComponent(run.id)}/pipeline`} className="tab tab-link" data-testid="tab-pipeline">
            Pipeline ↗
          </Link>
        )}
        {kind === 'sweep' && (
          <Link to={`/runs/${encodeURIComponent(run.id)}/sweep`} className="tab tab-link" data-testid="tab-sweep">
            Sweep ↗
          </Link>
        )}
      </div>

      {tab === 'overview' && <Overview run={run} onRunChange={setRun} childRuns={children} childrenMore={childrenMore} onShowChildren={() => setTab('children')} />}
      {tab === 'metrics' && (
        <MetricsPanel key="metrics" keys={userKeys} runs={chartRuns} onReady={onChartsReady} refresh={refresh} emptyText="This run logged no metrics." />
      )}
      {tab === 'system' && (
        <MetricsPanel
          key="system"
          keys={systemKeys}
          runs={chartRuns}
          onReady={onChartsReady}
          refresh={refresh}
          defaultXAxis="relative"
          emptyText="No system metrics (CPU, memory, GPU): they are recorded while a run started with system metrics on is RUNNING."
        />
      )}
      {tab === 'artifacts' && <ArtifactBrowser runId={run.id} path={q.get('path')} onPathChange={(p) => setSearchParams({ path: p }, { replace: true })} />}
      {tab === 'children' && children && (
        <div className="children-tab">
          {childrenMore && <p className="muted">Showing the first {children.length} child runs.</p>}
          <div className="toolbar">
            <button
              className="btn primary"
              disabled={childSel.size < 2}
              onClick={() => navigate(`/compare?runs=${Array.from(childSel).map(encodeURIComponent).join(',')}`)}
            >
              Compare{childSel.size ? ` ${childSel.size}` : ''}
            </button>
          </div>
          <div className="children-table">
            <RunsTable
              runs={children}
              columns={[
                ...Object.keys(children[0]?.metrics ?? {})
                  .filter((k) => !k.startsWith('system/'))
                  .slice(0, 4)
                  .map((k) => 'metrics.' + k),
                ...Object.keys(children[0]?.params ?? {})
                  .filter((k) => children.some((c) => c.params[k] !== children[0].params[k]))
                  .slice(0, 4)
                  .map((k) => 'params.' + k),
              ]}
              sort={childSort}
              onSortChange={setChildSort}
              selected={childSel}
              onSelectedChange={setChildSel}
            />
          </div>
        </div>
      )}
    </div>
  );
}
