// One dataset of an experiment: its versions (contents), and every run that read or wrote it.
import { useEffect, useMemo, useRef, useState } from 'react';
import { api, getJson } from '../../api';
import { ErrorBox } from '../../components/ErrorBox';
import { StatusBadge } from '../../components/StatusBadge';
import { seriesColor } from '../../lib/chart';
import { useCrumbs } from '../../lib/crumbs';
import { formatRelative, formatTime } from '../../lib/format';
import { useAsync } from '../../lib/useAsync';
import { useReady } from '../../lib/ready';
import { Link } from '../../lib/router';
import { useWidth } from '../sweep/useWidth';
import type { DatasetResponse, DatasetUse, DatasetVersion } from './types';
import './pipeline.css';

const USES_PAGE = 100;
const RUNS_SHOWN = 3;

/** The key of a content: hash and version (a null hash is content that cannot be known). */
export function versionKey(v: { hash: string | null; version: string | null }): string {
  return `${v.hash ?? ''}|${v.version ?? ''}`;
}

/** A short label for a content: the version if versioned, else the hash's first 12 characters. */
export function versionLabel(v: { hash: string | null; version: string | null }): string {
  if (v.version) return v.version;
  if (v.hash) return v.hash.slice(0, 12);
  return 'unknown content';
}

/** The uses of each run once (a run may read and write it): the runs, newest first. */
export function distinctRuns(uses: DatasetUse[]): DatasetUse[] {
  const seen = new Set<string>();
  const out: DatasetUse[] = [];
  for (const u of uses) {
    if (seen.has(u.run_id)) continue;
    seen.add(u.run_id);
    out.push(u);
  }
  return out;
}

function pipelineLink(u: DatasetUse): string {
  return `/runs/${encodeURIComponent(u.run_id)}/pipeline?node=${encodeURIComponent(u.node)}`;
}

export function DatasetView({ experimentId, name }: { experimentId: string; name: string }) {
  const { data, error } = useAsync(
    (signal) =>
      getJson<DatasetResponse>(`/experiments/${encodeURIComponent(experimentId)}/datasets/${encodeURIComponent(name)}`, {
        signal,
      }),
    [experimentId, name],
  );
  const [experimentName, setExperimentName] = useState<string | null>(null);
  useEffect(() => {
    let live = true;
    api.experiment(experimentId).then(
      (e) => live && setExperimentName(e.name),
      () => undefined,
    );
    return () => {
      live = false;
    };
  }, [experimentId]);
  useCrumbs([
    { label: experimentName ?? experimentId, to: `/experiments/${encodeURIComponent(experimentId)}` },
    { label: `Dataset ${name}` },
  ]);

  const colors = useMemo(() => {
    const m = new Map<string, string>();
    // Oldest content first so that colours stay put as new versions arrive.
    const vs = data ? [...data.versions].reverse() : [];
    vs.forEach((v, i) => m.set(versionKey(v), seriesColor(i)));
    return m;
  }, [data]);

  const ready = !!data;
  useReady(ready);

  if (error) {
    return (
      <div className="page">
        <ErrorBox error={error} title={`No dataset ${name}`} />
      </div>
    );
  }
  if (!data) {
    return (
      <div className="loading">
        <span className="spinner" /> Loading the dataset…
      </div>
    );
  }
  const runs = distinctRuns(data.uses);
  const writes = data.uses.filter((u) => u.direction === 'write').length;
  return (
    <div className="page dataset-view" data-ready="true" data-testid="dataset-view">
      <div className="page-head">
        <div>
          <h1>
            <span className="muted pv-kicker">Dataset</span> <span className="mono-title">{data.name}</span>
          </h1>
          <div className="dv-meta">
            <span className="badge badge-neutral">{data.kind}</span>
            {data.type && <span className="mono">{data.type}</span>}
            {data.layer && <span>layer {data.layer}</span>}
            <span>·</span>
            <span>
              {data.versions.length} {data.versions.length === 1 ? 'version' : 'versions'} · {runs.length}{' '}
              {runs.length === 1 ? 'run' : 'runs'} · {writes} {writes === 1 ? 'write' : 'writes'},{' '}
              {data.uses.length - writes} {data.uses.length - writes === 1 ? 'read' : 'reads'}
            </span>
          </div>
          {data.truncated && (
            <div className="faint" style={{ marginTop: 4 }}>
              Only the newest {data.runs_scanned} pipeline runs of the experiment were read.
            </div>
          )}
        </div>
      </div>
      <div className="stack">
        <section className="panel">
          <div className="panel-title">
            Versions <span className="muted">newest first</span>
          </div>
          {data.versions.length === 0 ? (
            <div className="empty">No version recorded.</div>
          ) : (
            <div className="dv-table-wrap">
              <table className="table" data-testid="dataset-versions">
                <thead>
                  <tr>
                    <th>Version</th>
                    <th>Paths</th>
                    <th>Seen</th>
                    <th>Written by</th>
                    <th>Read by</th>
                  </tr>
                </thead>
                <tbody>
                  {data.versions.map((v, i) => (
                    <VersionRow key={versionKey(v)} v={v} color={colors.get(versionKey(v))!} latest={i === 0} />
                  ))}
                </tbody>
              </table>
            </div>
          )}
        </section>
        <section className="panel">
          <div className="panel-title">
            Uses <span className="muted">every read and write, newest run first</span>
          </div>
          {data.uses.length > 1 && <Timeline uses={data.uses} colors={colors} />}
          <UsesTable uses={data.uses} colors={colors} />
        </section>
      </div>
    </div>
  );
}

