// The overview tab of a run: what ran, where, from which code; note, tags, params, metrics.
import { useEffect, useMemo, useState, type ReactNode } from 'react';
import { api, ApiError, type ArtifactInfo, type Run } from '../../api';
import { StatusBadge } from '../../components/StatusBadge';
import { formatDuration, formatNumber, formatTime } from '../../lib/format';
import { Link } from '../../lib/router';

export interface OverviewProps {
  run: Run;
  onRunChange: (run: Run) => void;
  childRuns: Run[] | null;
  childrenMore: boolean;
  onShowChildren: () => void;
}

function Copy({ text }: { text: string }) {
  const [done, setDone] = useState(false);
  return (
    <button
      className="btn small ghost copy-btn"
      title="Copy"
      onClick={() => {
        navigator.clipboard?.writeText(text).then(() => {
          setDone(true);
          setTimeout(() => setDone(false), 1200);
        }, () => undefined);
      }}
    >
      {done ? (
        '✓'
      ) : (
        <svg width="12" height="12" viewBox="0 0 16 16" fill="none" stroke="currentColor" strokeWidth="1.5" aria-hidden="true">
          <rect x="5" y="5" width="9" height="9" rx="1.5" />
          <path d="M11 5V3.5A1.5 1.5 0 0 0 9.5 2h-6A1.5 1.5 0 0 0 2 3.5v6A1.5 1.5 0 0 0 3.5 11H5" />
        </svg>
      )}
    </button>
  );
}

function NoteEditor({ run, onRunChange }: { run: Run; onRunChange: (r: Run) => void }) {
  const [text, setText] = useState(run.note);
  const [saving, setSaving] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [saved, setSaved] = useState(false);
  useEffect(() => setText(run.note), [run.id]);
  const dirty = text !== run.note;
  const save = async () => {
    setSaving(true);
    setError(null);
    try {
      const r = await api.updateRun(run.id, { note: text });
      onRunChange(r);
      setSaved(true);
      setTimeout(() => setSaved(false), 1500);
    } catch (e) {
      setError(e instanceof ApiError ? e.message : String(e));
    } finally {
      setSaving(false);
    }
  };
  return (
    <div className="note">
      <textarea
        data-testid="note-editor"
        value={text}
        placeholder="Add a note: what you tried, what you learned…"
        rows={Math.min(14, Math.max(3, text.split('\n').length + 1))}
        onChange={(e) => setText(e.target.value)}
        onKeyDown={(e) => {
          if (e.key === 'Enter' && (e.ctrlKey || e.metaKey) && dirty) {
            e.preventDefault();
            void save();
          }
        }}
      />
      {(error || saved || dirty) && (
      <div className="row note-actions">
        {error && <span className="err-text">{error}</span>}
        {saved && <span className="ok-text">Saved</span>}
        <span className="spacer" />
        {dirty && (
          <>
            <span className="faint">
              <kbd>Ctrl</kbd>+<kbd>Enter</kbd>
            </span>
            <button className="btn small ghost" onClick={() => setText(run.note)} disabled={saving}>
              Discard
            </button>
            <button className="btn small primary" onClick={save} disabled={saving} data-testid="note-save">
              {saving ? 'Saving…' : 'Save note'}
            </button>
          </>
        )}
      </div>
      )}
    </div>
  );
}

