import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { api, ApiError, getJson, loginUrl, searchAllRuns, setUnauthorizedHandler, toNumber } from '../src/api';

type Call = { url: string; init: RequestInit };
let calls: Call[];

function respond(handler: (url: string, init: RequestInit) => Response | Promise<Response>) {
  calls = [];
  vi.stubGlobal(
    'fetch',
    vi.fn(async (url: string, init: RequestInit) => {
      calls.push({ url, init });
      return handler(url, init);
    }),
  );
}

const json = (body: unknown, status = 200) => new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } });

beforeEach(() => {
  api.resetMe();
});
afterEach(() => {
  vi.unstubAllGlobals();
});

describe('toNumber', () => {
  it('reads the strings the server sends for non-finite values', () => {
    expect(toNumber('NaN')).toBeNaN();
    expect(toNumber('Infinity')).toBe(Infinity);
    expect(toNumber('-Infinity')).toBe(-Infinity);
    expect(toNumber(0.5)).toBe(0.5);
  });
});

describe('errors', () => {
  it('rejects with the type and message of a tane error body', async () => {
    respond(() => json({ error: { type: 'RunNotFound', message: "no run with id 'x'" } }, 404));
    const err = await getJson('/runs/x').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).status).toBe(404);
    expect((err as ApiError).type).toBe('RunNotFound');
    expect((err as ApiError).message).toBe("no run with id 'x'");
    expect(calls[0].url).toBe('/api/v1/runs/x');
  });

  it('keeps the position of an InvalidFilter', async () => {
    respond((url) =>
      url.endsWith('/auth/me') ? json({ auth: false }) : json({ error: { type: 'InvalidFilter', message: 'bad', position: 7 } }, 400),
    );
    const err = (await api.searchRuns({ filter: 'metrics.' }).catch((e: unknown) => e)) as ApiError;
    expect(err.type).toBe('InvalidFilter');
    expect(err.position).toBe(7);
  });

  it('reports an answer without a tane body by its status', async () => {
    respond(() => new Response('Bad gateway', { status: 502, statusText: 'Bad Gateway' }));
    const err = (await getJson('/experiments').catch((e: unknown) => e)) as ApiError;
    expect(err.status).toBe(502);
    expect(err.type).toBe('HttpError');
    expect(err.message).toContain('Bad gateway');
  });

  it('reports a network failure as status 0', async () => {
    vi.stubGlobal('fetch', vi.fn(async () => Promise.reject(new TypeError('Failed to fetch'))));
    const err = (await getJson('/experiments').catch((e: unknown) => e)) as ApiError;
    expect(err.status).toBe(0);
    expect(err.type).toBe('NetworkError');
  });

  it('sends the browser to the login page on 401', async () => {
    const onUnauthorized = vi.fn();
    setUnauthorizedHandler(onUnauthorized);
    respond(() => json({ error: { type: 'NotAuthenticated', message: 'log in' } }, 401));
    let settled = false;
    void getJson('/experiments').then(
      () => (settled = true),
      () => (settled = true),
    );
    await new Promise((r) => setTimeout(r, 20));
    expect(onUnauthorized).toHaveBeenCalledTimes(1);
    expect(settled).toBe(false);
  });

  it('sends to /login?next=<the current path and query>', () => {
    expect(loginUrl({ pathname: '/experiments/3', search: '?filter=a' })).toBe('/login?next=%2Fexperiments%2F3%3Ffilter%3Da');
  });
});

describe('CSRF', () => {
  it('sends X-CSRF-Token on writes when the session has one', async () => {
    respond((url) => (url.endsWith('/auth/me') ? json({ auth: true, user: 'alice', via: 'session', csrf_token: 'tok123' }) : json({ runs: [], next_page_token: null })));
    await api.searchRuns({ filter: '' });
    const post = calls.find((c) => c.url === '/api/v1/runs/search')!;
    expect((post.init.headers as Record<string, string>)['X-CSRF-Token']).toBe('tok123');
    expect(post.init.method).toBe('POST');
    expect(post.init.credentials).toBe('same-origin');
  });

  it('sends no token without auth, and none on reads', async () => {
    respond((url) => (url.endsWith('/auth/me') ? json({ auth: false }) : json({ experiments: [] })));
    await api.experiments();
    await api.setTags('r1', { a: 'b' }).catch(() => undefined);
    for (const c of calls) expect((c.init.headers as Record<string, string>)['X-CSRF-Token']).toBeUndefined();
  });
});

describe('values', () => {
  it('turns "NaN" and "Infinity" metric values into numbers', async () => {
    respond((url) =>
      url.endsWith('/auth/me')
        ? json({ auth: false })
        : url.includes('/metrics/')
          ? json({ metrics: [{ key: 'loss', value: 'NaN', step: 0, timestamp: 1 }, { key: 'loss', value: '-Infinity', step: 1, timestamp: 2 }, { key: 'loss', value: 0.5, step: 2, timestamp: 3 }] })
          : json({ runs: [{ id: 'r', metrics: { a: 'Infinity', b: 1 }, params: {}, tags: {} }], next_page_token: null }),
    );
    const page = await api.searchRuns({});
    expect(page.runs[0].metrics.a).toBe(Infinity);
    expect(page.runs[0].metrics.b).toBe(1);
    const pts = await api.metricHistory('r', 'loss', { maxPoints: 2000, minStep: 1.2, maxStep: 9.5 });
    expect(pts.map((p) => p.value)).toEqual([NaN, -Infinity, 0.5]);
    const url = calls.find((c) => c.url.includes('/metrics/'))!.url;
    expect(url).toBe('/api/v1/runs/r/metrics/loss?max_points=2000&min_step=1&max_step=10');
  });

  it('keeps the slashes of metric keys in the path', async () => {
    respond(() => json({ metrics: [] }));
    await api.metricHistory('r', 'system/cpu percent');
    expect(calls[0].url).toBe('/api/v1/runs/r/metrics/system/cpu%20percent');
  });
});

describe('searchAllRuns', () => {
  it('follows next_page_token until the end', async () => {
    respond((url, init) => {
      if (url.endsWith('/auth/me')) return json({ auth: false });
      const body = JSON.parse(String(init.body));
      if (!body.page_token) return json({ runs: [{ id: 'a', metrics: {} }, { id: 'b', metrics: {} }], next_page_token: 't1' });
      return json({ runs: [{ id: 'c', metrics: {} }], next_page_token: null });
    });
    const pages: number[] = [];
    const runs = await searchAllRuns({ experiment_ids: ['1'] }, { pageSize: 2, onPage: (all) => pages.push(all.length) });
    expect(runs.map((r) => r.id)).toEqual(['a', 'b', 'c']);
    expect(pages).toEqual([2, 3]);
    const bodies = calls.filter((c) => c.url.endsWith('/runs/search')).map((c) => JSON.parse(String(c.init.body)));
    expect(bodies[0]).toMatchObject({ experiment_ids: ['1'], max_results: 2, page_token: null });
    expect(bodies[1].page_token).toBe('t1');
  });
});

describe('experimentKeys', () => {
  it('answers null when the server has no keys route', async () => {
    respond(() => json({ error: { type: 'NotFound', message: 'no route' } }, 404));
    expect(await api.experimentKeys('1')).toBeNull();
  });

  it('returns the keys when the route answers', async () => {
    respond(() => json({ params: ['lr'], metrics: ['loss'], tags: [] }));
    expect(await api.experimentKeys('1')).toEqual({ params: ['lr'], metrics: ['loss'], tags: [] });
    expect(calls[0].url).toBe('/api/v1/experiments/1/keys');
  });
});
