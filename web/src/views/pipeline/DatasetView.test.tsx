import { fireEvent, render, screen, waitFor, within } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import classifier from './fixtures/dataset_classifier.json';
import preprocessed from './fixtures/dataset_preprocessed_iris.json';
import { DatasetView, distinctRuns, versionKey, versionLabel } from './DatasetView';
import { experiment, stubFetch } from './testFetch';
import type { DatasetResponse } from './types';

const CLF = classifier as unknown as DatasetResponse;
const PRE = preprocessed as unknown as DatasetResponse;

function routes(d: DatasetResponse) {
  return {
    [`/api/v1/experiments/${d.experiment_id}/datasets/${d.name}`]: d,
    [`/api/v1/experiments/${d.experiment_id}`]: experiment(d.experiment_id, 'iris'),
  };
}

async function renderView(d: DatasetResponse) {
  render(<DatasetView experimentId={d.experiment_id} name={d.name} />);
  await waitFor(() => expect(screen.getByTestId('dataset-view').getAttribute('data-ready')).toBe('true'));
}

afterEach(() => {
  vi.unstubAllGlobals();
});

describe('helpers', () => {
  it('labels and keys versions, and lists each run once', () => {
    expect(versionLabel({ hash: 'abcdef0123456789', version: null })).toBe('abcdef012345');
    expect(versionLabel({ hash: 'abc', version: '2026-11-27T00.23.45.555Z' })).toBe('2026-11-27T00.23.45.555Z');
    expect(versionLabel({ hash: null, version: null })).toBe('unknown content');
    expect(versionKey({ hash: null, version: 'v1' })).toBe('|v1');
    const runs = distinctRuns(PRE.uses);
    expect(runs).toHaveLength(22);
    expect(new Set(runs.map((r) => r.run_id)).size).toBe(22);
  });
});

describe('DatasetView', () => {
  it('lists the versions newest first with their writers and readers', async () => {
    stubFetch(routes(CLF));
    await renderView(CLF);
    const table = screen.getByTestId('dataset-versions');
    const rows = within(table).getAllByTestId('dataset-version-row');
    expect(rows).toHaveLength(CLF.versions.length);
    expect(rows.map((r) => r.getAttribute('data-hash'))).toEqual(CLF.versions.map((v) => v.hash));
    const first = CLF.versions[0];
    expect(rows[0].textContent).toContain(first.version!);
    expect(rows[0].textContent).toContain('latest');
    const writer = within(rows[0]).getAllByText(first.written_by[0].run_name)[0];
    expect(writer.getAttribute('href')).toBe(`/runs/${first.written_by[0].run_id}`);
    expect(rows[0].textContent).toContain('train_model');
    expect(rows[0].textContent).toContain('evaluate_model');
  });

  it('shows every use with its direction, node and cached writes', async () => {
    stubFetch(routes(PRE));
    await renderView(PRE);
    const uses = within(screen.getByTestId('dataset-uses')).getAllByTestId('dataset-use-row');
    expect(uses).toHaveLength(PRE.uses.length);
    expect(uses.filter((u) => u.getAttribute('data-direction') === 'write')).toHaveLength(22);
    const cachedWrites = PRE.uses.filter((u) => u.direction === 'write' && u.cached).length;
    expect(within(screen.getByTestId('dataset-uses')).getAllByTestId('cached-write')).toHaveLength(cachedWrites);
    // Node links open the node in that run's pipeline.
    const node = within(uses[0]).getByText(PRE.uses[0].node);
    expect(node.getAttribute('href')).toBe(`/runs/${PRE.uses[0].run_id}/pipeline?node=${PRE.uses[0].node}`);
    expect(screen.getByTestId('dataset-timeline').querySelectorAll('circle')).toHaveLength(PRE.uses.length);
  });

  it('folds long lists of runs of a version', async () => {
    stubFetch(routes(PRE));
    await renderView(PRE);
    const row = within(screen.getByTestId('dataset-versions')).getByTestId('dataset-version-row');
    expect(within(row).getAllByText('+19 more')).toHaveLength(2);
    fireEvent.click(within(row).getAllByText('+19 more')[0]);
    expect(within(row).getByText('show fewer')).toBeTruthy();
    expect(row.textContent).toContain(PRE.versions[0].paths[0]);
  });

  it('reports an unknown dataset', async () => {
    stubFetch({
      '/api/v1/experiments/2/datasets/nope': {
        status: 404,
        body: { error: { type: 'NotFound', message: "no dataset 'nope' — did you mean 'notes'?" } },
      },
    });
    render(<DatasetView experimentId="2" name="nope" />);
    expect((await screen.findByRole('alert')).textContent).toContain('did you mean');
  });
});