function TagsEditor({ run, onRunChange }: { run: Run; onRunChange: (r: Run) => void }) {
  const [showSystem, setShowSystem] = useState(false);
  const [k, setK] = useState('');
  const [v, setV] = useState('');
  const [error, setError] = useState<string | null>(null);
  const entries = Object.entries(run.tags).sort(([a], [b]) => a.localeCompare(b));
  const user = entries.filter(([key]) => !key.startsWith('tane.'));
  const system = entries.filter(([key]) => key.startsWith('tane.'));
  const shown = showSystem ? entries : user;

  const add = async () => {
    const key = k.trim();
    if (!key) return;
    setError(null);
    try {
      await api.setTags(run.id, { [key]: v });
      onRunChange({ ...run, tags: { ...run.tags, [key]: v } });
      setK('');
      setV('');
    } catch (e) {
      setError(e instanceof ApiError ? e.message : String(e));
    }
  };
  const remove = async (key: string) => {
    setError(null);
    try {
      await api.deleteTag(run.id, key);
      const tags = { ...run.tags };
      delete tags[key];
      onRunChange({ ...run, tags });
    } catch (e) {
      setError(e instanceof ApiError ? e.message : String(e));
    }
  };

  return (
    <div className="tags-editor" data-testid="tags-editor">
      <div className="chips">
        {shown.map(([key, value]) => (
          <span className="chip tag-chip" key={key} data-testid="tag" data-key={key} title={`${key} = ${value}`}>
            <span className="chip-k">{key}</span>
            <span className="ellipsis" style={{ maxWidth: 260 }}>
              {value}
            </span>
            {!key.startsWith('tane.') && (
              <button aria-label={`Remove the tag ${key}`} title="Remove" onClick={() => remove(key)}>
                ×
              </button>
            )}
          </span>
        ))}
        {shown.length === 0 && <span className="faint">No tags.</span>}
      </div>
      <form
        className="row tag-add"
        onSubmit={(e) => {
          e.preventDefault();
          void add();
        }}
      >
        <input type="text" placeholder="key" value={k} onChange={(e) => setK(e.target.value)} data-testid="tag-key" aria-label="Tag key" />
        <input type="text" placeholder="value" value={v} onChange={(e) => setV(e.target.value)} data-testid="tag-value" aria-label="Tag value" />
        <button className="btn small" type="submit" disabled={!k.trim()} data-testid="tag-add">
          Add tag
        </button>
        <span className="spacer" />
        {system.length > 0 && (
          <label className="check faint">
            <input type="checkbox" checked={showSystem} onChange={(e) => setShowSystem(e.target.checked)} />
            tane.* tags ({system.length})
          </label>
        )}
      </form>
      {error && <div className="err-text">{error}</div>}
    </div>
  );
}

