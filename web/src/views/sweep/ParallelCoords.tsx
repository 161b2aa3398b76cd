// Parallel coordinates: one vertical axis per searched param and per objective, one line
// per COMPLETE trial coloured by its objective. Drag along an axis to brush a range
// (the trials table follows); click an axis to clear its brush.
import { useMemo, useRef, useState, type PointerEvent as RPointerEvent } from 'react';
import { formatNumber } from '../../lib/format';
import {
  axisTicks,
  categoryOf,
  normalize,
  paramAxis,
  shortNumber,
  trialValue,
  valueAxis,
  type Axis,
} from './sweepmath';
import type { SweepResponse, Trial } from './types';
import { useWidth } from './useWidth';

export interface PcAxis {
  id: string;
  label: string;
  axis: Axis;
  get: (t: Trial) => unknown;
  objective: boolean;
}

/** Brushes by axis id: a range of the axis in [0, 1] (0 at the bottom). */
export type Brushes = Record<string, [number, number]>;

/** The axes: each searched param, then each objective. */
export function buildAxes(s: SweepResponse, logObjective = false): PcAxis[] {
  const axes: PcAxis[] = s.space.map((p) => ({
    id: `param:${p.name}`,
    label: p.name,
    axis: paramAxis(p, s.trials),
    get: (t: Trial) => t.params[p.name],
    objective: false,
  }));
  const nObj = Math.max(s.settings.objectives?.length ?? 0, ...s.trials.map((t) => t.values?.length ?? 0));
  for (let i = 0; i < nObj; i++) {
    const name = s.settings.objectives?.[i] ?? (nObj > 1 ? `objective ${i}` : 'objective');
    const values = s.trials
      .filter((t) => t.state === 'COMPLETE')
      .map((t) => trialValue(t, i))
      .filter((v): v is number => v !== null && Number.isFinite(v));
    axes.push({ id: `value:${i}`, label: name, axis: valueAxis(name, values, logObjective), get: (t) => trialValue(t, i), objective: true });
  }
  return axes;
}

/** Whether a trial lies inside every brush (a trial without a value on a brushed axis does not). */
export function inBrushes(t: Trial, axes: PcAxis[], brushes: Brushes): boolean {
  for (const a of axes) {
    const b = brushes[a.id];
    if (!b) continue;
    const f = normalize(a.axis, a.get(t));
    if (f === null || f < b[0] - 1e-9 || f > b[1] + 1e-9) return false;
  }
  return true;
}

// Blue (best) through teal and yellow to orange (worst): reads on light and dark.
const STOPS: Array<[number, number, number]> = [
  [37, 99, 235],
  [20, 160, 150],
  [200, 170, 40],
  [232, 116, 59],
];

/** The line colour for a goodness in [0, 1] (1 = best). */
export function goodnessColor(g: number): string {
  const x = (1 - Math.min(1, Math.max(0, g))) * (STOPS.length - 1);
  const i = Math.min(STOPS.length - 2, Math.floor(x));
  const f = x - i;
  const c = STOPS[i].map((v, k) => Math.round(v + (STOPS[i + 1][k] - v) * f));
  return `rgb(${c[0]},${c[1]},${c[2]})`;
}

const H = 340;
const M = { left: 64, right: 64, top: 44, bottom: 22 };

export interface ParallelProps {
  sweep: SweepResponse;
  axes: PcAxis[];
  brushes: Brushes;
  onBrush: (b: Brushes) => void;
  highlight: string | null;
  onHover: (runId: string | null) => void;
}

