import { render, screen } from '@testing-library/react';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { api } from '../src/api';
import { MetricChart, pointsPerRun } from '../src/components/MetricChart';

const json = (body: unknown, status = 200) => new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } });
let urls: string[];

beforeEach(() => {
  api.resetMe();
  urls = [];
  vi.stubGlobal(
    'fetch',
    vi.fn(async (url: string, init: RequestInit) => {
      urls.push(`${init.method} ${url}`);
      if (url === '/api/v1/auth/me') return json({ auth: false });
      if (url === '/api/v1/metrics/history') return json({ error: { type: 'NotFound', message: 'no route' } }, 404);
      const m = url.match(/\/runs\/(\w+)\/metrics\/acc/);
      return json({ metrics: [{ key: 'acc', value: m![1] === 'a' ? 0.9 : 'NaN', step: 3, timestamp: 1_700_000_000_000 }] });
    }),
  );
});
afterEach(() => vi.unstubAllGlobals());

describe('MetricChart', () => {
  it('asks the server for about 2,000 points of one run, fewer per run for many', () => {
    expect(pointsPerRun(1)).toBe(2000);
    expect(pointsPerRun(100)).toBe(250);
    expect(pointsPerRun(4)).toBe(1000);
  });

  it('shows a metric logged once as its value', async () => {
    render(<MetricChart metricKey="acc" runs={[{ id: 'a', label: 'run a', color: '#000' }]} />);
    const box = await screen.findByTestId('metric-values');
    expect(box.textContent).toContain('0.9');
    expect(urls).toContain('GET /api/v1/runs/a/metrics/acc?max_points=2000');
  });

  it('falls back to one request per run without the bulk route, and draws bars', async () => {
    render(
      <MetricChart
        metricKey="acc"
        runs={[
          { id: 'a', label: 'run a', color: '#000' },
          { id: 'b', label: 'run b', color: '#111' },
        ]}
      />,
    );
    const box = await screen.findByTestId('metric-values');
    expect(box.querySelectorAll('.bar-row')).toHaveLength(2);
    expect(box.textContent).toContain('NaN');
    expect(urls).toEqual(
      expect.arrayContaining(['POST /api/v1/metrics/history', 'GET /api/v1/runs/a/metrics/acc?max_points=1414', 'GET /api/v1/runs/b/metrics/acc?max_points=1414']),
    );
  });
});