function KeyValueTable({ entries, testId, numeric }: { entries: [string, string | number][]; testId: string; numeric?: boolean }) {
  const [q, setQ] = useState('');
  const shown = useMemo(() => {
    const ql = q.toLowerCase();
    return ql ? entries.filter(([k, v]) => k.toLowerCase().includes(ql) || String(v).toLowerCase().includes(ql)) : entries;
  }, [entries, q]);
  if (!entries.length) return <div className="empty small">None.</div>;
  return (
    <div>
      {entries.length > 8 && (
        <div className="kv-search">
          <input type="search" placeholder="Search" value={q} onChange={(e) => setQ(e.target.value)} aria-label="Search" />
        </div>
      )}
      <div className="kv-scroll">
        <table className="table compact" data-testid={testId}>
          <tbody>
            {shown.map(([k, v]) => (
              <tr key={k}>
                <td className="key">{k}</td>
                <td className={'val' + (numeric ? ' num' : '')} title={String(v)}>
                  {numeric ? formatNumber(v) : String(v)}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </div>
  );
}

/** Links to the files that describe a run (its config, code diff, logs, requirements). */
function RunFiles({ run }: { run: Run }) {
  const [files, setFiles] = useState<ArtifactInfo[] | null>(null);
  useEffect(() => {
    let live = true;
    api.artifacts(run.id).then(
      (l) => live && setFiles(l),
      () => live && setFiles([]),
    );
    return () => {
      live = false;
    };
  }, [run.id]);
  const known: [string, string][] = [
    ['config.yaml', 'Config'],
    ['git.diff', 'Git diff'],
    ['logs', 'Logs'],
    ['requirements.txt', 'Packages'],
    ['pipeline.json', 'pipeline.json'],
    ['sweep.json', 'sweep.json'],
  ];
  const present = known.filter(([p]) => files?.some((f) => f.path === p));
  if (!present.length) return null;
  return (
    <span className="row run-files" style={{ gap: 6, flexWrap: 'wrap' }}>
      {present.map(([p, label]) => {
        const target = p === 'logs' ? 'logs/output.log' : p;
        return (
          <Link key={p} className="btn small" to={`/runs/${encodeURIComponent(run.id)}?tab=artifacts&path=${encodeURIComponent(target)}`}>
            {label}
          </Link>
        );
      })}
    </span>
  );
}

export function Overview({ run, onRunChange, childRuns, childrenMore, onShowChildren }: OverviewProps) {
  const t = run.tags;
  const commit = t['tane.git.commit'];
  const duration = run.end_time != null ? run.end_time - run.start_time : run.status === 'RUNNING' ? Date.now() - run.start_time : null;
  const params = useMemo(() => Object.entries(run.params).sort(([a], [b]) => a.localeCompare(b)), [run.params]);
  const metrics = useMemo(
    () =>
      Object.entries(run.metrics)
        .filter(([k]) => !k.startsWith('system/'))
        .sort(([a], [b]) => a.localeCompare(b)) as [string, number][],
    [run.metrics],
  );

  const rows: [string, ReactNode][] = [
    ['Status', <StatusBadge status={run.status} />],
    ['Started', formatTime(run.start_time)],
    ['Ended', run.end_time != null ? formatTime(run.end_time) : <span className="faint">—</span>],
    ['Duration', formatDuration(duration)],
    ['Experiment', <Link to={`/experiments/${encodeURIComponent(run.experiment_id)}`}>{run.experiment || run.experiment_id}</Link>],
  ];
  if (run.parent_id)
    rows.push([
      'Parent',
      <Link to={`/runs/${encodeURIComponent(run.parent_id)}`} className="mono">
        {run.parent_id.slice(0, 8)}
      </Link>,
    ]);
  if (childRuns && childRuns.length)
    rows.push([
      'Children',
      <button className="linkish" onClick={onShowChildren}>
        {childRuns.length}
        {childrenMore ? '+' : ''} run{childRuns.length === 1 ? '' : 's'}
      </button>,
    ]);
  if (commit)
    rows.push([
      'Git commit',
      <span className="row" style={{ gap: 6, flexWrap: 'wrap' }}>
        <code title={commit}>{commit.slice(0, 10)}</code>
        {t['tane.git.branch'] && <span className="chip">{t['tane.git.branch']}</span>}
        {t['tane.git.dirty'] === 'true' && <span className="badge badge-warn" title="Uncommitted changes: see git.diff in the artifacts">dirty</span>}
        {t['tane.git.remote'] && <span className="faint ellipsis">{t['tane.git.remote']}</span>}
      </span>,
    ]);
  if (t['tane.command'])
    rows.push([
      'Command',
      <span className="row" style={{ gap: 4 }}>
        <code className="cmd">{t['tane.command']}</code>
        <Copy text={t['tane.command']} />
      </span>,
    ]);
  if (t['tane.overrides']) rows.push(['Overrides', <code>{t['tane.overrides']}</code>]);
  if (t['tane.source']) rows.push(['Source', <code>{t['tane.source']}</code>]);
  const where = [t['tane.user'], t['tane.host']].filter(Boolean).join('@');
  if (where) rows.push(['Host', <span>{where}{t['tane.pid'] ? <span className="faint"> · pid {t['tane.pid']}</span> : null}</span>]);
  if (t['tane.python']) rows.push(['Python', t['tane.python']]);
  rows.push(['Files', <RunFiles run={run} />]);
  if (t['tane.error'])
    rows.push([
      'Error',
      <code className="err-text">{t['tane.error']}</code>,
    ]);

  return (
    <div className="overview">
      <div className="overview-main">
        <section className="panel">
          <div className="panel-title">Run</div>
          <div className="panel-body">
            <dl className="kv" data-testid="run-overview">
              {rows.map(([k, v]) => (
                <div key={k} style={{ display: 'contents' }}>
                  <dt>{k}</dt>
                  <dd>{v}</dd>
                </div>
              ))}
            </dl>
          </div>
        </section>
        {t['tane.traceback'] && (
          <section className="panel">
            <div className="panel-title">Traceback</div>
            <div className="panel-body">
              <pre className="code err-pre">{t['tane.traceback']}</pre>
            </div>
          </section>
        )}
        <section className="panel">
          <div className="panel-title">Note</div>
          <div className="panel-body">
            <NoteEditor run={run} onRunChange={onRunChange} />
          </div>
        </section>
        <section className="panel">
          <div className="panel-title">Tags</div>
          <div className="panel-body">
            <TagsEditor run={run} onRunChange={onRunChange} />
          </div>
        </section>
      </div>
      <div className="overview-side">
        <section className="panel">
          <div className="panel-title">
            Metrics <span className="muted">{metrics.length}</span>
          </div>
          <KeyValueTable entries={metrics} testId="metrics-table" numeric />
        </section>
        <section className="panel">
          <div className="panel-title">
            Params <span className="muted">{params.length}</span>
          </div>
          <KeyValueTable entries={params} testId="params-table" />
        </section>
      </div>
    </div>
  );
}
