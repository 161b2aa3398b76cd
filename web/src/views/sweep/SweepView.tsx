// A sweep: its settings, the optimization history, parallel coordinates, importances,
// the Pareto front of several objectives, and every trial. Polls while it runs.
import { useCallback, useEffect, useMemo, useState, type ReactNode } from 'react';
import { api, getJson } from '../../api';
import { ErrorBox } from '../../components/ErrorBox';
import { StatusBadge } from '../../components/StatusBadge';
import { useCrumbs } from '../../lib/crumbs';
import { formatDuration, formatNumber, formatTime } from '../../lib/format';
import { useReady } from '../../lib/ready';
import { Link } from '../../lib/router';
import { HistoryChart } from './HistoryChart';
import { Importances } from './Importances';
import { ParallelCoords, buildAxes, inBrushes, type Brushes } from './ParallelCoords';
import { ParetoChart } from './ParetoChart';
import { TrialsTable } from './TrialsTable';
import { bestFirst, historyOf, paretoFront, trialValue, type SortKey } from './sweepmath';
import type { SweepResponse, TrialState } from './types';
import './sweep.css';

export const POLL_MS = 3000;
const STATES: TrialState[] = ['COMPLETE', 'PRUNED', 'FAILED', 'RUNNING'];

interface SweepState {
  data?: SweepResponse;
  error?: unknown;
  /** A refresh failed while earlier data is shown. */
  stale?: unknown;
}

/** Load the sweep; while it is RUNNING, load it again every `POLL_MS`. */
export function useSweep(runId: string, pollMs = POLL_MS): SweepState {
  const [state, setState] = useState<SweepState>({});
  useEffect(() => {
    const ctrl = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    let running = false;
    const schedule = () => {
      timer = setTimeout(() => {
        // No point refreshing a tab nobody looks at; look again soon.
        if (typeof document !== 'undefined' && document.hidden) schedule();
        else load();
      }, pollMs);
    };
    const load = () => {
      getJson<SweepResponse>(`/runs/${encodeURIComponent(runId)}/sweep`, { signal: ctrl.signal }).then(
        (data) => {
          if (ctrl.signal.aborted) return;
          setState({ data });
          running = data.status === 'RUNNING';
          if (running) schedule();
        },
        (error: unknown) => {
          if (ctrl.signal.aborted) return;
          setState((s) => (s.data ? { data: s.data, stale: error } : { error }));
          if (running) schedule();
        },
      );
    };
    setState({});
    load();
    return () => {
      ctrl.abort();
      if (timer) clearTimeout(timer);
    };
  }, [runId, pollMs]);
  return state;
}

export function objectiveNames(s: SweepResponse): string[] {
  const n = Math.max(s.settings.objectives?.length ?? 0, s.settings.directions?.length ?? 0, ...s.trials.map((t) => t.values?.length ?? 0), 1);
  return Array.from({ length: n }, (_, i) => s.settings.objectives?.[i] ?? (n > 1 ? `objective ${i}` : 'value'));
}

function options(o: Record<string, unknown>): string {
  const e = Object.entries(o);
  return e.length ? e.map(([k, v]) => `${k}=${typeof v === 'object' ? JSON.stringify(v) : String(v)}`).join(', ') : '';
}

