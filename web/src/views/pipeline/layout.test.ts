import { describe, expect, it } from 'vitest';
import ran from './fixtures/pipeline_ran.json';
import {
  countCrossings,
  datasetKey,
  layoutPipeline,
  nodeKey,
  orderColumns,
  overlaps,
  packColumn,
  type DagLayout,
} from './layout';
import type { PipelineNode, PipelineResponse } from './types';

const fixture = ran as unknown as PipelineResponse;

function noOverlaps(l: DagLayout): void {
  for (let i = 0; i < l.items.length; i++) {
    for (let j = i + 1; j < l.items.length; j++) {
      const a = l.items[i];
      const b = l.items[j];
      expect(overlaps(a, b, 4), `${a.key} overlaps ${b.key}`).toBe(false);
    }
  }
}

function succOf(l: DagLayout): Map<string, string[]> {
  // The successor lists of the ordering, dummies included, rebuilt from the edge chains.
  const succ = new Map<string, string[]>();
  const colOf = new Map<string, number>();
  l.columns.forEach((col, c) => col.forEach((k) => colOf.set(k, c)));
  const dummiesByEdge = new Map<string, string[]>();
  for (const col of l.columns) {
    for (const k of col) {
      if (!k.startsWith('~')) continue;
      const edge = k.slice(1).split(':')[0];
      if (!dummiesByEdge.has(edge)) dummiesByEdge.set(edge, []);
      dummiesByEdge.get(edge)!.push(k);
    }
  }
  l.edges.forEach((e, i) => {
    const chain = [e.source, ...(dummiesByEdge.get(String(i)) ?? []), e.target];
    for (let k = 0; k + 1 < chain.length; k++) {
      if (!succ.has(chain[k])) succ.set(chain[k], []);
      succ.get(chain[k])!.push(chain[k + 1]);
    }
  });
  return succ;
}

/** A pipeline of `n` nodes in a chain-ish DAG with cross links, named to tangle the first order. */
function synthetic(n: number, seed = 7): Pick<PipelineResponse, 'nodes' | 'datasets' | 'edges' | 'layers'> {
  let s = seed;
  const rnd = () => ((s = (s * 1103515245 + 12345) % 2147483648) / 2147483648);
  const nodes: PipelineNode[] = [];
  const produced: Array<{ name: string; rank: number }> = [{ name: 'raw', rank: 0 }];
  const datasets = new Map<string, { name: string; rank: number; producer: string | null; consumers: string[] }>();
  datasets.set('raw', { name: 'raw', rank: 0, producer: null, consumers: [] });
  for (let i = 0; i < n; i++) {
    const k = 1 + Math.floor(rnd() * 2);
    const inputs = new Set<string>();
    for (let j = 0; j < k; j++) inputs.add(produced[Math.floor(rnd() * produced.length)].name);
    if (rnd() < 0.3) inputs.add(`params:p${i}`);
    const ins = [...inputs];
    const rank = 1 + Math.max(...ins.map((d) => datasets.get(d)?.rank ?? 0));
    const outputs = [`d${i}a`, ...(rnd() < 0.4 ? [`d${i}b`] : [])];
    nodes.push({
      name: `node_${i}`, namespace: null, tags: [], inputs: ins, outputs, status: 'ran', cached: false,
      duration: 1, saved_duration: 0, attempts: 1, error: null, rank, layer: null,
    });
    for (const d of ins) {
      if (!datasets.has(d)) datasets.set(d, { name: d, rank: 0, producer: null, consumers: [] });
      datasets.get(d)!.consumers.push(`node_${i}`);
    }
    for (const o of outputs) {
      datasets.set(o, { name: o, rank: rank + 1, producer: `node_${i}`, consumers: [] });
      produced.push({ name: o, rank: rank + 1 });
    }
  }
  const edges = nodes.flatMap((nd) => [
    ...nd.inputs.map((i) => ({ source: i, target: nd.name, kind: 'reads' as const })),
    ...nd.outputs.map((o) => ({ source: nd.name, target: o, kind: 'writes' as const })),
  ]);
  return {
    nodes,
    datasets: [...datasets.values()].map((d) => ({
      ...d, kind: d.name.startsWith('params:') ? ('params' as const) : ('dataset' as const), type: null,
      layer: null, hash: null, version: null, path: null,
    })),
    edges,
    layers: [],
  };
}

