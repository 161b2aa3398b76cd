import { act, fireEvent, render, screen, within } from '@testing-library/react';
import { useState } from 'react';
import { describe, expect, it, vi } from 'vitest';
import { ColumnChooser } from '../src/components/ColumnChooser';
import { RunsTable } from '../src/components/RunsTable';
import { sortRuns, type SortSpec } from '../src/lib/columns';
import { makeRun, makeRuns } from './fixtures';

function Harness({ runs, columns: initial, groupBy }: { runs: ReturnType<typeof makeRuns>; columns: string[]; groupBy?: string }) {
  const [sort, setSort] = useState<SortSpec | null>(null);
  const [sel, setSel] = useState<Set<string>>(new Set());
  const [columns, setColumns] = useState(initial);
  return (
    <>
      <ColumnChooser keys={{ metrics: ['accuracy', 'loss'], params: ['lr', 'model'], tags: ['team'] }} columns={columns} onChange={setColumns} />
      <RunsTable
        runs={runs}
        columns={columns}
        sort={sort}
        onSortChange={setSort}
        selected={sel}
        onSelectedChange={setSel}
        onRemoveColumn={(k) => setColumns(columns.filter((c) => c !== k))}
        fallbackHeight={600}
        groupBy={groupBy}
        now={1_800_000_000_000}
      />
      <output data-testid="selected">{Array.from(sel).join(',')}</output>
    </>
  );
}

const rowIds = () => screen.getAllByTestId('run-row').map((r) => r.getAttribute('data-run-id'));

describe('RunsTable', () => {
  it('renders only the visible rows of 10,000 runs', () => {
    const runs = makeRuns(10_000);
    render(<Harness runs={runs} columns={['metrics.accuracy']} />);
    const rows = screen.getAllByTestId('run-row');
    expect(rows.length).toBeGreaterThan(10);
    expect(rows.length).toBeLessThan(60);
    expect(screen.getByTestId('runs-table').getAttribute('aria-rowcount')).toBe('10000');
    // the body is as tall as every row, so the scrollbar is right
    const body = screen.getByTestId('runs-table').querySelector('.rt-body') as HTMLElement;
    expect(body.style.height).toBe(`${10_000 * 34}px`);
  });

  it('renders the rows in view after scrolling', () => {
    render(<Harness runs={makeRuns(10_000)} columns={[]} />);
    const table = screen.getByTestId('runs-table');
    act(() => {
      table.scrollTop = 34 * 5000;
      fireEvent.scroll(table);
    });
    const ids = rowIds();
    expect(ids).toContain('run05000');
    expect(ids).not.toContain('run00000');
    expect(ids.length).toBeLessThan(60);
  });

  it('sorts by a metric column, descending first, then ascending, then unsorted', () => {
    const runs = [makeRun(1, { metrics: { accuracy: 0.5 } }), makeRun(2, { metrics: { accuracy: 0.9 } }), makeRun(3, { metrics: {} }), makeRun(4, { metrics: { accuracy: 0.1 } })];
    render(<Harness runs={runs} columns={['metrics.accuracy']} />);
    const head = () => screen.getByRole('button', { name: /^accuracy/ });
    fireEvent.click(head());
    expect(rowIds()).toEqual(['run00002', 'run00001', 'run00004', 'run00003']);
    fireEvent.click(head());
    expect(rowIds()).toEqual(['run00004', 'run00001', 'run00002', 'run00003']);
    fireEvent.click(head());
    expect(rowIds()).toEqual(['run00001', 'run00002', 'run00003', 'run00004']);
  });

  it('sorts params numerically when they are numbers and 10,000 runs quickly', () => {
    const runs = [makeRun(1, { params: { n: '10' } }), makeRun(2, { params: { n: '9' } }), makeRun(3, { params: { n: '100' } })];
    expect(sortRuns(runs, { key: 'params.n', desc: false }).map((r) => r.params.n)).toEqual(['9', '10', '100']);
    const many = makeRuns(10_000);
    const t0 = performance.now();
    const sorted = sortRuns(many, { key: 'metrics.accuracy', desc: true });
    expect(performance.now() - t0).toBeLessThan(500);
    expect(sorted[0].metrics.accuracy).toBe(0.999);
  });

  it('shows the chosen columns and adds and removes them', () => {
    render(<Harness runs={makeRuns(20)} columns={['metrics.accuracy']} />);
    const header = () => Array.from(document.querySelectorAll('.rt-head[data-column]')).map((h) => h.getAttribute('data-column'));
    expect(header()).toContain('metrics.accuracy');
    expect(header()).not.toContain('params.model');
    fireEvent.click(screen.getByTestId('column-chooser'));
    const panel = screen.getByTestId('column-chooser-panel');
    fireEvent.click(within(panel).getByText('model').closest('label')!.querySelector('input')!);
    expect(header()).toContain('params.model');
    const firstRow = screen.getAllByTestId('run-row')[0];
    expect(firstRow.textContent).toContain('xgb');
    fireEvent.click(screen.getByRole('button', { name: 'Hide the column accuracy' }));
    expect(header()).not.toContain('metrics.accuracy');
  });

  it('selects runs, a range with shift, and all', () => {
    render(<Harness runs={makeRuns(10)} columns={[]} />);
    const boxes = () => screen.getAllByTestId('run-row').map((r) => r.querySelector('.rt-select') as HTMLElement);
    fireEvent.click(boxes()[1]);
    fireEvent.click(boxes()[4], { shiftKey: true });
    expect(screen.getByTestId('selected').textContent).toBe('run00001,run00002,run00003,run00004');
    fireEvent.click(screen.getByTestId('select-all'));
    expect(screen.getByTestId('selected').textContent!.split(',')).toHaveLength(10);
  });

  it('groups rows by a param with a header per value', () => {
    render(<Harness runs={makeRuns(10)} columns={['metrics.accuracy']} groupBy="params.model" />);
    const groups = screen.getAllByTestId('run-group');
    expect(groups.map((g) => g.textContent)).toEqual([expect.stringContaining('lgbm'), expect.stringContaining('xgb')]);
    fireEvent.click(within(groups[0]).getByRole('button'));
    expect(screen.getAllByTestId('run-row')).toHaveLength(5);
  });

  it('marks status with a badge', () => {
    render(<Harness runs={[makeRun(1, { status: 'RUNNING', end_time: null }), makeRun(2, { status: 'FAILED' })]} columns={[]} />);
    const badges = screen.getAllByTestId('run-row').map((r) => r.querySelector('.badge')!.textContent);
    expect(badges).toEqual(['Running', 'Failed']);
  });
});

describe('ColumnChooser', () => {
  it('filters keys by a search', () => {
    const onChange = vi.fn();
    render(<ColumnChooser keys={{ metrics: ['accuracy', 'loss'], params: ['lr'], tags: [] }} columns={[]} onChange={onChange} />);
    fireEvent.click(screen.getByTestId('column-chooser'));
    fireEvent.change(screen.getByPlaceholderText('Search keys'), { target: { value: 'los' } });
    const panel = screen.getByTestId('column-chooser-panel');
    expect(within(panel).queryByText('accuracy')).toBeNull();
    fireEvent.click(within(panel).getByText('loss').closest('label')!.querySelector('input')!);
    expect(onChange).toHaveBeenCalledWith(['metrics.loss']);
  });
});
