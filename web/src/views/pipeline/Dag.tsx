// The pipeline DAG in SVG: layer bands, curved edges, node boxes, dataset pills;
// wheel to zoom around the pointer, drag to pan, a button to fit it to the screen.
import { memo, useCallback, useEffect, useLayoutEffect, useRef, useState, type KeyboardEvent } from 'react';
import { DATASET_H, type DagLayout, type LayoutItem } from './layout';
import { nodeMeta, statusClass } from './status';

export interface DagProps {
  layout: DagLayout;
  /** The pinned item (`n:name` or `d:name`). */
  selected: string | null;
  hovered: string | null;
  onSelect: (key: string | null) => void;
  /** The item under the pointer (with the pointer's position), or null. */
  onHover: (key: string | null, at?: { x: number; y: number }) => void;
  /** Called once the graph has been fitted and drawn. */
  onDrawn?: () => void;
  /** Pixels at the right covered by a panel while something is selected. */
  reserveRight?: number;
}

interface View {
  k: number;
  x: number;
  y: number;
}

const MIN_K = 0.08;
const MAX_K = 3;
const clampK = (k: number) => Math.min(MAX_K, Math.max(MIN_K, k));

function fitView(layout: DagLayout, w: number, h: number): View {
  if (!w || !h) return { k: 1, x: 0, y: 0 };
  const m = 16;
  const k = clampK(Math.min((w - 2 * m) / layout.width, (h - 2 * m) / layout.height, 1.2));
  return { k, x: (w - layout.width * k) / 2, y: Math.max(m, (h - layout.height * k) / 2) };
}

