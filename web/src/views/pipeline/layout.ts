// A layered left-to-right layout of a pipeline's nodes and datasets (Sugiyama style):
// columns from the server's `rank`, long edges split by dummy points, the order within
// each column from barycenter sweeps plus adjacent exchanges, then y positions pulled
// towards the neighbours without overlaps. No layout library: pipelines are small.
import { nodeMeta } from './status';
import type { PipelineDataset, PipelineNode, PipelineResponse } from './types';

export type ItemKind = 'node' | 'dataset';

export interface LayoutItem {
  key: string;
  kind: ItemKind;
  name: string;
  /** The name as drawn (shortened with an ellipsis when too long). */
  label: string;
  col: number;
  /** Centre of the box. */
  x: number;
  y: number;
  w: number;
  h: number;
  node?: PipelineNode;
  dataset?: PipelineDataset;
}

export interface LayoutEdge {
  key: string;
  source: string;
  target: string;
  kind: 'reads' | 'writes';
  points: Array<[number, number]>;
  /** SVG path data. */
  path: string;
}

export interface LayoutBand {
  layer: string;
  x0: number;
  x1: number;
}

export interface DagLayout {
  items: LayoutItem[];
  byKey: Map<string, LayoutItem>;
  edges: LayoutEdge[];
  bands: LayoutBand[];
  /** Keys per column, top to bottom, dummies (`~...`) included. */
  columns: string[][];
  width: number;
  height: number;
}

export interface LayoutOptions {
  /** Put inputs no node writes (raw data, params) just left of their first reader. */
  compactInputs?: boolean;
  /** Barycenter sweeps (down and up) to reduce crossings. */
  sweeps?: number;
  /** Width in px of a label at 12.5px (an estimate in jsdom, where nothing is measured). */
  measure?: (text: string) => number;
}

export const NODE_H = 46;
export const DATASET_H = 28;
const DUMMY_H = 8;
const COL_GAP = 54;
const ROW_GAP = 16;
const PAD = 24;
const BAND_LABEL_H = 30;
const NODE_MIN_W = 140;
const NODE_MAX_W = 250;
const DATASET_MIN_W = 90;
const DATASET_MAX_W = 230;

export const nodeKey = (name: string) => `n:${name}`;
export const datasetKey = (name: string) => `d:${name}`;
const isDummy = (key: string) => key.startsWith('~');

/** A rough width of sans-serif text at 12.5px: good enough to size boxes. */
export function estimateTextWidth(text: string): number {
  let w = 0;
  for (const ch of text) {
    if ('il.,:;|!\'`'.includes(ch)) w += 3.6;
    else if ('mwMW@'.includes(ch)) w += 10.5;
    else if (ch >= 'A' && ch <= 'Z') w += 8.4;
    else if (ch === '_' || ch === '-') w += 6.2;
    else w += 7.0;
  }
  return w;
}

function fit(text: string, maxW: number, measure: (t: string) => number): string {
  if (measure(text) <= maxW) return text;
  let lo = 0;
  let hi = text.length;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (measure(text.slice(0, mid) + '…') <= maxW) lo = mid;
    else hi = mid - 1;
  }
  return text.slice(0, Math.max(1, lo)) + '…';
}

interface Vertex {
  key: string;
  col: number;
  h: number;
  w: number;
}

/** Crossings between two adjacent columns, for the edges between them (O(E log E)). */
function crossingsBetween(
  left: string[],
  right: string[],
  succ: Map<string, string[]>,
): number {
  const pos = new Map(right.map((k, i) => [k, i]));
  const targets: number[] = [];
  // Edges in order of their left end, then right end: crossings are the inversions
  // of the right ends, counted with a Fenwick tree.
  for (const k of left) {
    const js: number[] = [];
    for (const t of succ.get(k) ?? []) {
      const j = pos.get(t);
      if (j !== undefined) js.push(j);
    }
    js.sort((a, b) => a - b);
    targets.push(...js);
  }
  const tree = new Array(right.length + 1).fill(0);
  let n = 0;
  let seen = 0;
  for (const j of targets) {
    // Count earlier edges whose right end is greater than j.
    let le = 0;
    for (let i = j + 1; i > 0; i -= i & -i) le += tree[i];
    n += seen - le;
    for (let i = j + 1; i <= right.length; i += i & -i) tree[i]++;
    seen++;
  }
  return n;
}

