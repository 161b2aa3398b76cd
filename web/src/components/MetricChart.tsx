// One metric of one or many runs as curves: downsampled by the server to about the
// chart's width, re-fetched for the visible step range when the user zooms.
import { useEffect, useMemo, useRef, useState } from 'react';
import type uPlot from 'uplot';
import { api, type MetricPoint } from '../api';
import { alignSeries, axisOptions, tickLabel } from '../lib/chart';
import { formatNumber, formatTime } from '../lib/format';
import { metricRequests } from '../lib/limit';
import { emaSmooth } from '../lib/smoothing';
import { UPlotChart } from './UPlotChart';

export interface ChartRun {
  id: string;
  label: string;
  color: string;
  /** The run's start (ms), for the relative-time axis. */
  startTime?: number;
}

export type XAxis = 'step' | 'time' | 'relative';
export type ChartStatus = 'loading' | 'done' | 'error';

export interface MetricChartProps {
  metricKey: string;
  runs: ChartRun[];
  xAxis?: XAxis;
  smoothing?: number;
  logY?: boolean;
  height?: number;
  /** Points asked of the server per run (default: ~2,000 for one run, fewer for many). */
  maxPoints?: number;
  onStatus?: (key: string, status: ChartStatus) => void;
  /** Charts with the same key share their cursor. */
  syncKey?: string;
  /** Bumped to fetch again (live updates of a RUNNING run). */
  refresh?: number;
  /** Fetch at once, without waiting to be scrolled into view (the first charts of a page). */
  eager?: boolean;
}

type Series = Map<string, MetricPoint[]>;

