import { act, fireEvent, render, screen, waitFor, within } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { experiment, stubFetch } from '../pipeline/testFetch';
import maximize from './fixtures/sweep_maximize.json';
import multi from './fixtures/sweep_multi.json';
import pruned from './fixtures/sweep_pruned_failed.json';
import { buildAxes, goodnessColor, inBrushes } from './ParallelCoords';
import { POLL_MS, SweepView } from './SweepView';
import { trialValue } from './sweepmath';
import type { SweepResponse } from './types';

const MAX = maximize as unknown as SweepResponse;
const MIN = pruned as unknown as SweepResponse;
const MULTI = multi as unknown as SweepResponse;

function routes(s: SweepResponse, sweep: unknown = s) {
  return {
    [`/api/v1/runs/${s.run_id}/sweep`]: sweep,
    [`/api/v1/experiments/${s.experiment_id}`]: experiment(s.experiment_id, 'exp'),
  };
}

async function renderView(s: SweepResponse) {
  render(<SweepView runId={s.run_id} />);
  await waitFor(() => expect(screen.getByTestId('sweep-view').getAttribute('data-ready')).toBe('true'));
}

const rows = () => screen.getAllByTestId('trial-row');
const numbers = () => rows().map((r) => Number(r.getAttribute('data-number')));

afterEach(() => {
  vi.useRealTimers();
  vi.unstubAllGlobals();
});