/** Total edge crossings of an ordering (columns of keys, edges as successor lists). */
export function countCrossings(columns: string[][], succ: Map<string, string[]>): number {
  let n = 0;
  for (let c = 0; c + 1 < columns.length; c++) n += crossingsBetween(columns[c], columns[c + 1], succ);
  return n;
}

/** Order each column by the mean position of its neighbours, keeping the best ordering. */
export function orderColumns(
  initial: string[][],
  pred: Map<string, string[]>,
  succ: Map<string, string[]>,
  sweeps = 6,
): string[][] {
  let cols = initial.map((c) => [...c]);
  let best = cols.map((c) => [...c]);
  let bestN = countCrossings(cols, succ);
  const sortBy = (col: string[], ref: string[], nbrs: Map<string, string[]>): string[] => {
    const pos = new Map(ref.map((k, i) => [k, i]));
    const keyed = col.map((k, i) => {
      const ps = (nbrs.get(k) ?? []).map((n) => pos.get(n)).filter((p): p is number => p !== undefined);
      const bc = ps.length ? ps.reduce((a, b) => a + b, 0) / ps.length : null;
      return { k, i, bc };
    });
    // Vertices without neighbours there keep their slot; the others are sorted around them.
    const movable = keyed.filter((v) => v.bc !== null).sort((a, b) => a.bc! - b.bc! || a.i - b.i);
    const out: string[] = [];
    let m = 0;
    for (const v of keyed) out.push(v.bc === null ? v.k : movable[m++].k);
    return out;
  };
  const transpose = (): void => {
    // Swap neighbours in a column while that removes crossings (both sides counted).
    let improved = true;
    let rounds = 0;
    while (improved && rounds++ < 8) {
      improved = false;
      for (let c = 0; c < cols.length; c++) {
        for (let i = 0; i + 1 < cols[c].length; i++) {
          const before = localCrossings(cols, c, succ);
          [cols[c][i], cols[c][i + 1]] = [cols[c][i + 1], cols[c][i]];
          const after = localCrossings(cols, c, succ);
          if (after < before) improved = true;
          else [cols[c][i], cols[c][i + 1]] = [cols[c][i + 1], cols[c][i]];
        }
      }
    }
  };
  for (let s = 0; s < sweeps; s++) {
    for (let c = 1; c < cols.length; c++) cols[c] = sortBy(cols[c], cols[c - 1], pred);
    for (let c = cols.length - 2; c >= 0; c--) cols[c] = sortBy(cols[c], cols[c + 1], succ);
    const n = countCrossings(cols, succ);
    if (n < bestN) {
      bestN = n;
      best = cols.map((c) => [...c]);
    }
    if (bestN === 0) break;
  }
  cols = best.map((c) => [...c]);
  // Adjacent exchanges cost a recount per swap: only for pipelines of modest size.
  if (bestN > 0 && cols.reduce((n, c) => n + c.length, 0) <= 400) transpose();
  return countCrossings(cols, succ) <= bestN ? cols : best;
}

function localCrossings(cols: string[][], c: number, succ: Map<string, string[]>): number {
  let n = 0;
  if (c > 0) n += crossingsBetween(cols[c - 1], cols[c], succ);
  if (c + 1 < cols.length) n += crossingsBetween(cols[c], cols[c + 1], succ);
  return n;
}

/**
 * Place items of one column at the centres nearest to `desired` that keep their order
 * and `gap` between boxes (least squares: blocks of touching boxes are merged).
 */
