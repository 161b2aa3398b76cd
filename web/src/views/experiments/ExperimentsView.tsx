// / — the experiments, with their run counts and last activity.
import { useMemo, useState } from 'react';
import { api } from '../../api';
import { ErrorBox } from '../../components/ErrorBox';
import { useCrumbs } from '../../lib/crumbs';
import { formatNumber, formatRelative, formatTime } from '../../lib/format';
import { useReady } from '../../lib/ready';
import { Link, navigate } from '../../lib/router';
import { useAsync } from '../../lib/useAsync';

type SortKey = 'name' | 'run_count' | 'last_activity' | 'created';

export function ExperimentsView() {
  useCrumbs([]);
  const { data, error, loading } = useAsync(() => api.experiments(), []);
  const [q, setQ] = useState('');
  const [sort, setSort] = useState<{ key: SortKey; desc: boolean }>({ key: 'last_activity', desc: true });
  const [showEmpty, setShowEmpty] = useState(true);

  const rows = useMemo(() => {
    const ql = q.toLowerCase();
    const list = (data ?? []).filter((e) => (!ql || e.name.toLowerCase().includes(ql) || e.id === q) && (showEmpty || e.run_count > 0));
    const dir = sort.desc ? -1 : 1;
    return list.sort((a, b) => {
      const x = a[sort.key];
      const y = b[sort.key];
      if (typeof x === 'string' && typeof y === 'string') return dir * x.localeCompare(y);
      return dir * ((x as number) - (y as number));
    });
  }, [data, q, sort, showEmpty]);

  useReady(!loading);
  const totalRuns = (data ?? []).reduce((s, e) => s + e.run_count, 0);

  const th = (key: SortKey, label: string, numeric = false) => (
    <th className={numeric ? 'num' : ''} aria-sort={sort.key === key ? (sort.desc ? 'descending' : 'ascending') : 'none'}>
      <button className="th-sort" onClick={() => setSort((s) => ({ key, desc: s.key === key ? !s.desc : key !== 'name' }))}>
        {label}
        <span className="rt-arrow">{sort.key === key ? (sort.desc ? '↓' : '↑') : ''}</span>
      </button>
    </th>
  );

  return (
    <div className="page experiments-page">
      <div className="page-head">
        <div>
          <h1>Experiments</h1>
          {data && (
            <div className="sub">
              {data.length} experiment{data.length === 1 ? '' : 's'} · {formatNumber(totalRuns)} runs
            </div>
          )}
        </div>
        <span className="spacer" />
        <label className="check muted">
          <input type="checkbox" checked={showEmpty} onChange={(e) => setShowEmpty(e.target.checked)} />
          Show empty
        </label>
        <input type="search" placeholder="Find an experiment" value={q} onChange={(e) => setQ(e.target.value)} aria-label="Find an experiment" style={{ width: 240 }} />
      </div>
      {error && <ErrorBox error={error} />}
      {loading && !data && (
        <div className="loading">
          <span className="spinner" /> Loading experiments…
        </div>
      )}
      {data && (
        <div className="panel">
          <table className="table experiments-table">
            <thead>
              <tr>
                {th('name', 'Name')}
                {th('run_count', 'Runs', true)}
                {th('last_activity', 'Last activity')}
                {th('created', 'Created')}
                <th>Tags</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((e) => {
                const to = `/experiments/${encodeURIComponent(e.id)}`;
                return (
                  <tr
                    key={e.id}
                    data-testid="experiment-row"
                    data-experiment-id={e.id}
                    className="clickable"
                    onClick={(ev) => {
                      if ((ev.target as HTMLElement).closest('a')) return;
                      navigate(to);
                    }}
                  >
                    <td>
                      <Link to={to} className="exp-name">
                        {e.name}
                      </Link>
                      <span className="faint mono exp-id">#{e.id}</span>
                    </td>
                    <td className="num">{formatNumber(e.run_count)}</td>
                    <td title={formatTime(e.last_activity)}>{e.run_count ? formatRelative(e.last_activity) : <span className="faint">—</span>}</td>
                    <td className="muted" title={formatTime(e.created)}>
                      {formatTime(e.created).slice(0, 10)}
                    </td>
                    <td>
                      <div className="chips">
                        {Object.entries(e.tags)
                          .filter(([k]) => !k.startsWith('tane.'))
                          .slice(0, 4)
                          .map(([k, v]) => (
                            <span key={k} className="chip">
                              <span className="chip-k">{k}</span>
                              {v}
                            </span>
                          ))}
                      </div>
                    </td>
                  </tr>
                );
              })}
              {rows.length === 0 && (
                <tr>
                  <td colSpan={5} className="empty">
                    {q ? 'No experiment matches.' : 'No experiments yet. Record a run with tane.start_run() or try `tane demo`.'}
                  </td>
                </tr>
              )}
            </tbody>
          </table>
        </div>
      )}
    </div>
  );
}