describe('layoutPipeline', () => {
  it('puts every item of the fixture in a column from its rank, left to right', () => {
    const l = layoutPipeline(fixture);
    expect(l.items).toHaveLength(fixture.nodes.length + fixture.datasets.length);
    for (const n of fixture.nodes) {
      const node = l.byKey.get(nodeKey(n.name))!;
      for (const i of n.inputs) expect(l.byKey.get(datasetKey(i))!.x).toBeLessThan(node.x);
      for (const o of n.outputs) expect(l.byKey.get(datasetKey(o))!.x).toBeGreaterThan(node.x);
    }
    // Same rank, same column, same x.
    const byRank = new Map<number, Set<number>>();
    for (const d of fixture.datasets.filter((d) => d.producer !== null)) {
      if (!byRank.has(d.rank)) byRank.set(d.rank, new Set());
      byRank.get(d.rank)!.add(l.byKey.get(datasetKey(d.name))!.x);
    }
    for (const xs of byRank.values()) expect(xs.size).toBe(1);
    for (const e of l.edges) {
      const xs = e.points.map((p) => p[0]);
      expect([...xs].sort((a, b) => a - b)).toEqual(xs);
      expect(e.path.startsWith('M')).toBe(true);
    }
  });

  it('lays the fixture out without overlaps or crossings, inside its size', () => {
    const l = layoutPipeline(fixture);
    noOverlaps(l);
    expect(countCrossings(l.columns, succOf(l))).toBe(0);
    for (const it of l.items) {
      expect(it.x - it.w / 2).toBeGreaterThanOrEqual(0);
      expect(it.y - it.h / 2).toBeGreaterThanOrEqual(0);
      expect(it.x + it.w / 2).toBeLessThanOrEqual(l.width);
      expect(it.y + it.h / 2).toBeLessThanOrEqual(l.height);
    }
  });

  it('places free inputs (params) just before their first reader', () => {
    const l = layoutPipeline(fixture);
    const params = l.byKey.get(datasetKey('params:model'))!;
    const train = l.byKey.get(nodeKey('train_model'))!;
    expect(train.col - params.col).toBe(1);
    const loose = layoutPipeline(fixture, { compactInputs: false });
    expect(loose.byKey.get(datasetKey('params:model'))!.col).toBe(0);
  });

  it('draws the catalog layers as bands in order, not overlapping', () => {
    const l = layoutPipeline(fixture);
    expect(l.bands.map((b) => b.layer)).toEqual(fixture.layers);
    for (let i = 1; i < l.bands.length; i++) expect(l.bands[i].x0).toBeGreaterThanOrEqual(l.bands[i - 1].x1);
    const raw = l.bands[0];
    const rawIris = l.byKey.get(datasetKey('raw_iris'))!;
    expect(raw.x0).toBeLessThan(rawIris.x - rawIris.w / 2);
    expect(raw.x1).toBeGreaterThan(rawIris.x + rawIris.w / 2);
  });

  it('shortens long names and keeps boxes within bounds', () => {
    const long = 'a_really_long_dataset_name_that_goes_on_and_on_and_on_forever_and_more';
    const l = layoutPipeline({
      nodes: [{ ...fixture.nodes[0], inputs: [long], outputs: ['out'] }],
      datasets: [
        { ...fixture.datasets[0], name: long, consumers: [fixture.nodes[0].name] },
        { ...fixture.datasets[2], name: 'out' },
      ],
      edges: [
        { source: long, target: fixture.nodes[0].name, kind: 'reads' },
        { source: fixture.nodes[0].name, target: 'out', kind: 'writes' },
      ],
      layers: [],
    });
    const d = l.byKey.get(datasetKey(long))!;
    expect(d.label.endsWith('…')).toBe(true);
    expect(d.w).toBeLessThanOrEqual(230);
  });

  it('lays out a larger DAG with long edges without overlaps, fewer crossings than unordered', () => {
    const p = synthetic(60);
    const l = layoutPipeline(p);
    noOverlaps(l);
    const unordered = layoutPipeline(p, { sweeps: 0 });
    expect(countCrossings(l.columns, succOf(l))).toBeLessThanOrEqual(
      countCrossings(unordered.columns, succOf(unordered)),
    );
    for (const e of l.edges) expect(e.points[0][0]).toBeLessThan(e.points[e.points.length - 1][0]);
  });

  it('survives an empty pipeline and edges to unknown names', () => {
    const l = layoutPipeline({ nodes: [], datasets: [], edges: [{ source: 'x', target: 'y', kind: 'reads' }], layers: [] });
    expect(l.items).toEqual([]);
    expect(l.edges).toEqual([]);
    expect(l.width).toBeGreaterThan(0);
  });
});

describe('orderColumns', () => {
  it('untangles a crossed bipartite pair', () => {
    // a->y, b->x: crossed in the initial order, straight after one sweep.
    const succ = new Map([
      ['a', ['y']],
      ['b', ['x']],
    ]);
    const pred = new Map([
      ['y', ['a']],
      ['x', ['b']],
    ]);
    const cols = [
      ['a', 'b'],
      ['x', 'y'],
    ];
    expect(countCrossings(cols, succ)).toBe(1);
    const out = orderColumns(cols, pred, succ);
    expect(countCrossings(out, succ)).toBe(0);
    expect(out.map((c) => [...c].sort())).toEqual([
      ['a', 'b'],
      ['x', 'y'],
    ]);
  });
});

describe('packColumn', () => {
  it('keeps order and gaps, and stays put when there is room', () => {
    expect(packColumn([10, 10], [0, 100], 5)).toEqual([0, 100]);
    const ys = packColumn([20, 20, 20], [50, 50, 50], 10);
    expect(ys[1] - ys[0]).toBeCloseTo(30);
    expect(ys[2] - ys[1]).toBeCloseTo(30);
    expect((ys[0] + ys[1] + ys[2]) / 3).toBeCloseTo(50);
    const swapped = packColumn([10, 10], [100, 0], 5);
    expect(swapped[1] - swapped[0]).toBeCloseTo(15);
  });
});
