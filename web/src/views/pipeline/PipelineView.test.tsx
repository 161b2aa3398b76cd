import { act, fireEvent, render, screen, waitFor, within } from '@testing-library/react';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import failed from './fixtures/pipeline_failed.json';
import ran from './fixtures/pipeline_ran.json';
import cached from './fixtures/pipeline_cached.json';
import { PipelineView, withoutParams } from './PipelineView';
import { nodeMeta, savedByCache, statusClass } from './status';
import { experiment, stubFetch } from './testFetch';
import type { PipelineResponse } from './types';

const F = failed as unknown as PipelineResponse;
const R = ran as unknown as PipelineResponse;
const C = cached as unknown as PipelineResponse;

function routes(p: PipelineResponse) {
  return {
    [`/api/v1/runs/${p.run_id}/pipeline`]: p,
    [`/api/v1/experiments/${p.experiment_id}`]: experiment(p.experiment_id, 'iris-project'),
  };
}

async function renderView(p: PipelineResponse) {
  const utils = render(<PipelineView runId={p.run_id} />);
  await waitFor(() => expect(screen.getByTestId('pipeline-view').getAttribute('data-ready')).toBe('true'));
  return utils;
}

beforeEach(() => {
  window.history.replaceState(null, '', '/');
});
afterEach(() => {
  vi.unstubAllGlobals();
});

describe('node status', () => {
  it('maps statuses to classes, cached marker and meta line', () => {
    const byName = new Map(F.nodes.map((n) => [n.name, n]));
    expect(statusClass(byName.get('preprocess')!)).toBe('cached');
    expect(statusClass(byName.get('train_model')!)).toBe('failed');
    expect(statusClass(byName.get('evaluate_model')!)).toBe('not-run');
    expect(statusClass(R.nodes[0])).toBe('ran');
    expect(nodeMeta(byName.get('preprocess')!)).toMatch(/^cached · saved \d/);
    expect(nodeMeta(byName.get('train_model')!)).toMatch(/^failed after/);
    expect(nodeMeta(byName.get('evaluate_model')!)).toBe('not run');
    expect(nodeMeta({ ...R.nodes[0], attempts: 3 })).toMatch(/· 3 attempts$/);
    expect(savedByCache(F.nodes)).toBeCloseTo(1.183624 + 0.006978 + 0.002769, 5);
    expect(savedByCache(R.nodes)).toBe(0);
  });
});

