// A fetch double for the component tests: answers paths under /api/v1 from fixtures.
import { vi } from 'vitest';

export type Answer = unknown | { status: number; body: unknown };

function isStatus(a: unknown): a is { status: number; body: unknown } {
  return typeof a === 'object' && a !== null && 'status' in a && 'body' in a && Object.keys(a).length === 2;
}

/** Stub the global fetch; `routes` maps a path (without the query) to a body or a function of the call count. */
export function stubFetch(routes: Record<string, Answer | ((n: number) => Answer)>) {
  const calls = new Map<string, number>();
  const fn = vi.fn(async (input: RequestInfo | URL) => {
    const raw = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    const path = decodeURIComponent(new URL(raw, 'http://localhost').pathname);
    const n = (calls.get(path) ?? 0) + 1;
    calls.set(path, n);
    const route = routes[path];
    let answer: Answer = typeof route === 'function' ? (route as (n: number) => Answer)(n) : route;
    if (answer === undefined) answer = { status: 404, body: { error: { type: 'NotFound', message: `no route ${path}` } } };
    const { status, body } = isStatus(answer) ? answer : { status: 200, body: answer };
    return new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } });
  });
  vi.stubGlobal('fetch', fn);
  return { fn, calls };
}

export const experiment = (id: string, name: string) => ({
  id,
  name,
  created: 0,
  last_activity: 0,
  tags: {},
  deleted: false,
  run_count: 1,
});
