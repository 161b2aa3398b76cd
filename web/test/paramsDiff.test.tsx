import { fireEvent, render, screen } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { MetricsCompare, ParamsDiff } from '../src/components/ParamsDiff';
import { differingParams } from '../src/lib/columns';
import { makeRun } from './fixtures';

const runs = [
  makeRun(1, { params: { lr: '0.1', model: 'lgbm', seed: '0' } }),
  makeRun(2, { params: { lr: '0.01', model: 'lgbm', seed: '0' } }),
  makeRun(3, { params: { lr: '0.1', model: 'lgbm', seed: '0', extra: 'x' } }),
];
const color = () => '#000';
const rows = () => Array.from(screen.getByTestId('params-diff').querySelectorAll('tbody tr[data-param]')).map((r) => r.getAttribute('data-param'));

describe('differingParams', () => {
  it('lists the params whose values differ, a missing value counting as a value', () => {
    expect(differingParams(runs)).toEqual(['extra', 'lr']);
    expect(differingParams(runs.slice(0, 1))).toEqual([]);
  });
});

describe('ParamsDiff', () => {
  it('shows only the params that differ, with a column per run', () => {
    render(<ParamsDiff runs={runs} colorOf={color} />);
    expect(rows()).toEqual(['extra', 'lr']);
    const table = screen.getByTestId('params-diff');
    expect(table.querySelectorAll('thead th')).toHaveLength(4);
    const lr = table.querySelector('tr[data-param="lr"]')!;
    expect(Array.from(lr.querySelectorAll('td')).map((td) => td.textContent)).toEqual(['lr', '0.1', '0.01', '0.1']);
    const extra = table.querySelector('tr[data-param="extra"]')!;
    expect(Array.from(extra.querySelectorAll('td')).map((td) => td.textContent)).toEqual(['extra', '—', '—', 'x']);
    expect(screen.getByText(/2 params differ, 2 the same/)).toBeTruthy();
  });

  it('shows every param on demand', () => {
    render(<ParamsDiff runs={runs} colorOf={color} />);
    fireEvent.click(screen.getByTestId('params-diff-all'));
    expect(rows()).toEqual(['extra', 'lr', 'model', 'seed']);
  });

  it('says so when every run has the same params', () => {
    render(<ParamsDiff runs={[runs[0], { ...runs[0], id: 'other' }]} colorOf={color} />);
    expect(screen.getByText('Every run has the same params.')).toBeTruthy();
  });
});

describe('MetricsCompare', () => {
  it('marks the best value of each metric (lowest for losses)', () => {
    const rs = [makeRun(1, { metrics: { accuracy: 0.8, loss: 0.3 } }), makeRun(2, { metrics: { accuracy: 0.9, loss: 0.5 } })];
    render(<MetricsCompare runs={rs} colorOf={color} />);
    const best = Array.from(screen.getByTestId('metrics-compare').querySelectorAll('td.best')).map((td) => td.textContent);
    expect(best).toEqual(['0.9', '0.3']);
  });
});
