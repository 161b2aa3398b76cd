// A typed client for tane's REST API (/api/v1). See docs/server.md.

export class ApiError extends Error {
  status: number;
  type: string;
  position?: number;

  constructor(status: number, type: string, message: string, position?: number) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.type = type;
    if (position !== undefined) this.position = position;
  }
}

export type RunStatus = 'RUNNING' | 'FINISHED' | 'FAILED' | 'KILLED' | 'CRASHED';

export interface Experiment {
  id: string;
  name: string;
  created: number;
  last_activity: number;
  tags: Record<string, string>;
  deleted: boolean;
  run_count: number;
}

export interface Run {
  id: string;
  name: string;
  experiment_id: string;
  experiment: string;
  status: RunStatus;
  start_time: number;
  end_time: number | null;
  parent_id: string | null;
  params: Record<string, string>;
  metrics: Record<string, number>;
  tags: Record<string, string>;
  note: string;
  artifact_uri: string;
  deleted: boolean;
}

export interface RunPage {
  runs: Run[];
  next_page_token: string | null;
}

export interface MetricPoint {
  key: string;
  value: number;
  step: number;
  timestamp: number;
}

export interface ArtifactInfo {
  path: string;
  is_dir: boolean;
  size: number | null;
}

export interface Me {
  auth: boolean;
  user?: string;
  role?: string;
  via?: string;
  csrf_token?: string | null;
}

export interface ExperimentKeys {
  params: string[];
  metrics: string[];
  tags: string[];
}

export interface SearchRequest {
  experiment_ids?: string[];
  filter?: string;
  order_by?: string[];
  max_results?: number;
  page_token?: string | null;
  view?: 'active' | 'deleted' | 'all';
}

type Query = Record<string, string | number | boolean | undefined | null>;

/** "NaN" / "Infinity" / "-Infinity" (as the server sends them) and numbers to a number. */
export function toNumber(v: number | string | null | undefined): number {
  if (typeof v === 'number') return v;
  if (v === 'NaN' || v == null) return NaN;
  if (v === 'Infinity') return Infinity;
  if (v === '-Infinity') return -Infinity;
  const n = Number(v);
  return Number.isNaN(n) ? NaN : n;
}

/** What to do when the server answers 401: send the browser to the login form. */
/** The server's login form, coming back to this page after the login. */
export function loginUrl(loc: { pathname: string; search: string } = window.location): string {
  return '/login?next=' + encodeURIComponent(loc.pathname + loc.search);
}

let onUnauthorized: () => void = () => window.location.assign(loginUrl());

/** Replace the 401 handler (tests). */
export function setUnauthorizedHandler(handler: () => void): void {
  onUnauthorized = handler;
}

function url(path: string, query?: Query): string {
  let full = path.startsWith('/api/') ? path : '/api/v1' + (path.startsWith('/') ? path : '/' + path);
  if (query) {
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) {
      if (v !== undefined && v !== null && v !== '') params.set(k, String(v));
    }
    const qs = params.toString();
    if (qs) full += (full.includes('?') ? '&' : '?') + qs;
  }
  return full;
}

async function errorOf(res: Response): Promise<ApiError> {
  let type = 'HttpError';
  let message = `${res.status} ${res.statusText || 'error'}`;
  let position: number | undefined;
  try {
    const text = await res.text();
    if (text) {
      try {
        const body = JSON.parse(text) as { error?: { type?: string; message?: string; position?: number } };
        if (body && body.error) {
          type = body.error.type ?? type;
          message = body.error.message ?? message;
          if (typeof body.error.position === 'number') position = body.error.position;
        } else {
          message = text.slice(0, 500);
        }
      } catch {
        message = text.slice(0, 500);
      }
    }
  } catch {
    // body unreadable: keep the status line
  }
  return new ApiError(res.status, type, message, position);
}

/** A promise that never settles: the page is going away. */
function never<T>(): Promise<T> {
  return new Promise<T>(() => undefined);
}

