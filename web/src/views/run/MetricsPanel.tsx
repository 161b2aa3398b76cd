// A grid of metric charts with shared controls: x axis, smoothing, log scale, search.
import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { MetricChart, type ChartRun, type ChartStatus, type XAxis } from '../../components/MetricChart';
import { setSearchParams, useLocation } from '../../lib/router';

export interface MetricsPanelProps {
  keys: string[];
  runs: ChartRun[];
  /** Called with true once every chart in view has drawn its data. */
  onReady?: (ready: boolean) => void;
  defaultXAxis?: XAxis;
  refresh?: number;
  emptyText?: string;
  /** Per-run points (default from the number of runs). */
  maxPoints?: number;
  syncKey?: string;
}

export function ChartControls({ defaultX = 'step' }: { defaultX?: XAxis }) {
  const { xAxis, smoothing, logY } = useChartSettings(defaultX);
  return (
    <>
      <div className="seg" role="group" aria-label="x axis">
        {(['step', 'relative', 'time'] as XAxis[]).map((x) => (
          <button key={x} className={xAxis === x ? 'on' : ''} onClick={() => setSearchParams({ x: x === defaultX ? null : x }, { replace: true })} data-testid={`x-${x}`}>
            {x === 'step' ? 'Step' : x === 'relative' ? 'Relative time' : 'Wall time'}
          </button>
        ))}
      </div>
      <label className="row smoothing" title="Exponential moving average (as TensorBoard's)">
        <span className="muted">Smoothing</span>
        <input
          type="range"
          min={0}
          max={0.99}
          step={0.01}
          value={smoothing}
          data-testid="smoothing"
          onChange={(e) => setSearchParams({ smooth: Number(e.target.value) ? e.target.value : null }, { replace: true })}
        />
        <span className="mono smoothing-val">{smoothing.toFixed(2)}</span>
      </label>
      <label className="check">
        <input type="checkbox" checked={logY} data-testid="log-scale" onChange={(e) => setSearchParams({ log: e.target.checked ? '1' : null }, { replace: true })} />
        Log scale
      </label>
    </>
  );
}

export function useChartSettings(defaultX: XAxis = 'step') {
  const { search } = useLocation();
  const q = new URLSearchParams(search);
  return {
    xAxis: (q.get('x') as XAxis | null) ?? defaultX,
    smoothing: Math.min(0.99, Math.max(0, Number(q.get('smooth') ?? 0) || 0)),
    logY: q.get('log') === '1',
    metricFilter: q.get('mq') ?? '',
  };
}

export function MetricsPanel({ keys, runs, onReady, defaultXAxis = 'step', refresh, emptyText, maxPoints, syncKey }: MetricsPanelProps) {
  const { xAxis, smoothing, logY, metricFilter } = useChartSettings(defaultXAxis);
  const [status, setStatus] = useState<Record<string, ChartStatus>>({});
  const shown = useMemo(() => {
    const f = metricFilter.toLowerCase();
    return f ? keys.filter((k) => k.toLowerCase().includes(f)) : keys;
  }, [keys, metricFilter]);

  const onStatus = useCallback((key: string, s: ChartStatus) => setStatus((prev) => (prev[key] === s ? prev : { ...prev, [key]: s })), []);
  const onReadyRef = useRef(onReady);
  onReadyRef.current = onReady;
  useEffect(() => {
    const states = Object.values(status);
    const ready = shown.length === 0 || (states.length > 0 && states.every((s) => s !== 'loading'));
    onReadyRef.current?.(ready);
  }, [status, shown.length]);

  return (
    <div>
      <div className="toolbar">
        <input
          type="search"
          placeholder="Search metrics"
          value={metricFilter}
          aria-label="Search metrics"
          onChange={(e) => setSearchParams({ mq: e.target.value || null }, { replace: true })}
          style={{ width: 200 }}
        />
        <ChartControls defaultX={defaultXAxis} />
        <span className="spacer" />
        <span className="faint">
          {shown.length} chart{shown.length === 1 ? '' : 's'} · drag to zoom, double-click to reset
        </span>
      </div>
      {shown.length === 0 ? (
        <div className="empty">{emptyText ?? 'No metrics.'}</div>
      ) : (
        <div className="grid2 charts-grid">
          {shown.map((k, i) => (
            <div key={k} className="chart-card">
              <div className="chart-head">
                <span className="chart-title" title={k}>
                  {k}
                </span>
              </div>
              <MetricChart
                metricKey={k}
                runs={runs}
                xAxis={xAxis}
                smoothing={smoothing}
                logY={logY}
                onStatus={onStatus}
                refresh={refresh}
                maxPoints={maxPoints}
                syncKey={syncKey}
                eager={i < 4}
              />
            </div>
          ))}
        </div>
      )}
    </div>
  );
}