export function packColumn(heights: number[], desired: number[], gap: number): number[] {
  interface Block {
    start: number;
    end: number; // exclusive
    offsets: number[]; // centre of each member relative to the first
    pos: number; // centre of the first member
  }
  const blocks: Block[] = [];
  const solve = (b: Block): void => {
    let s = 0;
    for (let i = b.start; i < b.end; i++) s += desired[i] - b.offsets[i - b.start];
    b.pos = s / (b.end - b.start);
  };
  const bottom = (b: Block) => b.pos + b.offsets[b.offsets.length - 1] + heights[b.end - 1] / 2;
  for (let i = 0; i < heights.length; i++) {
    let b: Block = { start: i, end: i + 1, offsets: [0], pos: desired[i] };
    while (blocks.length) {
      const prev = blocks[blocks.length - 1];
      if (bottom(prev) + gap <= b.pos - heights[b.start] / 2 + 1e-9) break;
      blocks.pop();
      const shift = prev.offsets[prev.offsets.length - 1] + heights[prev.end - 1] / 2 + gap + heights[b.start] / 2;
      b = {
        start: prev.start,
        end: b.end,
        offsets: [...prev.offsets, ...b.offsets.map((o) => o + shift)],
        pos: 0,
      };
      solve(b);
    }
    blocks.push(b);
  }
  const out: number[] = new Array(heights.length);
  for (const b of blocks) for (let i = b.start; i < b.end; i++) out[i] = b.pos + b.offsets[i - b.start];
  return out;
}