describe('SweepView', () => {
  it('shows the header, history, importances and every trial of a finished sweep', async () => {
    stubFetch(routes(MAX));
    await renderView(MAX);
    expect(screen.getByTestId('sweep-objective').textContent).toBe('maximize accuracy');
    expect(screen.getByTestId('count-COMPLETE').textContent).toBe('20');
    expect(screen.getByTestId('best-trial-link').getAttribute('href')).toBe(`/runs/${MAX.best_trial!.run_id}`);
    expect(rows()).toHaveLength(20);
    expect(rows().every((r) => r.getAttribute('data-state') === 'COMPLETE')).toBe(true);
    expect(within(rows()[0]).getByText('Complete')).toBeTruthy();
    const best = rows().find((r) => r.classList.contains('sw-best-row'))!;
    expect(best.getAttribute('data-number')).toBe(String(MAX.best_trial!.number));
    const history = screen.getByTestId('sweep-history');
    expect(within(history as unknown as HTMLElement).getAllByTestId('history-point')).toHaveLength(20);
    expect(screen.getByTestId('history-best-line')).toBeTruthy();
    const bars = within(screen.getByTestId('sweep-importances')).getAllByTestId('importance-bar');
    expect(bars.map((b) => b.getAttribute('data-param'))).toEqual(['model.learning_rate', 'model.num_leaves']);
    expect(bars[0].textContent).toContain('99%');
    const widths = bars.map((b) => (b.querySelector('.sw-imp-bar') as HTMLElement).style.width);
    expect(widths[0]).toBe('100%');
    expect(parseFloat(widths[1])).toBeLessThan(2);
    // Runs link to their pages.
    const link = within(rows()[0]).getByText(MAX.trials[0].run_name);
    expect(link.getAttribute('href')).toBe(`/runs/${MAX.trials[0].run_id}`);
    expect(screen.getByTestId('sweep-parallel').querySelectorAll('[data-testid="pc-line"]')).toHaveLength(20);
  });

  it('badges every state and draws pruned and failed trials apart', async () => {
    stubFetch(routes(MIN));
    await renderView(MIN);
    const states = rows().map((r) => r.getAttribute('data-state'));
    expect(states.filter((s) => s === 'COMPLETE')).toHaveLength(MIN.counts.COMPLETE);
    expect(states.filter((s) => s === 'PRUNED')).toHaveLength(MIN.counts.PRUNED);
    expect(states.filter((s) => s === 'FAILED')).toHaveLength(MIN.counts.FAILED);
    const failed = rows().find((r) => r.getAttribute('data-state') === 'FAILED')!;
    expect(within(failed).getByText('Failed')).toBeTruthy();
    expect(failed.textContent).toContain('diverged');
    const prunedRow = rows().find((r) => r.getAttribute('data-state') === 'PRUNED')!;
    expect(within(prunedRow).getByText('Pruned')).toBeTruthy();
    expect(prunedRow.textContent).toMatch(/pruned after \d+ reports/);
    const points = screen.getAllByTestId('history-point');
    expect(points.filter((p) => p.getAttribute('data-state') === 'PRUNED')).toHaveLength(MIN.counts.PRUNED);
    expect(points.filter((p) => p.getAttribute('data-state') === 'COMPLETE')).toHaveLength(MIN.counts.COMPLETE);
    expect(screen.getAllByTestId('history-mark').filter((m) => m.getAttribute('data-state') === 'FAILED')).toHaveLength(MIN.counts.FAILED);
    // The pruned toggle hides them.
    fireEvent.click(screen.getByLabelText(/Pruned/, { selector: 'input' }));
    expect(screen.getAllByTestId('history-point')).toHaveLength(MIN.counts.COMPLETE);
  });

  it('sorts the trials by value, best first, and filters them by state', async () => {
    stubFetch(routes(MIN));
    await renderView(MIN);
    expect(numbers()).toEqual([...numbers()].sort((a, b) => a - b));
    fireEvent.click(screen.getByTestId('sort-value:0'));
    const values = () => rows().map((r) => {
      const t = MIN.trials.find((x) => String(x.number) === r.getAttribute('data-number'))!;
      return trialValue(t);
    });
    const asc = values();
    const complete = asc.filter((v) => v !== null) as number[];
    expect(complete).toEqual([...complete].sort((a, b) => a - b));
    expect(asc.slice(complete.length).every((v) => v === null)).toBe(true);
    expect(rows()[0].getAttribute('data-number')).toBe(String(MIN.best_trial!.number));
    fireEvent.click(screen.getByTestId('sort-value:0'));
    const desc = values().filter((v) => v !== null) as number[];
    expect(desc).toEqual([...desc].sort((a, b) => b - a));
    fireEvent.click(screen.getByTestId('sort-best'));
    expect(rows()[0].getAttribute('data-number')).toBe(String(MIN.best_trial!.number));
    fireEvent.click(screen.getByTestId('filter-PRUNED'));
    expect(rows()).toHaveLength(MIN.counts.PRUNED);
    expect(rows().every((r) => r.getAttribute('data-state') === 'PRUNED')).toBe(true);
  });

  it('switches the history to a log scale only for positive values', async () => {
    stubFetch(routes(MIN));
    await renderView(MIN);
    const box = screen.getByTestId('history-log') as HTMLInputElement;
    expect(box.disabled).toBe(false);
    fireEvent.click(box);
    expect(screen.getByTestId('sweep-history').textContent).toContain('(log)');
  });

  it('draws the Pareto front of several objectives', async () => {
    stubFetch(routes(MULTI));
    await renderView(MULTI);
    const pts = screen.getAllByTestId('pareto-point');
    expect(pts).toHaveLength(MULTI.counts.COMPLETE);
    expect(pts.filter((p) => p.getAttribute('data-front') === 'true')).toHaveLength(MULTI.pareto_front.length);
    expect(screen.queryByTestId('history-best-line')).toBeNull();
    expect(screen.queryByTestId('sweep-best')).toBeNull();
    expect(screen.getByTestId('sweep-importances').textContent).toContain('Could not be computed');
  });

  it('filters the trials table by a brush on the parallel coordinates', async () => {
    stubFetch(routes(MIN));
    await renderView(MIN);
    const axes = buildAxes(MIN);
    const objective = axes.findIndex((a) => a.id === 'value:0');
    const hit = screen.getAllByTestId('pc-axis-hit')[objective];
    // Nothing is laid out in jsdom: y is measured from the svg's top (0); the plot spans 44..318.
    fireEvent.pointerDown(hit, { clientY: 44, pointerId: 1 });
    fireEvent.pointerMove(hit, { clientY: 44 + 274 / 2, pointerId: 1 });
    fireEvent.pointerUp(hit, { clientY: 44 + 274 / 2, pointerId: 1 });
    const expected = MIN.trials.filter((t) => inBrushes(t, axes, { 'value:0': [0.5, 1] }));
    expect(expected.length).toBeGreaterThan(0);
    expect(rows()).toHaveLength(expected.length);
    expect(screen.getByTestId('sweep-parallel').querySelectorAll('[data-inside="true"]')).toHaveLength(expected.length);
    fireEvent.click(screen.getByTestId('clear-brushes'));
    expect(rows()).toHaveLength(MIN.trials.length);
  });

  it('polls while the sweep runs and stops when it ends', async () => {
    vi.useFakeTimers({ shouldAdvanceTime: true });
    const running: SweepResponse = {
      ...MAX,
      status: 'RUNNING',
      end_time: null,
      finished: false,
      importances: null,
      trials: MAX.trials.slice(0, 10),
      counts: { COMPLETE: 10, PRUNED: 0, FAILED: 0, RUNNING: 0 },
    };
    const { calls } = stubFetch(routes(MAX, (n: number) => (n === 1 ? running : MAX)));
    await renderView(MAX);
    expect(rows()).toHaveLength(10);
    expect(screen.getByTestId('sweep-importances').textContent).toContain('Computed when the sweep ends');
    await act(async () => {
      await vi.advanceTimersByTimeAsync(POLL_MS + 50);
    });
    await waitFor(() => expect(rows()).toHaveLength(20));
    await act(async () => {
      await vi.advanceTimersByTimeAsync(POLL_MS * 3);
    });
    expect(calls.get(`/api/v1/runs/${MAX.run_id}/sweep`)).toBe(2);
  });

  it('reports a run that is not a sweep', async () => {
    stubFetch({ '/api/v1/runs/x/sweep': { status: 404, body: { error: { type: 'NotFound', message: 'run x is not a sweep' } } } });
    render(<SweepView runId="x" />);
    expect((await screen.findByRole('alert')).textContent).toContain('not a sweep');
  });
});

describe('colour scale', () => {
  it('goes from blue (best) to orange (worst)', () => {
    expect(goodnessColor(1)).toBe('rgb(37,99,235)');
    expect(goodnessColor(0)).toBe('rgb(232,116,59)');
    expect(goodnessColor(2)).toBe(goodnessColor(1));
  });
});