async function request(method: string, path: string, init: { body?: unknown; query?: Query; signal?: AbortSignal; raw?: boolean } = {}): Promise<Response> {
  const headers: Record<string, string> = { Accept: 'application/json' };
  let body: BodyInit | undefined;
  if (init.body !== undefined) {
    headers['Content-Type'] = 'application/json';
    body = JSON.stringify(init.body);
  }
  if (method !== 'GET' && method !== 'HEAD') {
    const me = await api.me();
    if (me.csrf_token) headers['X-CSRF-Token'] = me.csrf_token;
  }
  let res: Response;
  try {
    res = await fetch(url(path, init.query), {
      method,
      headers,
      body,
      signal: init.signal,
      credentials: 'same-origin',
    });
  } catch (err) {
    if ((err as Error)?.name === 'AbortError') throw err;
    throw new ApiError(0, 'NetworkError', `cannot reach the server: ${(err as Error)?.message ?? err}`);
  }
  if (res.status === 401) {
    onUnauthorized();
    return never();
  }
  if (!res.ok) throw await errorOf(res);
  return res;
}

async function json<T>(res: Response): Promise<T> {
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  return (text ? JSON.parse(text) : undefined) as T;
}

export async function getJson<T>(path: string, opts: { signal?: AbortSignal; query?: Query } = {}): Promise<T> {
  return json<T>(await request('GET', path, opts));
}

export async function postJson<T>(path: string, body: unknown, opts: { signal?: AbortSignal } = {}): Promise<T> {
  return json<T>(await request('POST', path, { body, signal: opts.signal }));
}

export async function patchJson<T>(path: string, body: unknown): Promise<T> {
  return json<T>(await request('PATCH', path, { body }));
}

export async function sendDelete(path: string): Promise<void> {
  await request('DELETE', path);
}

interface RawRun extends Omit<Run, 'metrics'> {
  metrics: Record<string, number | string>;
}

/** Convert a run as sent (metric values may be "NaN" strings) to a Run. */
export function normalizeRun(raw: RawRun): Run {
  const metrics: Record<string, number> = {};
  for (const k in raw.metrics) metrics[k] = toNumber(raw.metrics[k]);
  return { ...raw, metrics } as Run;
}

const enc = encodeURIComponent;
/** Encode an artifact or metric path, keeping its slashes. */
function encPath(path: string): string {
  return path.split('/').map(enc).join('/');
}

export function artifactUrl(runId: string, path: string): string {
  return `/api/v1/runs/${enc(runId)}/artifacts/${encPath(path)}`;
}

/**
 * The first `maxBytes` of an artifact file as text (UTF-8), and whether there was more.
 * `binary` is true when the start of the file holds NUL bytes.
 */
export async function fetchArtifactText(
  runId: string,
  path: string,
  maxBytes = 2 * 1024 * 1024,
  signal?: AbortSignal,
): Promise<{ text: string; truncated: boolean; binary: boolean }> {
  const res = await request('GET', artifactUrl(runId, path), { signal });
  const reader = res.body?.getReader();
  if (!reader) {
    const buf = new Uint8Array(await res.arrayBuffer());
    return decode(buf.subarray(0, maxBytes), buf.length > maxBytes);
  }
  const chunks: Uint8Array[] = [];
  let size = 0;
  let truncated = false;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    size += value.length;
    if (size > maxBytes) {
      truncated = true;
      await reader.cancel();
      break;
    }
  }
  const buf = new Uint8Array(Math.min(size, maxBytes));
  let off = 0;
  for (const c of chunks) {
    const take = Math.min(c.length, buf.length - off);
    if (take <= 0) break;
    buf.set(c.subarray(0, take), off);
    off += take;
  }
  return decode(buf, truncated);
}

function decode(buf: Uint8Array, truncated: boolean): { text: string; truncated: boolean; binary: boolean } {
  const head = buf.subarray(0, 8192);
  const binary = head.includes(0);
  return { text: binary ? '' : new TextDecoder('utf-8', { fatal: false }).decode(buf), truncated, binary };
}