/** Lay out a pipeline run's DAG left to right. */
export function layoutPipeline(p: Pick<PipelineResponse, 'nodes' | 'datasets' | 'edges' | 'layers'>, opts: LayoutOptions = {}): DagLayout {
  const measure = opts.measure ?? estimateTextWidth;
  const compact = opts.compactInputs ?? true;
  const rankOf = new Map<string, number>();
  const items = new Map<string, LayoutItem>();

  for (const n of p.nodes) {
    const key = nodeKey(n.name);
    if (items.has(key)) continue;
    // Name and meta line start after the status icon; the cached marker sits at the right.
    // Names are bold (about 8% wider than the estimate); the meta line is 11px.
    const bold = (t: string) => measure(t) * 1.08;
    const label = fit(n.name, NODE_MAX_W - 60, bold);
    const meta = measure(nodeMeta(n)) * 0.88;
    const w = Math.min(NODE_MAX_W, Math.max(NODE_MIN_W, Math.max(bold(label), meta) + 60));
    items.set(key, { key, kind: 'node', name: n.name, label, col: 0, x: 0, y: 0, w, h: NODE_H, node: n });
    rankOf.set(key, n.rank);
  }
  const nodeRank = new Map(p.nodes.map((n) => [n.name, n.rank]));
  for (const d of p.datasets) {
    const key = datasetKey(d.name);
    if (items.has(key)) continue;
    const label = fit(d.name, DATASET_MAX_W - 42, measure);
    const w = Math.min(DATASET_MAX_W, Math.max(DATASET_MIN_W, measure(label) + 42));
    items.set(key, { key, kind: 'dataset', name: d.name, label, col: 0, x: 0, y: 0, w, h: DATASET_H, dataset: d });
    let rank = d.rank;
    if (compact && d.producer === null) {
      const rs = d.consumers.map((c) => nodeRank.get(c)).filter((r): r is number => r !== undefined);
      if (rs.length) rank = Math.max(0, Math.min(...rs) - 1);
    }
    rankOf.set(key, rank);
  }

  // Edges between known items, once each, in the direction of the data.
  const seen = new Set<string>();
  const links: Array<{ source: string; target: string; kind: 'reads' | 'writes' }> = [];
  for (const e of p.edges) {
    const source = e.kind === 'writes' ? nodeKey(e.source) : datasetKey(e.source);
    const target = e.kind === 'writes' ? datasetKey(e.target) : nodeKey(e.target);
    const id = `${source}>${target}`;
    if (seen.has(id) || !items.has(source) || !items.has(target)) continue;
    seen.add(id);
    links.push({ source, target, kind: e.kind });
  }

  // Columns: the distinct ranks, left to right, with no empty column between.
  const ranks = [...new Set(rankOf.values())].sort((a, b) => a - b);
  const colOfRank = new Map(ranks.map((r, i) => [r, i]));
  for (const it of items.values()) it.col = colOfRank.get(rankOf.get(it.key)!)!;
  const ncols = ranks.length;

  // Long edges pass through one dummy per column they cross.
  const vertices = new Map<string, Vertex>();
  for (const it of items.values()) vertices.set(it.key, { key: it.key, col: it.col, h: it.h, w: it.w });
  const pred = new Map<string, string[]>();
  const succ = new Map<string, string[]>();
  const link = (a: string, b: string) => {
    if (!succ.has(a)) succ.set(a, []);
    if (!pred.has(b)) pred.set(b, []);
    succ.get(a)!.push(b);
    pred.get(b)!.push(a);
  };
  const chains: string[][] = [];
  links.forEach((l, i) => {
    const a = vertices.get(l.source)!;
    const b = vertices.get(l.target)!;
    const chain = [l.source];
    if (b.col > a.col + 1) {
      for (let c = a.col + 1; c < b.col; c++) {
        const key = `~${i}:${c}`;
        vertices.set(key, { key, col: c, h: DUMMY_H, w: 0 });
        chain.push(key);
      }
    }
    chain.push(l.target);
    if (b.col > a.col) for (let k = 0; k + 1 < chain.length; k++) link(chain[k], chain[k + 1]);
    chains.push(chain);
  });

  // Initial order: by first appearance walking the nodes in the order the run lists them.
  const columns: string[][] = Array.from({ length: ncols }, () => []);
  const placed = new Set<string>();
  const put = (key: string) => {
    if (placed.has(key) || !vertices.has(key)) return;
    placed.add(key);
    columns[vertices.get(key)!.col].push(key);
  };
  for (const n of p.nodes) {
    for (const i of n.inputs) put(datasetKey(i));
    put(nodeKey(n.name));
    for (const o of n.outputs) put(datasetKey(o));
  }
  for (const key of vertices.keys()) if (isDummy(key)) put(key);
  for (const key of vertices.keys()) put(key);
  const ordered = orderColumns(columns, pred, succ, opts.sweeps ?? 8);

  // x: columns as wide as their widest box.
  const colW = ordered.map((col) => Math.max(40, ...col.map((k) => vertices.get(k)!.w)));
  const colX0: number[] = [];
  let x = PAD;
  for (let c = 0; c < ncols; c++) {
    colX0.push(x);
    x += colW[c] + COL_GAP;
  }
  const width = x - COL_GAP + PAD;

  // y: start stacked, then pull each column towards its neighbours, alternating sides.
  const y = new Map<string, number>();
  const gapOf = (col: string[]) => (col.every(isDummy) ? 6 : ROW_GAP);
  for (const col of ordered) {
    let top = 0;
    for (const k of col) {
      const h = vertices.get(k)!.h;
      y.set(k, top + h / 2);
      top += h + gapOf(col);
    }
  }
  const relax = (c: number, nbrs: Array<Map<string, string[]>>) => {
    const col = ordered[c];
    if (!col.length) return;
    const heights = col.map((k) => vertices.get(k)!.h);
    const desired = col.map((k) => {
      const ys: number[] = [];
      for (const m of nbrs) for (const n of m.get(k) ?? []) ys.push(y.get(n)!);
      return ys.length ? ys.reduce((a, b) => a + b, 0) / ys.length : y.get(k)!;
    });
    // Boxes and dummies keep a smaller gap to each other than boxes among themselves.
    const packed = packColumn(heights, desired, gapOf(col));
    col.forEach((k, i) => y.set(k, packed[i]));
  };
  for (let it = 0; it < 10; it++) {
    for (let c = 1; c < ncols; c++) relax(c, [pred]);
    for (let c = ncols - 2; c >= 0; c--) relax(c, [succ]);
  }
  for (let c = 0; c < ncols; c++) relax(c, [pred, succ]);

  let minTop = Infinity;
  let maxBottom = -Infinity;
  for (const [k, v] of vertices) {
    minTop = Math.min(minTop, y.get(k)! - v.h / 2);
    maxBottom = Math.max(maxBottom, y.get(k)! + v.h / 2);
  }
  if (!Number.isFinite(minTop)) {
    minTop = 0;
    maxBottom = 0;
  }
  const layerNames = [...p.layers];
  for (const d of p.datasets) if (d.layer && !layerNames.includes(d.layer)) layerNames.push(d.layer);
  const top = PAD + (layerNames.length ? BAND_LABEL_H : 0);
  const dy = top - minTop;
  const height = maxBottom - minTop + top + PAD;

  for (const it of items.values()) {
    it.x = colX0[it.col] + colW[it.col] / 2;
    it.y = y.get(it.key)! + dy;
  }

  // Edges: out of the right side, through the dummies (straight across their column),
  // into the left side; cubic curves with horizontal tangents between.
  const edges: LayoutEdge[] = links.map((l, i) => {
    const a = items.get(l.source)!;
    const b = items.get(l.target)!;
    const pts: Array<[number, number]> = [[a.x + a.w / 2, a.y]];
    for (const key of chains[i].slice(1, -1)) {
      const v = vertices.get(key)!;
      const yy = y.get(key)! + dy;
      pts.push([colX0[v.col], yy], [colX0[v.col] + colW[v.col], yy]);
    }
    pts.push([b.x - b.w / 2, b.y]);
    return { key: `${l.source}>${l.target}`, source: l.source, target: l.target, kind: l.kind, points: pts, path: curve(pts) };
  });

  // Catalog layers as vertical bands over the columns their datasets and nodes occupy.
  const bands: LayoutBand[] = [];
  for (const layer of layerNames) {
    const cols: number[] = [];
    for (const it of items.values()) {
      const l = it.kind === 'node' ? it.node!.layer : it.dataset!.layer;
      if (l === layer) cols.push(it.col);
    }
    if (!cols.length) continue;
    const c0 = Math.min(...cols);
    const c1 = Math.max(...cols);
    bands.push({ layer, x0: colX0[c0] - COL_GAP / 2 + 4, x1: colX0[c1] + colW[c1] + COL_GAP / 2 - 4 });
  }
  for (let i = 1; i < bands.length; i++) {
    const a = bands[i - 1];
    const b = bands[i];
    if (b.x0 < a.x1 && b.x0 > a.x0 && b.x1 > a.x1) {
      const mid = (b.x0 + a.x1) / 2;
      a.x1 = mid - 2;
      b.x0 = mid + 2;
    }
  }

  const list = [...items.values()];
  return {
    items: list,
    byKey: items,
    edges,
    bands,
    columns: ordered,
    width: Math.max(width, 200),
    height: Math.max(height, 120),
  };
}

/** A smooth path through points, horizontal at each; straight where y does not change. */
export function curve(pts: Array<[number, number]>): string {
  if (!pts.length) return '';
  const r = (v: number) => Math.round(v * 10) / 10;
  let d = `M${r(pts[0][0])},${r(pts[0][1])}`;
  for (let i = 1; i < pts.length; i++) {
    const [x0, y0] = pts[i - 1];
    const [x1, y1] = pts[i];
    if (Math.abs(y1 - y0) < 0.5) {
      d += ` L${r(x1)},${r(y1)}`;
    } else {
      const mx = (x1 - x0) / 2;
      d += ` C${r(x0 + mx)},${r(y0)} ${r(x1 - mx)},${r(y1)} ${r(x1)},${r(y1)}`;
    }
  }
  return d;
}

/** Whether two laid out boxes overlap (with `margin` px to spare). */
export function overlaps(a: LayoutItem, b: LayoutItem, margin = 0): boolean {
  return (
    Math.abs(a.x - b.x) * 2 < a.w + b.w + margin * 2 && Math.abs(a.y - b.y) * 2 < a.h + b.h + margin * 2
  );
}
