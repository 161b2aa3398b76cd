import { act, fireEvent, render, screen } from '@testing-library/react';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { api } from '../src/api';
import { RunsView } from '../src/views/runs/RunsView';
import { makeRuns } from './fixtures';

const json = (body: unknown, status = 200) => new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } });

describe('RunsView', () => {
  let searches: { filter: string; page_token: string | null }[];
  beforeEach(() => {
    api.resetMe();
    searches = [];
    window.history.replaceState(null, '', '/experiments/1');
    const runs = makeRuns(7000);
    vi.stubGlobal(
      'fetch',
      vi.fn(async (url: string, init: RequestInit) => {
        if (url === '/api/v1/auth/me') return json({ auth: false });
        if (url === '/api/v1/experiments/1') return json({ id: '1', name: 'exp', created: 0, last_activity: 0, tags: {}, deleted: false, run_count: 7000 });
        if (url === '/api/v1/experiments/1/keys') return json({ error: { type: 'NotFound', message: 'no route' } }, 404);
        if (url.startsWith('/api/v1/experiments/1/datasets')) return json({ datasets: [] });
        if (url === '/api/v1/runs/search') {
          const body = JSON.parse(String(init.body));
          searches.push({ filter: body.filter, page_token: body.page_token });
          if (body.filter === 'metrics.oops >') return json({ error: { type: 'InvalidFilter', message: 'expected a value\nmetrics.oops >\n              ^', position: 14 } }, 400);
          const start = body.page_token ? Number(body.page_token) : 0;
          const page = runs.slice(start, start + body.max_results);
          const next = start + body.max_results < runs.length ? String(start + body.max_results) : null;
          return json({ runs: page, next_page_token: next });
        }
        return json({ error: { type: 'NotFound', message: url } }, 404);
      }),
    );
  });
  afterEach(() => {
    vi.unstubAllGlobals();
  });

  it('loads every page, shows a window of rows and completes keys from the runs', async () => {
    render(<RunsView experimentId="1" />);
    await screen.findByText(/7,000 runs/);
    expect(searches.map((s) => s.page_token)).toEqual([null, '5000']);
    expect(screen.getAllByTestId('run-row').length).toBeLessThan(60);
    const input = screen.getByTestId('run-filter') as HTMLInputElement;
    fireEvent.focus(input);
    fireEvent.change(input, { target: { value: 'metrics.acc', selectionStart: 11 } });
    const list = screen.getByTestId('filter-suggestions');
    expect(Array.from(list.querySelectorAll('[role=option]')).map((o) => o.textContent)).toEqual([expect.stringContaining('metrics.accuracy')]);
  });

  it('puts the filter in the URL and shows the server error of a bad one', async () => {
    render(<RunsView experimentId="1" />);
    await screen.findByText(/7,000 runs/);
    const input = screen.getByTestId('run-filter') as HTMLInputElement;
    fireEvent.change(input, { target: { value: 'metrics.oops >', selectionStart: 14 } });
    await act(async () => {
      fireEvent.keyDown(input, { key: 'Enter' });
    });
    expect(new URLSearchParams(window.location.search).get('filter')).toBe('metrics.oops >');
    const err = await screen.findByTestId('filter-error');
    expect(err.textContent).toContain('expected a value');
  });

  it('enables Compare with two runs selected and keeps the selection in the URL', async () => {
    render(<RunsView experimentId="1" />);
    await screen.findByText(/7,000 runs/);
    const button = screen.getByTestId('compare-button') as HTMLButtonElement;
    expect(button.disabled).toBe(true);
    const rows = screen.getAllByTestId('run-row');
    fireEvent.click(rows[0].querySelector('.rt-select')!);
    fireEvent.click(rows[1].querySelector('.rt-select')!);
    expect(new URLSearchParams(window.location.search).get('sel')).toBe('run00000,run00001');
    expect(button.disabled).toBe(false);
    fireEvent.click(button);
    expect(window.location.pathname).toBe('/compare');
    expect(new URLSearchParams(window.location.search).get('runs')).toBe('run00000,run00001');
  });
});
