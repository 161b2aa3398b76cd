// Parallel coordinates: one vertical axis per param (and the chosen metric), one line per run.
import { useMemo, useState } from 'react';
import type { Run } from '../api';
import { cellValue, columnLabel } from '../lib/columns';
import { formatNumber } from '../lib/format';
import { makeAxis, rampColor } from '../lib/scales';
import { useWidth } from '../lib/useWidth';

export interface ParallelCoordinatesProps {
  runs: Run[];
  /** Column keys, left to right ("params.lr", ..., "metrics.acc"). */
  dims: string[];
  /** Colour lines by this column (a ramp); else by run colour. */
  colorBy?: string | null;
  colorOf: (runId: string) => string;
  height?: number;
  onRunClick?: (run: Run) => void;
}

const PAD_TOP = 46;
const PAD_BOTTOM = 26;
const PAD_X = 56;

const clip = (s: string, n: number) => (s.length > n ? s.slice(0, n - 1) + '…' : s);

export function ParallelCoordinates({ runs, dims, colorBy, colorOf, height = 340, onRunClick }: ParallelCoordinatesProps) {
  const [ref, width] = useWidth<HTMLDivElement>(900);
  const [hover, setHover] = useState<string | null>(null);
  const axes = useMemo(() => dims.map((d) => makeAxis(runs.map((r) => cellValue(r, d)))), [dims, runs]);
  const colorAxis = useMemo(() => (colorBy ? makeAxis(runs.map((r) => cellValue(r, colorBy))) : null), [colorBy, runs]);
  const innerH = height - PAD_TOP - PAD_BOTTOM;
  const xs = dims.map((_, i) => (dims.length === 1 ? width / 2 : PAD_X + (i * (width - 2 * PAD_X)) / (dims.length - 1)));
  const y = (p: number) => PAD_TOP + (1 - p) * innerH;

  const lines = useMemo(
    () =>
      runs.map((r) => {
        let d = '';
        let pen = false;
        dims.forEach((k, i) => {
          const p = axes[i].pos(cellValue(r, k));
          if (p === null) {
            pen = false;
            return;
          }
          d += `${pen ? 'L' : 'M'}${xs[i].toFixed(1)},${y(p).toFixed(1)}`;
          pen = true;
        });
        let color = colorOf(r.id);
        if (colorAxis) {
          const p = colorAxis.pos(cellValue(r, colorBy!));
          color = p === null ? 'var(--fg-faint)' : rampColor(p);
        }
        return { run: r, d, color };
      }),
    // xs/y follow width
    [runs, dims, axes, width, height, colorAxis, colorBy, colorOf],
  );

  const hovered = hover ? runs.find((r) => r.id === hover) : undefined;
  // axes closer than a label's width: labels alternate between two rows
  const gap = dims.length > 1 ? (width - 2 * PAD_X) / (dims.length - 1) : width;
  const crowded = gap < 130;
  const maxChars = Math.max(6, Math.floor(((crowded ? 2 : 1) * gap) / 7.2) - 1);
  return (
    <div ref={ref} className="pc-wrap" data-testid="parallel-coordinates">
      {colorBy && colorAxis && dims.length >= 2 && (
        <div className="pc-legend faint">
          {columnLabel(colorBy)}: low
          <span className="pc-ramp" />
          high
        </div>
      )}
      {dims.length < 2 ? (
        <div className="empty">Parallel coordinates need two dimensions or more: the runs share every param.</div>
      ) : (
        <svg width={width} height={height} className="pc" role="img" aria-label="Parallel coordinates of the runs">
          <g className="pc-lines">
            {lines.map((l) => (
              <path
                key={l.run.id}
                d={l.d}
                stroke={l.color}
                className={'pc-line' + (hover ? (hover === l.run.id ? ' hot' : ' cold') : '')}
                onMouseEnter={() => setHover(l.run.id)}
                onMouseLeave={() => setHover(null)}
                onClick={() => onRunClick?.(l.run)}
                data-run-id={l.run.id}
              >
                <title>{l.run.name || l.run.id}</title>
              </path>
            ))}
          </g>
          {dims.map((k, i) => (
            <g key={k} className="pc-axis" transform={`translate(${xs[i]},0)`}>
              <line y1={PAD_TOP} y2={PAD_TOP + innerH} />
              {axes[i].ticks.map((t, j) => (
                <g key={j} transform={`translate(0,${y(t.pos)})`}>
                  <line x1={-4} x2={0} />
                  <text x={-7} dy="0.32em" textAnchor="end">
                    {t.label}
                  </text>
                </g>
              ))}
              <text
                className="pc-label"
                y={PAD_TOP - (crowded && i % 2 ? 28 : 12)}
                textAnchor={i === 0 ? 'start' : i === dims.length - 1 ? 'end' : 'middle'}
                x={i === 0 ? -8 : i === dims.length - 1 ? 8 : 0}
              >
                <title>{k}</title>
                {clip(columnLabel(k), maxChars)}
              </text>
            </g>
          ))}
        </svg>
      )}
      {hovered && (
        <div className="pc-hover">
          <strong>{hovered.name || hovered.id.slice(0, 8)}</strong>
          {dims.map((k) => (
            <span key={k} className="mono">
              {columnLabel(k)}={formatNumber(cellValue(hovered, k) as number | string | undefined)}
            </span>
          ))}
        </div>
      )}
    </div>
  );
}