export function SweepView({ runId }: { runId: string }) {
  const { data, error, stale } = useSweep(runId);
  const [experimentName, setExperimentName] = useState<string | null>(null);
  const [objective, setObjective] = useState(0);
  const [log, setLog] = useState(false);
  const [showPruned, setShowPruned] = useState(true);
  const [brushes, setBrushes] = useState<Brushes>({});
  const [stateFilter, setStateFilter] = useState<TrialState | 'ALL'>('ALL');
  const [sort, setSort] = useState<{ key: SortKey; desc: boolean }>({ key: 'number', desc: false });
  const [hover, setHover] = useState<string | null>(null);

  const experimentId = data?.experiment_id;
  useEffect(() => {
    if (!experimentId) return;
    let live = true;
    api.experiment(experimentId).then(
      (e) => live && setExperimentName(e.name),
      () => undefined,
    );
    return () => {
      live = false;
    };
  }, [experimentId]);
  useCrumbs([
    ...(data ? [{ label: experimentName ?? data.experiment_id, to: `/experiments/${encodeURIComponent(data.experiment_id)}` }] : []),
    { label: data?.run_name ?? runId.slice(0, 8), to: `/runs/${encodeURIComponent(runId)}` },
    { label: 'Sweep' },
  ]);

  const objectives = useMemo(() => (data ? objectiveNames(data) : []), [data]);
  const directions = data?.settings.directions ?? [];
  const history = useMemo(() => (data ? historyOf(data, objective) : null), [data, objective]);
  const axes = useMemo(() => (data ? buildAxes(data, log) : []), [data, log]);
  const pareto = useMemo(() => {
    if (!data) return new Set<string>();
    if (data.pareto_front.length) return new Set(data.pareto_front);
    return new Set(directions.length > 1 ? paretoFront(data.trials, directions) : []);
  }, [data, directions]);
  const brushed = Object.keys(brushes).length > 0;
  const filtered = useMemo(() => {
    if (!data) return [];
    return data.trials.filter((t) => (stateFilter === 'ALL' || t.state === stateFilter) && (!brushed || inBrushes(t, axes, brushes)));
  }, [data, stateFilter, brushed, axes, brushes]);
  const onHover = useCallback((id: string | null) => setHover(id), []);

  const ready = !!data;
  useReady(ready);

  if (error) {
    return (
      <div className="page">
        <ErrorBox error={error} title="No sweep to show" />
      </div>
    );
  }
  if (!data) {
    return (
      <div className="loading">
        <span className="spinner" /> Loading the sweep…
      </div>
    );
  }

  const multi = objectives.length > 1;
  const canLog = data.trials.every((t) => t.state !== 'COMPLETE' || (trialValue(t, objective) ?? 1) > 0);
  const bestRunId = data.best_trial?.run_id ?? null;
  return (
    <div className="page sweep-view" data-ready="true" data-testid="sweep-view" data-status={data.status}>
      <SweepHeader data={data} objectives={objectives} />
      {stale !== undefined && (
        <div className="sw-stale faint">Could not refresh: {(stale as Error)?.message ?? String(stale)}. Trying again.</div>
      )}
      <div className="sw-grid-top">
        <section className="panel sw-history-panel">
          <div className="panel-title">
            Optimization history
            <span className="muted">{multi ? 'objective values by trial' : `${objectives[0]} by trial, best so far`}</span>
            <span className="spacer" />
            {multi && (
              <select value={objective} onChange={(e) => setObjective(Number(e.target.value))} aria-label="Objective">
                {objectives.map((o, i) => (
                  <option key={o} value={i}>
                    {o}
                  </option>
                ))}
              </select>
            )}
            {data.counts.PRUNED > 0 && objective === 0 && (
              <label className="check sw-check" title="Pruned trials at the last value they reported">
                <input type="checkbox" checked={showPruned} onChange={(e) => setShowPruned(e.target.checked)} /> Pruned
              </label>
            )}
            <label className="check sw-check" title={canLog ? 'Logarithmic value axis' : 'Needs positive values'}>
              <input
                type="checkbox"
                checked={log && canLog}
                disabled={!canLog}
                onChange={(e) => setLog(e.target.checked)}
                data-testid="history-log"
              />{' '}
              Log scale
            </label>
          </div>
          <div className="panel-body sw-chart-body">
            <HistoryChart
              trials={data.trials}
              budget={data.status === 'RUNNING' ? data.settings.trials : null}
              objective={objective}
              objectiveName={objectives[objective]}
              best={history}
              log={log}
              showPruned={showPruned}
              highlight={hover}
              onHover={onHover}
            />
            <HistoryLegend best={!!history?.length} pruned={data.counts.PRUNED > 0 && showPruned && objective === 0} counts={data.counts} />
          </div>
        </section>
        <section className="panel sw-imp-panel">
          <div className="panel-title">
            Parameter importances
            {data.importances && Object.keys(data.importances).length > 0 && <span className="muted">for {objectives[0]}</span>}
          </div>
          <div className="panel-body">
            <Importances importances={data.importances} method={data.settings.importance} finished={data.finished} />
          </div>
        </section>
      </div>
      {multi && (
        <section className="panel sw-section">
          <div className="panel-title">
            Pareto front <span className="muted">{pareto.size} Pareto-optimal of {data.counts.COMPLETE ?? 0} complete trials</span>
          </div>
          <div className="panel-body sw-chart-body">
            <ParetoChart trials={data.trials} objectives={objectives} directions={directions} pareto={pareto} highlight={hover} onHover={onHover} />
          </div>
        </section>
      )}
      <section className="panel sw-section">
        <div className="panel-title">
          Parallel coordinates <span className="muted">complete trials, coloured from best (blue) to worst (orange); drag along an axis to filter</span>
          <span className="spacer" />
          {brushed && (
            <button className="btn small" onClick={() => setBrushes({})} data-testid="clear-brushes">
              Clear filters
            </button>
          )}
        </div>
        <div className="panel-body sw-chart-body">
          <ParallelCoords sweep={data} axes={axes} brushes={brushes} onBrush={setBrushes} highlight={hover} onHover={onHover} />
        </div>
      </section>
      <section className="panel sw-section">
        <div className="panel-title sw-trials-title">
          Trials
          <span className="muted">
            {filtered.length === data.trials.length ? `${data.trials.length}` : `${filtered.length} of ${data.trials.length}`}
          </span>
          <span className="spacer" />
          <div className="seg" role="group" aria-label="Filter by state">
            <button className={stateFilter === 'ALL' ? 'on' : ''} onClick={() => setStateFilter('ALL')}>
              All
            </button>
            {STATES.filter((s) => (data.counts[s] ?? 0) > 0).map((s) => (
              <button key={s} className={stateFilter === s ? 'on' : ''} onClick={() => setStateFilter(s)} data-testid={`filter-${s}`}>
                {s.charAt(0) + s.slice(1).toLowerCase()} <span className="faint">{data.counts[s]}</span>
              </button>
            ))}
          </div>
          {objectives.map((o, i) => (
            <button key={o} className="btn small" onClick={() => setSort(bestFirst(directions[i], i))} data-testid={i === 0 ? 'sort-best' : undefined}>
              Best {o} first
            </button>
          ))}
        </div>
        {brushed && (
          <div className="sw-brush-note">
            Filtered by the parallel coordinates ({Object.keys(brushes).length} {Object.keys(brushes).length === 1 ? 'axis' : 'axes'}).{' '}
            <button className="sw-link" onClick={() => setBrushes({})}>
              Clear
            </button>
          </div>
        )}
        <TrialsTable
          trials={filtered}
          space={data.space}
          objectives={objectives}
          sort={sort}
          onSort={setSort}
          bestRunId={bestRunId}
          pareto={pareto}
          highlight={hover}
          onHover={onHover}
        />
      </section>
    </div>
  );
}