export function ParallelCoords({ sweep, axes, brushes, onBrush, highlight, onHover }: ParallelProps) {
  const wrap = useRef<HTMLDivElement>(null);
  const width = useWidth(wrap);
  const [drag, setDrag] = useState<{ id: string; y0: number; y1: number } | null>(null);
  const iw = Math.max(10, width - M.left - M.right);
  const ih = H - M.top - M.bottom;
  const ax = (i: number) => M.left + (axes.length <= 1 ? iw / 2 : (i / (axes.length - 1)) * iw);
  const fy = (f: number) => M.top + (1 - f) * ih;

  const colorAxis = axes.find((a) => a.objective);
  const direction = sweep.settings.directions?.[0];
  const lines = useMemo(() => {
    const out: Array<{ t: Trial; d: string; color: string; inside: boolean }> = [];
    for (const t of sweep.trials) {
      if (t.state !== 'COMPLETE') continue;
      let d = '';
      axes.forEach((a, i) => {
        const f = normalize(a.axis, a.get(t));
        if (f === null) return;
        d += `${d ? ' L' : 'M'}${ax(i).toFixed(1)},${fy(f).toFixed(1)}`;
      });
      if (!d) continue;
      let g = 0.5;
      if (colorAxis) {
        const f = normalize(colorAxis.axis, colorAxis.get(t));
        if (f !== null) g = direction === 'maximize' ? f : direction === 'minimize' ? 1 - f : f;
      }
      out.push({ t, d, color: goodnessColor(g), inside: inBrushes(t, axes, brushes) });
    }
    // Best lines drawn last, on top.
    const goodness = (c: { t: Trial }) => {
      const f = colorAxis ? normalize(colorAxis.axis, colorAxis.get(c.t)) ?? 0 : 0;
      return direction === 'maximize' ? f : 1 - f;
    };
    return out.sort((a, b) => Number(a.inside) - Number(b.inside) || goodness(a) - goodness(b));
    // ax and fy depend on width only
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [sweep.trials, axes, brushes, width, colorAxis, direction]);

  const toF = (clientY: number, el: Element) => {
    const r = el.getBoundingClientRect();
    const y = clientY - r.top;
    return Math.min(1, Math.max(0, 1 - (y - M.top) / ih));
  };
  const onDown = (id: string) => (e: RPointerEvent<SVGRectElement>) => {
    const svg = (e.currentTarget as SVGRectElement).ownerSVGElement!;
    const f = toF(e.clientY, svg);
    (e.currentTarget as Element).setPointerCapture?.(e.pointerId);
    setDrag({ id, y0: f, y1: f });
  };
  const onMove = (e: RPointerEvent<SVGRectElement>) => {
    if (!drag) return;
    const svg = (e.currentTarget as SVGRectElement).ownerSVGElement!;
    setDrag({ ...drag, y1: toF(e.clientY, svg) });
  };
  const onUp = () => {
    if (!drag) return;
    const next = { ...brushes };
    if (Math.abs(drag.y1 - drag.y0) * ih < 4) delete next[drag.id];
    else next[drag.id] = [Math.min(drag.y0, drag.y1), Math.max(drag.y0, drag.y1)];
    setDrag(null);
    onBrush(next);
  };

  const complete = sweep.trials.filter((t) => t.state === 'COMPLETE').length;
  if (!axes.length || !complete) {
    return (
      <div className="sw-chart" ref={wrap} data-testid="sweep-parallel">
        <div className="empty">No COMPLETE trial yet.</div>
      </div>
    );
  }

  return (
    <div className="sw-chart" ref={wrap}>
      <svg width={width} height={H} data-testid="sweep-parallel" role="img" aria-label="Parallel coordinates">
        <g className="sw-pc-lines">
          {lines.map((l) => (
            <path
              key={l.t.run_id}
              d={l.d}
              className={`sw-pc-line${l.inside ? '' : ' out'}${highlight === l.t.run_id ? ' hl' : ''}`}
              stroke={l.inside ? l.color : undefined}
              data-testid="pc-line"
              data-inside={String(l.inside)}
              onMouseEnter={() => onHover(l.t.run_id)}
              onMouseLeave={() => onHover(null)}
            >
              <title>{`#${l.t.number} · ${axes
                .map((a) => {
                  const v = a.get(l.t);
                  return `${a.label}=${typeof v === 'number' ? formatNumber(v) : categoryOf(v)}`;
                })
                .join(' · ')}`}</title>
            </path>
          ))}
        </g>
        {axes.map((a, i) => {
          const x = ax(i);
          const ticks = axisTicks(a.axis, 5);
          const every = a.axis.kind === 'categorical' ? Math.max(1, Math.ceil(ticks.length / 12)) : 1;
          const b = drag?.id === a.id ? [Math.min(drag.y0, drag.y1), Math.max(drag.y0, drag.y1)] : brushes[a.id];
          // The outer labels grow inwards so that they are not cut at the edges.
          const first = i === 0 && axes.length > 1;
          const last = i === axes.length - 1 && axes.length > 1;
          const anchor = first ? 'start' : last ? 'end' : 'middle';
          const lx = first ? x - 10 : last ? x + 10 : x;
          const gap = axes.length > 1 ? iw / (axes.length - 1) : iw;
          const maxChars = Math.max(8, Math.floor((first || last ? gap * 0.8 : gap * 0.9) / 7));
          return (
            <g key={a.id} className={`sw-pc-axis${a.objective ? ' objective' : ''}`} data-axis={a.id}>
              <line x1={x} x2={x} y1={M.top} y2={M.top + ih} />
              {ticks.map((v, k) => {
                if (k % every) return null;
                const f = a.axis.kind === 'categorical' ? normalize(a.axis, a.axis.categories[v]) : normalize(a.axis, v);
                if (f === null || f < -1e-9 || f > 1 + 1e-9) return null;
                const label = a.axis.kind === 'categorical' ? a.axis.categories[v] : shortNumber(v);
                return (
                  <g key={k}>
                    <line x1={x - 3} x2={x} y1={fy(f)} y2={fy(f)} />
                    <text x={x - 6} y={fy(f) + 3.5} textAnchor="end" className="sw-tick">
                      {label.length > 10 ? label.slice(0, 9) + '…' : label}
                    </text>
                  </g>
                );
              })}
              <text x={lx} y={M.top - 24} textAnchor={anchor} className="sw-pc-label">
                <title>{a.label}</title>
                {a.label.length > maxChars ? '…' + a.label.slice(-(maxChars - 1)) : a.label}
              </text>
              <text x={lx} y={M.top - 10} textAnchor={anchor} className="sw-pc-sub">
                {a.axis.kind === 'log' ? 'log' : a.axis.kind === 'categorical' ? 'choice' : a.axis.isInt ? 'int' : ''}
              </text>
              {b && (
                <rect className="sw-brush" x={x - 8} width={16} y={fy(b[1])} height={Math.max(1, (b[1] - b[0]) * ih)} rx={3} />
              )}
              <rect
                className="sw-pc-hit"
                x={x - 14}
                width={28}
                y={M.top - 4}
                height={ih + 8}
                onPointerDown={onDown(a.id)}
                onPointerMove={onMove}
                onPointerUp={onUp}
                onPointerCancel={() => setDrag(null)}
                data-testid="pc-axis-hit"
              >
                <title>Drag to filter the trials by {a.label}; click to clear</title>
              </rect>
            </g>
          );
        })}
      </svg>
    </div>
  );
}