export function withAlpha(color: string, alpha: number): string {
  const m = color.match(/^#([0-9a-f]{6})$/i);
  if (!m) return color;
  const n = parseInt(m[1], 16);
  return `rgba(${(n >> 16) & 255}, ${(n >> 8) & 255}, ${n & 255}, ${alpha})`;
}

export function pointsPerRun(runs: number): number {
  if (runs <= 1) return 2000;
  return Math.max(250, Math.floor(2000 / Math.sqrt(runs)));
}

function xOf(p: MetricPoint, axis: XAxis, start: number): number {
  if (axis === 'step') return p.step;
  if (axis === 'time') return p.timestamp / 1000;
  return (p.timestamp - start) / 1000;
}

function tooltipPlugin(xAxis: XAxis, labels: () => { label: string; color: string; raw: boolean }[]): uPlot.Plugin {
  let tip: HTMLDivElement | null = null;
  return {
    hooks: {
      init: () => {
        tip = document.createElement('div');
        tip.className = 'tooltip chart-tip';
        tip.style.display = 'none';
        document.body.appendChild(tip);
      },
      destroy: () => {
        tip?.remove();
        tip = null;
      },
      setCursor: (u: uPlot) => {
        if (!tip) return;
        const idx = u.cursor.idx;
        if (idx == null || u.cursor.left == null || u.cursor.left < 0) {
          tip.style.display = 'none';
          return;
        }
        const x = u.data[0][idx];
        const meta = labels();
        const rows: { label: string; color: string; v: number }[] = [];
        for (let s = 1; s < u.series.length; s++) {
          const m = meta[s - 1];
          if (!m || m.raw || !u.series[s].show) continue;
          const v = u.data[s][idx];
          if (v != null) rows.push({ label: m.label, color: m.color, v });
        }
        if (!rows.length) {
          tip.style.display = 'none';
          return;
        }
        rows.sort((a, b) => b.v - a.v);
        tip.replaceChildren();
        const head = document.createElement('div');
        head.className = 'tip-head';
        head.textContent = xAxis === 'step' ? `step ${formatNumber(x)}` : xAxis === 'time' ? formatTime(x * 1000) : `${tickLabel(x)} s`;
        tip.appendChild(head);
        const shown = rows.length > 12 ? rows.slice(0, 12) : rows;
        for (const r of shown) {
          const line = document.createElement('div');
          line.className = 'tip-row';
          const sw = document.createElement('span');
          sw.className = 'swatch';
          sw.style.background = r.color;
          const name = document.createElement('span');
          name.className = 'tip-label';
          name.textContent = r.label;
          const val = document.createElement('span');
          val.className = 'tip-val';
          val.textContent = formatNumber(r.v);
          line.append(sw, name, val);
          tip.appendChild(line);
        }
        if (rows.length > shown.length) {
          const more = document.createElement('div');
          more.className = 'faint';
          more.textContent = `+${rows.length - shown.length} more`;
          tip.appendChild(more);
        }
        const rect = u.over.getBoundingClientRect();
        tip.style.display = 'block';
        const left = rect.left + u.cursor.left + 16;
        const w = tip.offsetWidth;
        tip.style.left = (left + w > window.innerWidth - 8 ? rect.left + u.cursor.left - w - 16 : left) + 'px';
        tip.style.top = rect.top + Math.max(0, (u.cursor.top ?? 0) - 20) + 'px';
      },
    },
  };
}

function maxLen(series: Series): number {
  let n = 0;
  for (const v of series.values()) n = Math.max(n, v.length);
  return n;
}

/** A metric logged once per run: its value as a number (one run) or as bars (several). */
function SinglePoints({ runs, series, height }: { runs: ChartRun[]; series: Series; height: number }) {
  const rows = runs
    .map((r) => ({ run: r, p: series.get(r.id)?.[0] }))
    .filter((x): x is { run: ChartRun; p: MetricPoint } => !!x.p);
  if (rows.length === 1) {
    const { p } = rows[0];
    return (
      <div className="single-value" style={{ height: Math.min(height, 120) }} data-testid="metric-values">
        <span className="single-number">{formatNumber(p.value)}</span>
        <span className="faint">
          one value, at step {formatNumber(p.step)} · {formatTime(p.timestamp)}
        </span>
      </div>
    );
  }
  const finite = rows.map((r) => r.p.value).filter(Number.isFinite);
  const lo = Math.min(0, ...finite);
  const hi = Math.max(0, ...finite);
  const span = hi - lo || 1;
  return (
    <div className="single-bars" style={{ maxHeight: height }} data-testid="metric-values">
      {rows.map(({ run, p }) => {
        const v = p.value;
        const left = ((Math.min(0, v) - lo) / span) * 100;
        const width = Number.isFinite(v) ? (Math.abs(v) / span) * 100 : 0;
        return (
          <div key={run.id} className="bar-row" title={`${run.label}: ${v}`}>
            <span className="bar-label ellipsis">{run.label}</span>
            <span className="bar-track">
              <span className="bar-fill" style={{ left: `${left}%`, width: `${width}%`, background: run.color }} />
            </span>
            <span className="bar-val mono">{formatNumber(v)}</span>
          </div>
        );
      })}
    </div>
  );
}

export function MetricChart({
  metricKey,
  runs,
  xAxis = 'step',
  smoothing = 0,
  logY = false,
  height = 240,
  maxPoints,
  onStatus,
  syncKey,
  refresh = 0,
  eager = false,
}: MetricChartProps) {
  const box = useRef<HTMLDivElement>(null);
  const [visible, setVisible] = useState(eager || typeof IntersectionObserver === 'undefined');
  const [full, setFull] = useState<Series | null>(null);
  const [zoom, setZoom] = useState<{ min: number; max: number } | null>(null);
  const [zoomed, setZoomed] = useState<Series | null>(null);
  const [error, setError] = useState<string | null>(null);
  const perRun = maxPoints ?? pointsPerRun(runs.length);
  const runKey = runs.map((r) => r.id).join(',');
  const onStatusRef = useRef(onStatus);
  onStatusRef.current = onStatus;

  useEffect(() => {
    if (visible) return;
    const el = box.current;
    if (!el) return;
    const io = new IntersectionObserver(
      (entries) => {
        if (entries.some((e) => e.isIntersecting)) {
          setVisible(true);
          io.disconnect();
        }
      },
      { rootMargin: '200px' },
    );
    io.observe(el);
    return () => io.disconnect();
  }, [visible]);

  // The whole history, downsampled.
  useEffect(() => {
    if (!visible) return;
    const ctrl = new AbortController();
    onStatusRef.current?.(metricKey, 'loading');
    setError(null);
    const ids = runKey ? runKey.split(',') : [];
    const load =
      ids.length === 1
        ? metricRequests(() => api.metricHistory(ids[0], metricKey, { maxPoints: perRun, signal: ctrl.signal })).then((pts) => new Map([[ids[0], pts]]))
        : api.metricHistories(ids, metricKey, { maxPoints: perRun, signal: ctrl.signal, perRun: metricRequests });
    load.then(
      (result) => {
        if (ctrl.signal.aborted) return;
        setFull(result);
        onStatusRef.current?.(metricKey, 'done');
      },
      (e: Error) => {
        if (ctrl.signal.aborted || e?.name === 'AbortError') return;
        setError(e.message);
        onStatusRef.current?.(metricKey, 'error');
      },
    );
    return () => ctrl.abort();
  }, [visible, runKey, metricKey, perRun, refresh]);

  // The zoomed step range, at full resolution again.
  useEffect(() => {
    if (!zoom) {
      setZoomed(null);
      return;
    }
    const ctrl = new AbortController();
    const ids = runKey ? runKey.split(',') : [];
    const t = setTimeout(() => {
      api
        .metricHistories(ids, metricKey, { maxPoints: perRun, minStep: zoom.min, maxStep: zoom.max, signal: ctrl.signal, perRun: metricRequests })
        .then(
          (result) => !ctrl.signal.aborted && setZoomed(result),
          () => undefined,
        );
    }, 120);
    return () => {
      clearTimeout(t);
      ctrl.abort();
    };
  }, [zoom, runKey, metricKey, perRun]);

  const series = zoom && zoomed ? zoomed : full;

  // x and step per run, in the axis' unit, for zoom mapping and the aligned data.
  const prepared = useMemo(() => {
    if (!series) return null;
    return runs.map((r) => {
      const pts = series.get(r.id) ?? [];
      const start = r.startTime ?? (pts.length ? pts[0].timestamp : 0);
      const x = new Array<number>(pts.length);
      const y = new Array<number | null>(pts.length);
      const steps = new Array<number>(pts.length);
      for (let i = 0; i < pts.length; i++) {
        const p = pts[i];
        x[i] = xOf(p, xAxis, start);
        steps[i] = p.step;
        const v = p.value;
        y[i] = Number.isFinite(v) && (!logY || v > 0) ? v : null;
      }
      if (xAxis !== 'step') {
        // timestamps may go back and forth across steps: keep x increasing
        const order = x.map((_, i) => i).sort((a, b) => x[a] - x[b]);
        return { run: r, x: order.map((i) => x[i]), y: order.map((i) => y[i]), steps: order.map((i) => steps[i]) };
      }
      return { run: r, x, y, steps };
    });
  }, [series, runs, xAxis, logY]);

  const showRaw = smoothing > 0 && runs.length <= 10;
  const data = useMemo<uPlot.AlignedData | null>(() => {
    if (!prepared) return null;
    const lines: { x: number[]; y: (number | null)[] }[] = [];
    for (const p of prepared) {
      if (showRaw) lines.push({ x: p.x, y: p.y });
      lines.push({ x: p.x, y: smoothing > 0 ? emaSmooth(p.y, smoothing) : p.y });
    }
    return alignSeries(lines);
  }, [prepared, smoothing, showRaw]);

  const meta = useMemo(() => {
    const m: { label: string; color: string; raw: boolean }[] = [];
    for (const r of runs) {
      if (showRaw) m.push({ label: r.label, color: r.color, raw: true });
      m.push({ label: r.label, color: r.color, raw: false });
    }
    return m;
  }, [runs, showRaw]);
  const metaRef = useRef(meta);
  metaRef.current = meta;
  const preparedRef = useRef(prepared);
  preparedRef.current = prepared;

  const options = useMemo<Omit<uPlot.Options, 'width' | 'height'>>(() => {
    const many = runs.length > 1;
    const seriesOpts: uPlot.Series[] = [{}];
    for (const m of metaRef.current) {
      seriesOpts.push({
        label: m.label,
        stroke: m.raw ? withAlpha(m.color, 0.22) : m.color,
        width: m.raw ? 1 : many ? 1.25 : 1.5,
        // uPlot shows the points when they are sparse enough to see
        points: m.raw ? { show: false } : { size: 4 },
        spanGaps: true,
      });
    }
    return {
      legend: { show: false },
      padding: [8, 8, 0, 0],
      scales: {
        x: { time: xAxis === 'time' },
        y: logY ? { distr: 3 } : {},
      },
      axes: axisOptions({ xTime: xAxis === 'time', xRelative: xAxis === 'relative' }),
      series: seriesOpts,
      focus: { alpha: many ? 0.25 : 1 },
      cursor: {
        drag: { x: true, y: false, setScale: false },
        focus: { prox: many ? 24 : -1 },
        points: { size: 6 },
        sync: syncKey ? { key: syncKey, setSeries: false } : undefined,
      },
      plugins: [tooltipPlugin(xAxis, () => metaRef.current)],
      hooks: {
        setSelect: [
          (u: uPlot) => {
            const sel = u.select;
            if (sel.width < 3) return;
            const x0 = u.posToVal(sel.left, 'x');
            const x1 = u.posToVal(sel.left + sel.width, 'x');
            u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
            u.setScale('x', { min: x0, max: x1 });
            // the step range of what is in view
            let lo = Infinity;
            let hi = -Infinity;
            for (const p of preparedRef.current ?? []) {
              for (let i = 0; i < p.x.length; i++) {
                if (p.x[i] >= x0 && p.x[i] <= x1) {
                  if (p.steps[i] < lo) lo = p.steps[i];
                  if (p.steps[i] > hi) hi = p.steps[i];
                }
              }
            }
            if (xAxis === 'step') {
              lo = Math.floor(x0);
              hi = Math.ceil(x1);
            }
            if (lo <= hi) setZoom({ min: lo, max: hi });
          },
        ],
        ready: [
          (u: uPlot) => {
            u.over.addEventListener('dblclick', () => setZoom(null));
          },
        ],
      },
    };
    // meta changes with runs/showRaw
  }, [runs, showRaw, xAxis, logY, syncKey]);

  const total = useMemo(() => {
    let n = 0;
    if (series) for (const v of series.values()) n += v.length;
    return n;
  }, [series]);

  return (
    <div ref={box} className="metric-chart" data-metric={metricKey} data-points={series ? total : undefined} data-loaded={series ? 'true' : 'false'}>
      {zoom && (
        <button className="btn small ghost zoom-reset" onClick={() => setZoom(null)} title="Show the whole history (or double-click the chart)">
          Reset zoom
        </button>
      )}
      {error && !total ? (
        <div className="chart-empty" style={{ height }}>
          <span className="muted">{error}</span>
        </div>
      ) : !data ? (
        <div className="chart-empty" style={{ height }}>
          <span className="spinner" />
        </div>
      ) : total === 0 ? (
        <div className="chart-empty" style={{ height }}>
          <span className="muted">No points{logY ? ' (log scale needs positive values)' : ''}</span>
        </div>
      ) : series && maxLen(series) <= 1 ? (
        <SinglePoints runs={runs} series={series} height={height} />
      ) : (
        <UPlotChart options={options} data={data} height={height} testId="metric-chart" />
      )}
    </div>
  );
}
