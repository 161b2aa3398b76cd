// Two objectives of a multi-objective sweep against each other, the Pareto front on top.
import { useRef, useState } from 'react';
import { formatNumber } from '../../lib/format';
import { navigate } from '../../lib/router';
import { axisTicks, padRange, shortNumber, trialValue, valueAxis } from './sweepmath';
import type { Trial } from './types';
import { useWidth } from './useWidth';

const H = 320;
const M = { left: 58, right: 18, top: 14, bottom: 40 };

export function ParetoChart({
  trials,
  objectives,
  directions,
  pareto,
  highlight,
  onHover,
}: {
  trials: Trial[];
  objectives: string[];
  directions: string[];
  pareto: Set<string>;
  highlight: string | null;
  onHover: (runId: string | null) => void;
}) {
  const wrap = useRef<HTMLDivElement>(null);
  const width = useWidth(wrap);
  const [xi, setXi] = useState(0);
  const [yi, setYi] = useState(Math.min(1, objectives.length - 1));
  const pts = trials
    .filter((t) => t.state === 'COMPLETE')
    .map((t) => ({ t, x: trialValue(t, xi), y: trialValue(t, yi) }))
    .filter((p): p is { t: Trial; x: number; y: number } => p.x !== null && p.y !== null && Number.isFinite(p.x) && Number.isFinite(p.y));
  const xa = valueAxis(objectives[xi], pts.map((p) => p.x));
  const ya = valueAxis(objectives[yi], pts.map((p) => p.y));
  const [x0, x1] = padRange(xa.min, xa.max, false);
  const [y0, y1] = padRange(ya.min, ya.max, false);
  const iw = Math.max(10, width - M.left - M.right);
  const ih = H - M.top - M.bottom;
  const sx = (v: number) => M.left + ((v - x0) / (x1 - x0 || 1)) * iw;
  const sy = (v: number) => M.top + (1 - (v - y0) / (y1 - y0 || 1)) * ih;
  const front = pts.filter((p) => pareto.has(p.t.run_id)).sort((a, b) => a.x - b.x);
  const frontPath = front.map((p, i) => `${i ? 'L' : 'M'}${sx(p.x)},${sy(p.y)}`).join(' ');
  const dir = (i: number) => (directions[i] === 'maximize' ? '↑' : directions[i] === 'minimize' ? '↓' : '');
  return (
    <div className="sw-chart" ref={wrap}>
      {objectives.length > 2 && (
        <div className="toolbar">
          <label>
            x{' '}
            <select value={xi} onChange={(e) => setXi(Number(e.target.value))}>
              {objectives.map((o, i) => (
                <option key={o} value={i}>
                  {o}
                </option>
              ))}
            </select>
          </label>
          <label>
            y{' '}
            <select value={yi} onChange={(e) => setYi(Number(e.target.value))}>
              {objectives.map((o, i) => (
                <option key={o} value={i}>
                  {o}
                </option>
              ))}
            </select>
          </label>
        </div>
      )}
      <svg width={width} height={H} data-testid="sweep-pareto" role="img" aria-label="Pareto front">
        <g className="sw-grid">
          {axisTicks({ ...ya, min: y0, max: y1 }).map((v) => (
            <g key={`y${v}`}>
              <line x1={M.left} x2={M.left + iw} y1={sy(v)} y2={sy(v)} />
              <text x={M.left - 8} y={sy(v) + 4} textAnchor="end" className="sw-tick">
                {shortNumber(v)}
              </text>
            </g>
          ))}
          {axisTicks({ ...xa, min: x0, max: x1 }).map((v) => (
            <text key={`x${v}`} x={sx(v)} y={M.top + ih + 16} textAnchor="middle" className="sw-tick">
              {shortNumber(v)}
            </text>
          ))}
          <line className="sw-axis" x1={M.left} x2={M.left + iw} y1={M.top + ih} y2={M.top + ih} />
        </g>
        <text className="sw-axis-label" x={M.left + iw / 2} y={H - 6} textAnchor="middle">
          {objectives[xi]} {dir(xi)}
        </text>
        <text className="sw-axis-label" transform={`translate(12,${M.top + ih / 2}) rotate(-90)`} textAnchor="middle">
          {objectives[yi]} {dir(yi)}
        </text>
        {frontPath && <path className="sw-front-line" d={frontPath} />}
        {pts.map((p) => {
          const on = pareto.has(p.t.run_id);
          return (
            <circle
              key={p.t.run_id}
              cx={sx(p.x)}
              cy={sy(p.y)}
              r={highlight === p.t.run_id ? 7 : on ? 5.5 : 4}
              className={`sw-pareto-pt${on ? ' front' : ''}${highlight === p.t.run_id ? ' hl' : ''}`}
              data-testid="pareto-point"
              data-front={String(on)}
              onMouseEnter={() => onHover(p.t.run_id)}
              onMouseLeave={() => onHover(null)}
              onClick={() => navigate(`/runs/${encodeURIComponent(p.t.run_id)}`)}
            >
              <title>{`#${p.t.number}: ${objectives[xi]}=${formatNumber(p.x)}, ${objectives[yi]}=${formatNumber(p.y)}${on ? ' (Pareto-optimal)' : ''}`}</title>
            </circle>
          );
        })}
      </svg>
    </div>
  );
}