export function Dag({ layout, selected, hovered, onSelect, onHover, onDrawn, reserveRight = 0 }: DagProps) {
  const wrapRef = useRef<HTMLDivElement>(null);
  const svgRef = useRef<SVGSVGElement>(null);
  const [view, setViewState] = useState<View>({ k: 1, x: 0, y: 0 });
  const viewRef = useRef(view);
  const touched = useRef(false);
  const drag = useRef<{ id: number; x: number; y: number; vx: number; vy: number; moved: boolean } | null>(null);
  const suppressClick = useRef(false);

  const setView = useCallback((v: View) => {
    viewRef.current = v;
    setViewState(v);
  }, []);

  const fit = useCallback(() => {
    const el = wrapRef.current;
    if (!el) return;
    touched.current = false;
    setView(fitView(layout, el.clientWidth, el.clientHeight));
  }, [layout, setView]);

  useLayoutEffect(() => {
    fit();
    onDrawn?.();
    // Only a new graph refits; onDrawn changing identity must not.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [layout]);

  useEffect(() => {
    const el = wrapRef.current;
    if (!el || typeof ResizeObserver === 'undefined') return;
    const ro = new ResizeObserver(() => {
      if (!touched.current) fit();
    });
    ro.observe(el);
    return () => ro.disconnect();
  }, [fit]);

  // Bring a newly selected item out from under the details panel.
  useEffect(() => {
    const el = wrapRef.current;
    const it = selected ? layout.byKey.get(selected) : undefined;
    if (!el || !it || !el.clientWidth) return;
    const v = viewRef.current;
    const visible = el.clientWidth - reserveRight;
    const left = v.x + (it.x - it.w / 2) * v.k;
    const right = v.x + (it.x + it.w / 2) * v.k;
    const top = v.y + (it.y - it.h / 2) * v.k;
    const bottom = v.y + (it.y + it.h / 2) * v.k;
    if (left >= 8 && right <= visible - 8 && top >= 8 && bottom <= el.clientHeight - 8) return;
    touched.current = true;
    setView({ ...v, x: visible / 2 - it.x * v.k, y: el.clientHeight / 2 - it.y * v.k });
  }, [selected, layout, reserveRight, setView]);

  const zoomAt = useCallback(
    (px: number, py: number, factor: number) => {
      const v = viewRef.current;
      const k = clampK(v.k * factor);
      touched.current = true;
      setView({ k, x: px - ((px - v.x) * k) / v.k, y: py - ((py - v.y) * k) / v.k });
    },
    [setView],
  );

  // React's wheel listeners are passive: zooming must prevent the page from scrolling.
  useEffect(() => {
    const svg = svgRef.current;
    if (!svg) return;
    const onWheel = (e: WheelEvent) => {
      e.preventDefault();
      const r = svg.getBoundingClientRect();
      const unit = e.deltaMode === 1 ? 0.05 : e.deltaMode === 2 ? 1 : 0.0018;
      zoomAt(e.clientX - r.left, e.clientY - r.top, Math.exp(-e.deltaY * unit));
    };
    svg.addEventListener('wheel', onWheel, { passive: false });
    return () => svg.removeEventListener('wheel', onWheel);
  }, [zoomAt]);

  const onPointerDown = (e: React.PointerEvent<SVGSVGElement>) => {
    if (e.button !== 0) return;
    drag.current = { id: e.pointerId, x: e.clientX, y: e.clientY, vx: viewRef.current.x, vy: viewRef.current.y, moved: false };
  };
  const onPointerMove = (e: React.PointerEvent<SVGSVGElement>) => {
    const d = drag.current;
    if (!d || d.id !== e.pointerId) return;
    const dx = e.clientX - d.x;
    const dy = e.clientY - d.y;
    if (!d.moved && Math.hypot(dx, dy) > 3) {
      d.moved = true;
      svgRef.current?.setPointerCapture?.(e.pointerId);
    }
    if (d.moved) {
      touched.current = true;
      setView({ ...viewRef.current, x: d.vx + dx, y: d.vy + dy });
    }
  };
  const onPointerUp = (e: React.PointerEvent<SVGSVGElement>) => {
    const d = drag.current;
    if (!d || d.id !== e.pointerId) return;
    suppressClick.current = d.moved;
    drag.current = null;
    svgRef.current?.releasePointerCapture?.(e.pointerId);
  };

  const center = () => {
    const el = wrapRef.current;
    return el ? [el.clientWidth / 2, el.clientHeight / 2] : [0, 0];
  };

  const select = useCallback(
    (key: string | null) => {
      if (suppressClick.current) {
        suppressClick.current = false;
        return;
      }
      onSelect(key);
    },
    [onSelect],
  );

  return (
    <div className="dag-wrap" ref={wrapRef}>
      <svg
        ref={svgRef}
        className="dag-svg"
        data-testid="pipeline-dag"
        role="img"
        aria-label="Pipeline graph"
        width="100%"
        height="100%"
        onPointerDown={onPointerDown}
        onPointerMove={onPointerMove}
        onPointerUp={onPointerUp}
        onPointerCancel={onPointerUp}
        onClick={() => select(null)}
      >
        <defs>
          <marker id="dag-arrow" viewBox="0 0 8 8" refX="7.5" refY="4" markerWidth="7" markerHeight="7" orient="auto">
            <path d="M0,0.8 L7.5,4 L0,7.2 z" className="dag-arrow" />
          </marker>
          <marker id="dag-arrow-hl" viewBox="0 0 8 8" refX="7.5" refY="4" markerWidth="7" markerHeight="7" orient="auto">
            <path d="M0,0.8 L7.5,4 L0,7.2 z" className="dag-arrow hl" />
          </marker>
        </defs>
        <g transform={`translate(${view.x},${view.y}) scale(${view.k})`}>
          <DagContent layout={layout} selected={selected} hovered={hovered} onSelect={select} onHover={onHover} />
        </g>
      </svg>
      <div className="dag-controls" role="toolbar" aria-label="Zoom">
        <button className="btn icon small" title="Zoom in" aria-label="Zoom in" onClick={() => zoomAt(center()[0], center()[1], 1.25)}>
          +
        </button>
        <button className="btn icon small" title="Zoom out" aria-label="Zoom out" onClick={() => zoomAt(center()[0], center()[1], 0.8)}>
          −
        </button>
        <button className="btn small" title="Fit the graph to the screen" onClick={fit} data-testid="dag-fit">
          Fit
        </button>
        <span className="dag-zoom faint">{Math.round(view.k * 100)}%</span>
      </div>
    </div>
  );
}

interface ContentProps {
  layout: DagLayout;
  selected: string | null;
  hovered: string | null;
  onSelect: (key: string | null) => void;
  onHover: DagProps['onHover'];
}

/** Everything inside the pan/zoom transform; re-rendered only when the graph or focus changes. */
const DagContent = memo(function DagContent({ layout, selected, hovered, onSelect, onHover }: ContentProps) {
  const focus = hovered ?? selected;
  const near = new Set<string>();
  if (focus) {
    near.add(focus);
    for (const e of layout.edges) {
      if (e.source === focus) near.add(e.target);
      if (e.target === focus) near.add(e.source);
    }
  }
  const dimOthers = selected !== null;
  const bandTop = 8;
  return (
    <>
      <g className="dag-bands">
        {layout.bands.map((b, i) => (
          <g key={b.layer} className={`dag-band${i % 2 ? ' odd' : ''}`} data-layer={b.layer}>
            <rect x={b.x0} y={bandTop} width={Math.max(0, b.x1 - b.x0)} height={layout.height - bandTop * 2} rx={8} />
            <text x={(b.x0 + b.x1) / 2} y={bandTop + 18} textAnchor="middle" className="dag-band-label">
              {b.layer}
            </text>
          </g>
        ))}
      </g>
      <g className="dag-edges">
        {layout.edges.map((e) => {
          const hl = focus !== null && (e.source === focus || e.target === focus);
          const params = e.source.startsWith('d:params:');
          return (
            <path
              key={e.key}
              d={e.path}
              className={`dag-edge${hl ? ' hl' : ''}${params ? ' params' : ''}${dimOthers && !hl ? ' dim' : ''}`}
              markerEnd={hl ? 'url(#dag-arrow-hl)' : 'url(#dag-arrow)'}
            />
          );
        })}
      </g>
      <g className="dag-items">
        {layout.items.map((it) =>
          it.kind === 'node' ? (
            <NodeBox
              key={it.key}
              item={it}
              selected={selected === it.key}
              dim={dimOthers && !near.has(it.key)}
              onSelect={onSelect}
              onHover={onHover}
            />
          ) : (
            <DatasetPill
              key={it.key}
              item={it}
              selected={selected === it.key}
              dim={dimOthers && !near.has(it.key)}
              onSelect={onSelect}
              onHover={onHover}
            />
          ),
        )}
      </g>
    </>
  );
});

interface ItemProps {
  item: LayoutItem;
  selected: boolean;
  dim: boolean;
  onSelect: (key: string | null) => void;
  onHover: DagProps['onHover'];
}

function itemHandlers(item: LayoutItem, onSelect: ItemProps['onSelect'], onHover: ItemProps['onHover']) {
  return {
    onClick: (e: React.MouseEvent) => {
      e.stopPropagation();
      onSelect(item.key);
    },
    onKeyDown: (e: KeyboardEvent) => {
      if (e.key === 'Enter' || e.key === ' ') {
        e.preventDefault();
        onSelect(item.key);
      }
    },
    onMouseEnter: (e: React.MouseEvent) => onHover(item.key, { x: e.clientX, y: e.clientY }),
    onMouseLeave: () => onHover(null),
    onFocus: (e: React.FocusEvent) => {
      const r = (e.currentTarget as Element).getBoundingClientRect();
      onHover(item.key, { x: r.right, y: r.bottom });
    },
    onBlur: () => onHover(null),
    tabIndex: 0,
    role: 'button',
  };
}

const ICON: Record<string, string> = {
  ran: 'M-3.2,0.2 L-1,2.6 L3.4,-2.4',
  cached: 'M-3,-1.2 A3.4,3.4 0 1 1 -2.2,2.4 M-3.4,-3.6 L-3,-1.2 L-0.6,-1.6',
  failed: 'M-2.6,-2.6 L2.6,2.6 M2.6,-2.6 L-2.6,2.6',
  'not-run': 'M-3,0 L3,0',
  unknown: 'M-0.5,0 L0.5,0',
};

function NodeBox({ item, selected, dim, onSelect, onHover }: ItemProps) {
  const n = item.node!;
  const cls = statusClass(n);
  const { w, h } = item;
  const r = 6;
  return (
    <g
      className={`dag-node status-${cls}${selected ? ' selected' : ''}${dim ? ' dim' : ''}`}
      transform={`translate(${item.x - w / 2},${item.y - h / 2})`}
      data-testid="dag-node"
      data-name={n.name}
      data-status={n.status}
      data-cached={String(n.cached)}
      aria-label={`node ${n.name}: ${n.status}`}
      {...itemHandlers(item, onSelect, onHover)}
    >
      <title>{n.name}</title>
      <rect className="dag-node-box" width={w} height={h} rx={r} />
      <path className="dag-node-stripe" d={`M${r},0 A${r},${r} 0 0 0 0,${r} V${h - r} A${r},${r} 0 0 0 ${r},${h} Z`} />
      <g className="dag-node-icon" transform={`translate(20,${h / 2})`}>
        <circle r={8} />
        <path d={ICON[cls]} />
      </g>
      <text className="dag-node-name" x={35} y={19}>
        {item.label}
      </text>
      <text className="dag-node-meta" x={35} y={35}>
        {nodeMeta(n)}
      </text>
      {n.cached && (
        <g className="dag-cached-marker" transform={`translate(${w - 9},9)`} data-testid="dag-cached-marker">
          <title>Taken from the cache</title>
          <circle r={5.5} />
          <path d="M-2.2,-0.6 A2.4,2.4 0 1 1 -1.6,1.8 M-2.6,-2.6 L-2.2,-0.6 L-0.4,-1" />
        </g>
      )}
    </g>
  );
}

function DatasetPill({ item, selected, dim, onSelect, onHover }: ItemProps) {
  const d = item.dataset!;
  const kind = d.kind ?? 'unknown';
  const { w, h } = item;
  return (
    <g
      className={`dag-dataset kind-${kind}${selected ? ' selected' : ''}${dim ? ' dim' : ''}`}
      transform={`translate(${item.x - w / 2},${item.y - h / 2})`}
      data-testid="dag-dataset"
      data-name={d.name}
      data-kind={kind}
      aria-label={`dataset ${d.name}`}
      {...itemHandlers(item, onSelect, onHover)}
    >
      <title>{d.type ? `${d.name} (${d.type})` : d.name}</title>
      <rect className="dag-dataset-pill" width={w} height={h} rx={DATASET_H / 2} />
      <g className="dag-dataset-icon" transform={`translate(15,${h / 2})`}>
        {kind === 'params' ? (
          <text textAnchor="middle" y={3.5}>
            {'{}'}
          </text>
        ) : kind === 'memory' ? (
          <rect x={-4} y={-4} width={8} height={8} rx={1.5} />
        ) : (
          <path d="M-4,-3.2 A4,1.6 0 0 0 4,-3.2 A4,1.6 0 0 0 -4,-3.2 V3.2 A4,1.6 0 0 0 4,3.2 V-3.2" />
        )}
      </g>
      <text className="dag-dataset-name" x={26} y={h / 2 + 4}>
        {item.label}
      </text>
    </g>
  );
}