function HistoryLegend({ best, pruned, counts }: { best: boolean; pruned: boolean; counts: Record<string, number> }) {
  return (
    <div className="sw-legend">
      <span>
        <svg width="12" height="12">
          <circle cx="6" cy="6" r="4.5" className="sw-point st-COMPLETE" />
        </svg>
        complete
      </span>
      {pruned && (
        <span>
          <svg width="12" height="12">
            <circle cx="6" cy="6" r="4" className="sw-point st-PRUNED" />
          </svg>
          pruned (last reported value)
        </span>
      )}
      {(counts.FAILED ?? 0) > 0 && (
        <span>
          <svg width="12" height="12" className="sw-fail-mark st-FAILED">
            <path d="M2.5,2.5 L9.5,9.5 M9.5,2.5 L2.5,9.5" />
          </svg>
          failed
        </span>
      )}
      {(counts.RUNNING ?? 0) > 0 && (
        <span>
          <svg width="12" height="12" className="sw-fail-mark st-RUNNING">
            <circle cx="6" cy="6" r="3.5" />
          </svg>
          running
        </span>
      )}
      {best && (
        <span>
          <svg width="18" height="12">
            <path d="M1,9 H9 V4 H17" className="sw-best-line" />
          </svg>
          best so far
        </span>
      )}
    </div>
  );
}

function Stat({ label, children, title }: { label: string; children: ReactNode; title?: string }) {
  return (
    <div className="sw-stat" title={title}>
      <div className="sw-stat-label">{label}</div>
      <div className="sw-stat-value">{children}</div>
    </div>
  );
}