let mePromise: Promise<Me> | null = null;
let keysRouteMissing = false;
let bulkRouteMissing = false;
/** The first bulk request while we do not know yet whether the server has the route. */
let bulkProbe: Promise<unknown> | null = null;
let bulkKnown = false;

type RawPoint = { key: string; value: number | string; step: number; timestamp: number };

function points(raw: RawPoint[]): MetricPoint[] {
  const out: MetricPoint[] = new Array(raw.length);
  for (let i = 0; i < raw.length; i++) {
    const p = raw[i];
    out[i] = { key: p.key, value: toNumber(p.value), step: p.step, timestamp: p.timestamp };
  }
  return out;
}

export const api = {
  me(): Promise<Me> {
    if (!mePromise) {
      mePromise = getJson<Me>('/auth/me').catch((err) => {
        mePromise = null;
        // An older server without the route: no auth.
        if (err instanceof ApiError && err.status === 404) return { auth: false };
        throw err;
      });
    }
    return mePromise;
  },
  /** Forget the cached /auth/me answer (tests, logout). */
  resetMe(): void {
    mePromise = null;
    keysRouteMissing = false;
    bulkRouteMissing = false;
    bulkProbe = null;
    bulkKnown = false;
  },
  async experiments(): Promise<Experiment[]> {
    return (await getJson<{ experiments: Experiment[] }>('/experiments')).experiments;
  },
  experiment(idOrName: string): Promise<Experiment> {
    return getJson<Experiment>(`/experiments/${enc(idOrName)}`);
  },
  async run(runId: string): Promise<Run> {
    return normalizeRun(await getJson<RawRun>(`/runs/${enc(runId)}`));
  },
  async searchRuns(req: SearchRequest, signal?: AbortSignal): Promise<RunPage> {
    const page = await postJson<{ runs: RawRun[]; next_page_token: string | null }>('/runs/search', req, { signal });
    return { runs: page.runs.map(normalizeRun), next_page_token: page.next_page_token };
  },
  async children(runId: string, opts: { max_results?: number; page_token?: string } = {}): Promise<RunPage> {
    const page = await getJson<{ runs: RawRun[]; next_page_token: string | null }>(`/runs/${enc(runId)}/children`, {
      query: opts,
    });
    return { runs: page.runs.map(normalizeRun), next_page_token: page.next_page_token };
  },
  async metricHistory(
    runId: string,
    key: string,
    opts: { maxPoints?: number; minStep?: number; maxStep?: number; signal?: AbortSignal } = {},
  ): Promise<MetricPoint[]> {
    const body = await getJson<{ metrics: RawPoint[] }>(`/runs/${enc(runId)}/metrics/${encPath(key)}`, {
      signal: opts.signal,
      query: {
        max_points: opts.maxPoints,
        min_step: opts.minStep !== undefined ? Math.floor(opts.minStep) : undefined,
        max_step: opts.maxStep !== undefined ? Math.ceil(opts.maxStep) : undefined,
      },
    });
    return points(body.metrics);
  },
  /**
   * One metric of several runs. Uses `POST /api/v1/metrics/history` (one request for
   * up to 100 runs) when the server has it, else one request per run.
   */
  async metricHistories(
    runIds: string[],
    key: string,
    opts: { maxPoints?: number; minStep?: number; maxStep?: number; signal?: AbortSignal; perRun?: <T>(task: () => Promise<T>) => Promise<T> } = {},
  ): Promise<Map<string, MetricPoint[]>> {
    const out = new Map<string, MetricPoint[]>();
    const range = {
      max_points: opts.maxPoints ?? null,
      min_step: opts.minStep !== undefined ? Math.floor(opts.minStep) : null,
      max_step: opts.maxStep !== undefined ? Math.ceil(opts.maxStep) : null,
    };
    // Until one answer says whether the server has the bulk route, other charts wait for it
    // rather than each asking (and each being refused).
    if (!bulkKnown && bulkProbe && runIds.length > 1) await bulkProbe.catch(() => undefined);
    if (!bulkRouteMissing && runIds.length > 1) {
      try {
        const chunks: string[][] = [];
        for (let i = 0; i < runIds.length; i += 100) chunks.push(runIds.slice(i, i + 100));
        const pending = Promise.all(
          chunks.map((ids) =>
            postJson<{ histories: Record<string, RawPoint[]> }>('/metrics/history', { run_ids: ids, key, ...range }, { signal: opts.signal }),
          ),
        );
        if (!bulkKnown && !bulkProbe) bulkProbe = pending;
        const answers = await pending;
        bulkKnown = true;
        for (const a of answers) for (const id in a.histories) out.set(id, points(a.histories[id]));
        for (const id of runIds) if (!out.has(id)) out.set(id, []);
        return out;
      } catch (err) {
        if (!(err instanceof ApiError && (err.status === 404 || err.status === 405))) throw err;
        bulkRouteMissing = true;
        bulkKnown = true;
      }
    }
    const run = opts.perRun ?? (<T,>(task: () => Promise<T>) => task());
    const results = await Promise.all(
      runIds.map((id) =>
        run(() =>
          opts.signal?.aborted
            ? Promise.resolve([] as MetricPoint[])
            : api.metricHistory(id, key, { maxPoints: opts.maxPoints, minStep: opts.minStep, maxStep: opts.maxStep, signal: opts.signal }),
        ).then(
          (pts) => pts,
          (e: Error) => {
            // one run: its error is the answer; several: the others still draw
            if (e?.name === 'AbortError' || runIds.length === 1) throw e;
            return [] as MetricPoint[];
          },
        ),
      ),
    );
    runIds.forEach((id, i) => out.set(id, results[i]));
    return out;
  },
  async artifacts(runId: string, path = ''): Promise<ArtifactInfo[]> {
    return (await getJson<{ artifacts: ArtifactInfo[] }>(`/runs/${enc(runId)}/artifacts`, { query: { path } })).artifacts;
  },
  async updateRun(runId: string, patch: { name?: string; note?: string; status?: string }): Promise<Run> {
    return normalizeRun(await patchJson<RawRun>(`/runs/${enc(runId)}`, patch));
  },
  async setTags(runId: string, tags: Record<string, string>): Promise<void> {
    await postJson<void>(`/runs/${enc(runId)}/batch`, { tags });
  },
  deleteTag(runId: string, key: string): Promise<void> {
    return sendDelete(`/runs/${enc(runId)}/tags/${encPath(key)}`);
  },
  /** The param, metric and tag names of an experiment; null when the server has no such route. */
  async experimentKeys(experimentId: string): Promise<ExperimentKeys | null> {
    if (keysRouteMissing) return null;
    try {
      return await getJson<ExperimentKeys>(`/experiments/${enc(experimentId)}/keys`);
    } catch (err) {
      if (err instanceof ApiError && (err.status === 404 || err.status === 405)) {
        if (err.type !== 'ExperimentNotFound') keysRouteMissing = true;
        return null;
      }
      throw err;
    }
  },
};

/** Fetch every run matching a search, page by page (pages of up to 5,000). */
export async function searchAllRuns(
  req: SearchRequest,
  opts: { signal?: AbortSignal; pageSize?: number; limit?: number; onPage?: (runs: Run[], done: boolean) => void } = {},
): Promise<Run[]> {
  const all: Run[] = [];
  let token: string | null = null;
  const pageSize = opts.pageSize ?? 5000;
  const limit = opts.limit ?? Infinity;
  for (;;) {
    const page: RunPage = await api.searchRuns(
      { ...req, max_results: Math.min(pageSize, limit - all.length), page_token: token },
      opts.signal,
    );
    for (const r of page.runs) all.push(r);
    token = page.next_page_token;
    const done = !token || all.length >= limit;
    opts.onPage?.(all, done);
    if (done) return all;
  }
}