function VersionHash({ v, color }: { v: { hash: string | null; version: string | null }; color?: string }) {
  return (
    <span className="dv-hash" title={v.hash ?? 'content not known (SQL, APIs)'}>
      {color && <span className="dv-swatch" style={{ background: color }} />}
      {v.version ? (
        <span>
          {v.version}
          {v.hash && <span className="faint"> · {v.hash.slice(0, 8)}</span>}
        </span>
      ) : v.hash ? (
        v.hash.slice(0, 12)
      ) : (
        <span className="faint">unknown</span>
      )}
    </span>
  );
}

function RunRefs({ uses, kind }: { uses: DatasetUse[]; kind: 'write' | 'read' }) {
  const [all, setAll] = useState(false);
  const runs = distinctRuns(uses);
  if (!runs.length) return <span className="faint">—</span>;
  const shown = all ? runs : runs.slice(0, RUNS_SHOWN);
  return (
    <div className="dv-runs">
      {shown.map((u) => (
        <span className="dv-run" key={u.run_id}>
          <Link to={`/runs/${encodeURIComponent(u.run_id)}`} title={u.run_name}>
            {u.run_name}
          </Link>
          <span className="faint mono">{u.node}</span>
          {kind === 'write' && u.cached && <CachedMark />}
        </span>
      ))}
      {runs.length > RUNS_SHOWN && (
        <button className="linklike dv-more" onClick={() => setAll(!all)}>
          {all ? 'show fewer' : `+${runs.length - RUNS_SHOWN} more`}
        </button>
      )}
    </div>
  );
}

function CachedMark() {
  return (
    <span className="dv-cached" data-testid="cached-write" title="The run took this node from the cache: the content was computed by an earlier run">
      cached
    </span>
  );
}

function VersionRow({ v, color, latest }: { v: DatasetVersion; color: string; latest: boolean }) {
  return (
    <tr className={`dv-version-row${latest ? ' current' : ''}`} data-testid="dataset-version-row" data-hash={v.hash ?? ''}>
      <td>
        <VersionHash v={v} color={color} />
        {latest && <div className="faint" style={{ fontSize: 11 }}>latest</div>}
      </td>
      <td>
        {v.paths.length ? (
          <ul className="dv-paths">
            {v.paths.map((p) => (
              <li key={p} title={p}>
                {/* rtl shows the end of a long path; the bdi keeps its characters in order */}
                <bdi>{p}</bdi>
              </li>
            ))}
          </ul>
        ) : (
          <span className="faint">in memory</span>
        )}
      </td>
      <td className="nowrap" title={`first ${formatTime(v.first_seen)}, last ${formatTime(v.last_seen)}`}>
        {formatTime(v.first_seen)}
        {v.last_seen !== v.first_seen && <div className="faint">last {formatRelative(v.last_seen)}</div>}
      </td>
      <td>
        <RunRefs uses={v.written_by} kind="write" />
      </td>
      <td>
        <RunRefs uses={v.read_by} kind="read" />
      </td>
    </tr>
  );
}