describe('PipelineView', () => {
  it('draws every node with its status, cached flag and class', async () => {
    stubFetch(routes(F));
    await renderView(F);
    expect(screen.getByTestId('pipeline-failed').textContent).toContain('train_model');
    const nodes = screen.getAllByTestId('dag-node');
    expect(nodes).toHaveLength(F.nodes.length);
    const by = new Map(nodes.map((n) => [n.getAttribute('data-name'), n]));
    expect(by.get('preprocess')!.getAttribute('data-status')).toBe('cached');
    expect(by.get('preprocess')!.getAttribute('data-cached')).toBe('true');
    expect(by.get('preprocess')!.getAttribute('class')).toContain('status-cached');
    expect(by.get('train_model')!.getAttribute('data-status')).toBe('failed');
    expect(by.get('train_model')!.getAttribute('class')).toContain('status-failed');
    expect(by.get('evaluate_model')!.getAttribute('data-status')).toBe('not run');
    expect(by.get('evaluate_model')!.getAttribute('class')).toContain('status-not-run');
    expect(screen.getAllByTestId('dag-cached-marker')).toHaveLength(3);
    expect(within(by.get('train_model')!).queryByTestId('dag-cached-marker')).toBeNull();
    // Header counts.
    expect(screen.getByTestId('count-cached').textContent).toBe('3');
    expect(screen.getByTestId('count-failed').textContent).toBe('1');
    expect(screen.getByTestId('count-not-run').textContent).toBe('1');
    expect(screen.getByTestId('count-ran').textContent).toBe('0');
  });

  it('draws datasets as pills by kind, and layers as bands', async () => {
    stubFetch(routes(R));
    const { container } = await renderView(R);
    const ds = screen.getAllByTestId('dag-dataset');
    expect(ds).toHaveLength(R.datasets.length);
    const kinds = new Map(ds.map((d) => [d.getAttribute('data-name'), d.getAttribute('data-kind')]));
    expect(kinds.get('raw_iris')).toBe('dataset');
    expect(kinds.get('X_train')).toBe('memory');
    expect(kinds.get('params:model')).toBe('params');
    expect(ds.find((d) => d.getAttribute('data-name') === 'X_train')!.getAttribute('class')).toContain('kind-memory');
    const bands = [...container.querySelectorAll('.dag-band')].map((b) => b.getAttribute('data-layer'));
    expect(bands).toEqual(R.layers);
    expect(container.querySelectorAll('.dag-edge')).toHaveLength(R.edges.length);
    expect(screen.getAllByTestId('dag-node').every((n) => n.getAttribute('data-status') === 'ran')).toBe(true);
  });

  it('shows a node’s inputs, outputs, attempts and error on click', async () => {
    stubFetch(routes(F));
    await renderView(F);
    const train = screen.getAllByTestId('dag-node').find((n) => n.getAttribute('data-name') === 'train_model')!;
    fireEvent.click(train);
    const panel = screen.getByTestId('node-details');
    expect(panel.textContent).toContain('train_model');
    expect(screen.getByTestId('node-error').textContent).toContain('Input contains NaN');
    expect(within(panel).getByText('X_train')).toBeTruthy();
    expect(within(panel).getByText('params:model')).toBeTruthy();
    expect(within(panel).getByText('classifier')).toBeTruthy();
    expect(window.location.search).toBe('?node=train_model');
    // Following an input selects the dataset.
    fireEvent.click(within(panel).getByText('X_train'));
    expect(screen.getByTestId('dataset-details').textContent).toContain('X_train');
  });

  it('shows a cached node’s saved time on hover and click', async () => {
    stubFetch(routes(C));
    await renderView(C);
    const node = screen.getAllByTestId('dag-node').find((n) => n.getAttribute('data-name') === 'preprocess')!;
    fireEvent.mouseEnter(node);
    fireEvent.mouseMove(node, { clientX: 100, clientY: 100 });
    const tip = screen.getByTestId('dag-tooltip');
    expect(tip.textContent).toContain('Cached');
    expect(tip.textContent).toMatch(/saved \d/);
    expect(tip.textContent).toContain('raw_iris, params:preprocess');
    fireEvent.mouseLeave(node);
    expect(screen.queryByTestId('dag-tooltip')).toBeNull();
    fireEvent.click(node);
    const panel = screen.getByTestId('node-details');
    expect(panel.textContent).toContain('Saved');
    expect(panel.textContent).toContain('Took here');
  });

  it('shows a dataset’s hash, version and path, and links to its dataset view', async () => {
    stubFetch(routes(R));
    await renderView(R);
    const clf = screen.getAllByTestId('dag-dataset').find((n) => n.getAttribute('data-name') === 'classifier')!;
    fireEvent.click(clf);
    const panel = screen.getByTestId('dataset-details');
    const d = R.datasets.find((x) => x.name === 'classifier')!;
    expect(screen.getByTestId('dataset-hash').textContent).toContain(d.hash!.slice(0, 16));
    expect(panel.textContent).toContain(d.version!);
    expect(panel.textContent).toContain(d.path!);
    expect(panel.textContent).toContain('pickle.PickleDataset');
    expect(screen.getByTestId('dataset-link').getAttribute('href')).toBe(`/experiments/${R.experiment_id}/datasets/classifier`);
    // Params have no dataset view.
    const params = screen.getAllByTestId('dag-dataset').find((n) => n.getAttribute('data-name') === 'params:model')!;
    fireEvent.click(params);
    expect(screen.queryByTestId('dataset-link')).toBeNull();
  });

  it('hides params on request', async () => {
    stubFetch(routes(R));
    await renderView(R);
    const before = screen.getAllByTestId('dag-dataset').length;
    fireEvent.click(screen.getByLabelText(/Params/));
    const after = screen.getAllByTestId('dag-dataset');
    expect(after.length).toBe(before - 3);
    expect(after.some((d) => d.getAttribute('data-kind') === 'params')).toBe(false);
    expect(withoutParams(R).edges.some((e) => e.source.startsWith('params:'))).toBe(false);
  });

  it('preselects the node named in the URL', async () => {
    window.history.replaceState(null, '', `/runs/${F.run_id}/pipeline?node=evaluate_model`);
    stubFetch(routes(F));
    await renderView(F);
    expect(screen.getByTestId('node-details').textContent).toContain('evaluate_model');
    act(() => {
      document.dispatchEvent(new KeyboardEvent('keydown', { key: 'Escape' }));
    });
    expect(screen.queryByTestId('node-details')).toBeNull();
  });

  it('is ready at once for a run that recorded no nodes', async () => {
    const empty: PipelineResponse = { ...R, nodes: [], datasets: [], edges: [], node_edges: [], layers: [], lineage: [] };
    stubFetch(routes(empty));
    await renderView(empty);
    expect(screen.getByText('This run recorded no nodes.')).toBeTruthy();
  });

  it('reports a run that is not a pipeline', async () => {
    stubFetch({
      '/api/v1/runs/abc/pipeline': { status: 404, body: { error: { type: 'NotFound', message: 'run abc is not a pipeline run' } } },
      '/api/v1/runs/abc': { id: 'abc', status: 'FINISHED', tags: {} },
    });
    render(<PipelineView runId="abc" />);
    expect(await screen.findByRole('alert')).toBeTruthy();
    expect(screen.getByRole('alert').textContent).toContain('not a pipeline run');
  });

  it('waits for a pipeline run that is still running', async () => {
    stubFetch({
      '/api/v1/runs/abc/pipeline': { status: 404, body: { error: { type: 'NotFound', message: 'still running' } } },
      '/api/v1/runs/abc': { id: 'abc', status: 'RUNNING', tags: { 'tane.kind': 'pipeline' } },
    });
    render(<PipelineView runId="abc" />);
    expect(await screen.findByTestId('pipeline-waiting')).toBeTruthy();
  });
});
