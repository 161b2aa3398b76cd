// A scatter of runs: any param or metric against another.
import { useMemo, useState } from 'react';
import type { Run } from '../api';
import { cellValue, columnLabel } from '../lib/columns';
import { formatNumber } from '../lib/format';
import { makeAxis } from '../lib/scales';
import { useWidth } from '../lib/useWidth';

export interface ScatterPlotProps {
  runs: Run[];
  x: string;
  y: string;
  colorOf: (runId: string) => string;
  logX?: boolean;
  logY?: boolean;
  height?: number;
  onRunClick?: (run: Run) => void;
}

const M = { top: 12, right: 16, bottom: 40, left: 60 };

export function ScatterPlot({ runs, x, y, colorOf, logX, logY, height = 340, onRunClick }: ScatterPlotProps) {
  const [ref, width] = useWidth<HTMLDivElement>(600);
  const [hover, setHover] = useState<Run | null>(null);
  const ax = useMemo(() => makeAxis(runs.map((r) => cellValue(r, x)), { log: logX }), [runs, x, logX]);
  const ay = useMemo(() => makeAxis(runs.map((r) => cellValue(r, y)), { log: logY }), [runs, y, logY]);
  const w = Math.max(100, width - M.left - M.right);
  const h = height - M.top - M.bottom;
  // categorical axes keep their points off the edges
  const inset = (p: number, kind: string) => (kind === 'categorical' ? 0.06 + p * 0.88 : 0.02 + p * 0.96);
  const px = (p: number) => M.left + inset(p, ax.kind) * w;
  const py = (p: number) => M.top + (1 - inset(p, ay.kind)) * h;
  const points = runs
    .map((r) => {
      const a = ax.pos(cellValue(r, x));
      const b = ay.pos(cellValue(r, y));
      return a === null || b === null ? null : { run: r, cx: px(a), cy: py(b) };
    })
    .filter((p): p is { run: Run; cx: number; cy: number } => p !== null);
  const missing = runs.length - points.length;

  return (
    <div ref={ref} className="scatter-wrap" data-testid="scatter">
      <svg width={width} height={height} className="scatter" role="img" aria-label={`${columnLabel(y)} against ${columnLabel(x)}`}>
        <g className="sc-grid">
          {ax.ticks.map((t, i) => (
            <g key={'x' + i} transform={`translate(${px(t.pos)},0)`}>
              <line y1={M.top} y2={M.top + h} />
              <text y={M.top + h + 16} textAnchor="middle">
                {t.label}
              </text>
            </g>
          ))}
          {ay.ticks.map((t, i) => (
            <g key={'y' + i} transform={`translate(0,${py(t.pos)})`}>
              <line x1={M.left} x2={M.left + w} />
              <text x={M.left - 8} dy="0.32em" textAnchor="end">
                {t.label}
              </text>
            </g>
          ))}
        </g>
        <rect className="sc-frame" x={M.left} y={M.top} width={w} height={h} />
        <text className="sc-label" x={M.left + w / 2} y={height - 4} textAnchor="middle">
          {columnLabel(x)}
        </text>
        <text className="sc-label" transform={`translate(12,${M.top + h / 2}) rotate(-90)`} textAnchor="middle">
          {columnLabel(y)}
        </text>
        {points.map((p) => (
          <circle
            key={p.run.id}
            cx={p.cx}
            cy={p.cy}
            r={hover?.id === p.run.id ? 6.5 : 4.5}
            fill={colorOf(p.run.id)}
            className="sc-point"
            data-run-id={p.run.id}
            onMouseEnter={() => setHover(p.run)}
            onMouseLeave={() => setHover(null)}
            onClick={() => onRunClick?.(p.run)}
          >
            <title>{p.run.name || p.run.id}</title>
          </circle>
        ))}
      </svg>
      <div className="sc-foot faint">
        {hover ? (
          <>
            <strong className="sc-hover-name">{hover.name || hover.id.slice(0, 8)}</strong>: {columnLabel(x)} = {formatNumber(cellValue(hover, x) as number | string | undefined)},{' '}
            {columnLabel(y)} = {formatNumber(cellValue(hover, y) as number | string | undefined)}
          </>
        ) : missing > 0 ? (
          `${missing} run${missing === 1 ? '' : 's'} without both values not shown`
        ) : (
          '\u00a0'
        )}
      </div>
    </div>
  );
}