/** Every use on a time axis: writes above, reads below, coloured by content. */
function Timeline({ uses, colors }: { uses: DatasetUse[]; colors: Map<string, string> }) {
  const wrap = useRef<HTMLDivElement>(null);
  const w = useWidth(wrap, 1000);
  const h = 46;
  const ts = uses.map((u) => u.start_time);
  const t0 = Math.min(...ts);
  const t1 = Math.max(...ts);
  const x = (t: number) => (t1 === t0 ? w / 2 : 8 + ((t - t0) / (t1 - t0)) * (w - 16));
  return (
    <div className="dv-timeline" data-testid="dataset-timeline">
      <div ref={wrap}>
        <svg width={w} height={h} role="img" aria-label="Uses over time">
          <line className="tl-axis" x1={0} x2={w} y1={22} y2={22} />
          {uses.map((u, i) => (
            <circle
              key={i}
              className={`tl-dot ${u.direction === 'write' ? 'write' : 'read'}`}
              cx={x(u.start_time)}
              cy={u.direction === 'write' ? 14 : 30}
              r={5}
              fill={colors.get(versionKey(u)) ?? 'var(--fg-faint)'}
            >
              <title>{`${formatTime(u.start_time)} · ${u.run_name} · ${u.direction} by ${u.node}`}</title>
            </circle>
          ))}
        </svg>
      </div>
      <div className="row faint" style={{ justifyContent: 'space-between', fontSize: 11 }}>
        <span>{formatTime(t0)}</span>
        <span>writes above, reads below</span>
        <span>{formatTime(t1)}</span>
      </div>
    </div>
  );
}

function UsesTable({ uses, colors }: { uses: DatasetUse[]; colors: Map<string, string> }) {
  const [limit, setLimit] = useState(USES_PAGE);
  const shown = uses.slice(0, limit);
  return (
    <div className="dv-table-wrap">
      <table className="table compact" data-testid="dataset-uses">
        <thead>
          <tr>
            <th>Started</th>
            <th>Run</th>
            <th>Status</th>
            <th>Use</th>
            <th>Node</th>
            <th>Version</th>
          </tr>
        </thead>
        <tbody>
          {shown.map((u, i) => {
            const sameRun = i > 0 && shown[i - 1].run_id === u.run_id;
            return (
              <tr key={`${u.run_id}-${u.direction}-${u.node}-${i}`} data-testid="dataset-use-row" data-direction={u.direction} data-cached={String(u.cached)}>
                <td className="nowrap">{sameRun ? '' : formatTime(u.start_time)}</td>
                <td className="ellipsis" style={{ maxWidth: 340 }}>
                  {sameRun ? (
                    ''
                  ) : (
                    <Link to={`/runs/${encodeURIComponent(u.run_id)}`} title={u.run_name}>
                      {u.run_name}
                    </Link>
                  )}
                </td>
                <td>{sameRun ? '' : <StatusBadge status={u.run_status} />}</td>
                <td className="nowrap">
                  <span className={`dv-dir ${u.direction}`}>{u.direction}</span>
                  {u.direction === 'write' && u.cached && (
                    <>
                      {' '}
                      <CachedMark />
                    </>
                  )}
                </td>
                <td>
                  <Link to={pipelineLink(u)} className="mono" title="Show the node in the run's pipeline">
                    {u.node}
                  </Link>
                </td>
                <td>
                  <VersionHash v={u} color={colors.get(versionKey(u))} />
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
      {uses.length > limit && (
        <div style={{ padding: '8px 12px' }}>
          <button className="btn small" onClick={() => setLimit(limit + USES_PAGE * 5)}>
            Show more ({uses.length - limit} left)
          </button>
        </div>
      )}
    </div>
  );
}

export default DatasetView;