function SweepHeader({ data, objectives }: { data: SweepResponse; objectives: string[] }) {
  const s = data.settings;
  const end = data.end_time ?? (data.status === 'RUNNING' ? Date.now() : null);
  const done = STATES.reduce((n, st) => n + (st === 'RUNNING' ? 0 : data.counts[st] ?? 0), 0);
  const goal = objectives
    .map((o, i) => `${s.directions?.[i] ?? ''} ${o}`.trim())
    .join(', ');
  const best = data.best_trial;
  return (
    <div className="sw-head">
      <div className="page-head sw-title">
        <div>
          <h1 className="sw-h1">
            <span className="muted sw-kicker">Sweep</span> {data.run_name} <StatusBadge status={data.status} />
          </h1>
          <div className="sub">
            <Link to={`/runs/${encodeURIComponent(data.run_id)}`}>parent run</Link> · started {formatTime(data.start_time)}
            {end !== null && <> · {formatDuration(end - data.start_time)}</>}
            {data.stopped_by && <> · stopped by {data.stopped_by}</>}
            {data.status === 'RUNNING' && <> · refreshing every {POLL_MS / 1000} s</>}
          </div>
        </div>
      </div>
      <div className="sw-stats">
        <Stat label="Sampler" title={options(s.sampler_options)}>
          {s.sampler ?? '—'}
          {s.seed !== null && <span className="faint sw-small"> seed {s.seed}</span>}
        </Stat>
        <Stat label="Pruner" title={options(s.pruner_options)}>
          {s.pruner ?? '—'}
        </Stat>
        <Stat label={objectives.length > 1 ? 'Objectives' : 'Objective'}>
          <span data-testid="sweep-objective">{s.directions ? goal : `${objectives.join(', ')}`}</span>
          {!s.directions && <span className="faint sw-small"> direction not recorded yet</span>}
        </Stat>
        <Stat label="Trials">
          {done}
          {s.trials !== null && <span className="faint"> / {s.trials}</span>}
        </Stat>
        {STATES.map((st) => (
          <Stat key={st} label={st.charAt(0) + st.slice(1).toLowerCase()}>
            <span className={`sw-count st-${st}`} data-testid={`count-${st}`}>
              {data.counts[st] ?? 0}
            </span>
          </Stat>
        ))}
      </div>
      {best && (
        <div className="sw-best" data-testid="sweep-best">
          <span className="sw-best-label">★ Best trial</span>
          <Link to={`/runs/${encodeURIComponent(best.run_id)}`} data-testid="best-trial-link">
            #{best.number} {best.run_name.length > 48 ? best.run_name.slice(0, 47) + '…' : best.run_name}
          </Link>
          {best.values?.map((v, i) => (
            <span key={i} className="sw-best-value mono">
              {objectives[i]} = {formatNumber(v)}
            </span>
          ))}
          <span className="chips">
            {Object.entries(best.params).map(([k, v]) => (
              <span key={k} className="chip">
                <span className="chip-k">{k}</span> {typeof v === 'number' ? formatNumber(v) : String(v)}
              </span>
            ))}
          </span>
        </div>
      )}
      <SettingsDetails data={data} />
    </div>
  );
}

function SettingsDetails({ data }: { data: SweepResponse }) {
  const s = data.settings;
  const rows: Array<[string, ReactNode]> = [];
  if (data.space.length)
    rows.push([
      'Space',
      <span className="chips">
        {data.space.map((p) => (
          <span key={p.name} className="chip" title={p.kind ?? undefined}>
            <span className="chip-k">{p.name}</span> {p.distribution ?? p.kind ?? ''}
          </span>
        ))}
      </span>,
    ]);
  if (s.overrides?.length) rows.push(['Overrides', <span className="mono">{s.overrides.join('  ')}</span>]);
  if (s.fixed.length) rows.push(['Fixed', <span className="mono">{s.fixed.join('  ')}</span>]);
  if (options(s.sampler_options)) rows.push(['Sampler options', <span className="mono">{options(s.sampler_options)}</span>]);
  if (options(s.pruner_options)) rows.push(['Pruner options', <span className="mono">{options(s.pruner_options)}</span>]);
  if (s.timeout !== null) rows.push(['Timeout', formatDuration(s.timeout * 1000)]);
  if (s.target !== null) rows.push(['Target', formatNumber(s.target)]);
  if (s.constraints.length) rows.push(['Constraints', <span className="mono">{s.constraints.join(', ')}</span>]);
  if (s.importance) rows.push(['Importance', s.importance]);
  if (!rows.length) return null;
  return (
    <details className="sw-settings">
      <summary>Settings and search space</summary>
      <dl className="kv">
        {rows.map(([k, v]) => (
          <FragmentRow key={k} k={k} v={v} />
        ))}
      </dl>
    </details>
  );
}

function FragmentRow({ k, v }: { k: string; v: ReactNode }) {
  return (
    <>
      <dt>{k}</dt>
      <dd>{v}</dd>
    </>
  );
}

export default SweepView;
