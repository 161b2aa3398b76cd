// The optimization history: each trial's objective value by trial number, coloured by
// state, and the best value so far as a step line.
import { useMemo, useRef, useState } from 'react';
import { formatNumber } from '../../lib/format';
import { navigate } from '../../lib/router';
import {
  axisTicks,
  linearTicks,
  padRange,
  shortNumber,
  trialValue,
  valueAxis,
  type BestPoint,
} from './sweepmath';
import type { Trial } from './types';
import { useWidth } from './useWidth';

export interface HistoryProps {
  trials: Trial[];
  /** The trial budget, if any: the x axis spans it while the sweep runs. */
  budget?: number | null;
  objective: number;
  objectiveName: string;
  /** The best-so-far line (null: none, e.g. several objectives). */
  best: BestPoint[] | null;
  log: boolean;
  showPruned: boolean;
  highlight: string | null;
  onHover: (runId: string | null) => void;
}

const H = 300;
const M = { left: 58, right: 18, top: 14, bottom: 38 };

interface Pt {
  t: Trial;
  x: number;
  y: number;
  v: number;
  kind: 'COMPLETE' | 'PRUNED';
}

export function HistoryChart({ trials, budget, objective, objectiveName, best, log, showPruned, highlight, onHover }: HistoryProps) {
  const wrap = useRef<HTMLDivElement>(null);
  const width = useWidth(wrap);
  const [tip, setTip] = useState<{ pt: Pt; cx: number; cy: number } | null>(null);

  const model = useMemo(() => {
    const pts: Array<Omit<Pt, 'x' | 'y'>> = [];
    for (const t of trials) {
      if (t.number === null) continue;
      if (t.state === 'COMPLETE') {
        const v = trialValue(t, objective);
        if (v !== null && Number.isFinite(v)) pts.push({ t, v, kind: 'COMPLETE' });
      } else if (t.state === 'PRUNED' && showPruned && objective === 0 && t.last_intermediate !== null) {
        const v = Number(t.last_intermediate);
        if (Number.isFinite(v)) pts.push({ t, v, kind: 'PRUNED' });
      }
    }
    const values = pts.map((p) => p.v);
    for (const b of best ?? []) if (Number.isFinite(b.best)) values.push(b.best);
    const canLog = values.length > 0 && values.every((v) => v > 0);
    const useLog = log && canLog;
    const ax = valueAxis(objectiveName, values, useLog);
    const [y0, y1] = values.length ? padRange(ax.min, ax.max, useLog) : [0, 1];
    const numbers = trials.map((t) => t.number).filter((n): n is number => n !== null);
    const xMax = Math.max(1, (budget ?? 0) - 1, ...numbers);
    return { pts, useLog, canLog, ax: { ...ax, min: y0, max: y1 }, xMax };
  }, [trials, budget, objective, objectiveName, best, log, showPruned]);

  const iw = Math.max(10, width - M.left - M.right);
  const ih = H - M.top - M.bottom;
  const sx = (n: number) => M.left + (n / model.xMax) * iw;
  const sy = (v: number) => {
    const { min, max } = model.ax;
    const f = model.useLog ? (Math.log10(v) - Math.log10(min)) / (Math.log10(max) - Math.log10(min)) : (v - min) / (max - min || 1);
    return M.top + (1 - f) * ih;
  };
  const pts: Pt[] = model.pts.map((p) => ({ ...p, x: sx(p.t.number!), y: sy(p.v) }));
  const yTicks = axisTicks(model.ax, 5).filter((v) => v >= model.ax.min && v <= model.ax.max);
  const xTicks = linearTicks(0, model.xMax, Math.max(2, Math.min(10, Math.floor(iw / 70)))).filter((v) => Number.isInteger(v));

  let bestPath = '';
  if (best && best.length) {
    const seq = best.filter((b) => b.number !== null && Number.isFinite(b.best));
    seq.forEach((b, i) => {
      const x = sx(b.number!);
      const y = sy(b.best);
      bestPath += i === 0 ? `M${x},${y}` : ` H${x} V${y}`;
    });
    if (seq.length) bestPath += ` H${sx(model.xMax)}`;
  }
  const failed = trials.filter((t) => (t.state === 'FAILED' || t.state === 'RUNNING') && t.number !== null);

  return (
    <div className="sw-chart" ref={wrap}>
      <svg
        width={width}
        height={H}
        data-testid="sweep-history"
        role="img"
        aria-label={`Optimization history of ${objectiveName}`}
        onMouseLeave={() => {
          setTip(null);
          onHover(null);
        }}
      >
        <g className="sw-grid">
          {yTicks.map((v) => (
            <g key={v}>
              <line x1={M.left} x2={M.left + iw} y1={sy(v)} y2={sy(v)} />
              <text x={M.left - 8} y={sy(v) + 4} textAnchor="end" className="sw-tick">
                {shortNumber(v)}
              </text>
            </g>
          ))}
          {xTicks.map((v) => (
            <text key={v} x={sx(v)} y={M.top + ih + 16} textAnchor="middle" className="sw-tick">
              {v}
            </text>
          ))}
          <line className="sw-axis" x1={M.left} x2={M.left + iw} y1={M.top + ih} y2={M.top + ih} />
        </g>
        <text className="sw-axis-label" x={M.left + iw / 2} y={H - 4} textAnchor="middle">
          trial
        </text>
        <text className="sw-axis-label" transform={`translate(12,${M.top + ih / 2}) rotate(-90)`} textAnchor="middle">
          {objectiveName}
          {model.useLog ? ' (log)' : ''}
        </text>
        {bestPath && <path className="sw-best-line" d={bestPath} data-testid="history-best-line" />}
        {failed.map((t) => (
          <g
            key={t.run_id}
            className={`sw-fail-mark st-${t.state}`}
            transform={`translate(${sx(t.number!)},${M.top + ih - 6})`}
            data-testid="history-mark"
            data-state={t.state}
          >
            <title>{`#${t.number} ${t.state}${t.error ? ': ' + t.error : ''}`}</title>
            {t.state === 'FAILED' ? <path d="M-3.5,-3.5 L3.5,3.5 M3.5,-3.5 L-3.5,3.5" /> : <circle r={3.5} />}
          </g>
        ))}
        {pts.map((p) => (
          <circle
            key={p.t.run_id}
            className={`sw-point st-${p.kind}${highlight === p.t.run_id ? ' hl' : ''}`}
            cx={p.x}
            cy={p.y}
            r={highlight === p.t.run_id ? 6.5 : 4.5}
            data-testid="history-point"
            data-state={p.kind}
            data-number={p.t.number ?? ''}
            onMouseEnter={(e) => {
              setTip({ pt: p, cx: e.clientX, cy: e.clientY });
              onHover(p.t.run_id);
            }}
            onMouseMove={(e) => setTip({ pt: p, cx: e.clientX, cy: e.clientY })}
            onClick={() => navigate(`/runs/${encodeURIComponent(p.t.run_id)}`)}
          />
        ))}
      </svg>
      {tip && (
        <div className="tooltip" style={{ left: tip.cx + 14, top: tip.cy + 12 }}>
          <div>
            <strong>Trial #{tip.pt.t.number}</strong> <span className="muted">{tip.pt.kind.toLowerCase()}</span>
          </div>
          <div className="mono">
            {objectiveName} = {formatNumber(tip.pt.v)}
            {tip.pt.kind === 'PRUNED' && <span className="muted"> (last reported)</span>}
          </div>
          {Object.entries(tip.pt.t.params).map(([k, v]) => (
            <div key={k} className="mono muted">
              {k} = {typeof v === 'number' ? formatNumber(v) : String(v)}
            </div>
          ))}
        </div>
      )}
    </div>
  );
}
