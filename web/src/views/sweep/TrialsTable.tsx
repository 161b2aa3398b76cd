// Every trial of a sweep: state, objective values, params, duration; sortable by column.
import { useState } from 'react';
import { StatusBadge } from '../../components/StatusBadge';
import { formatNumber, formatSeconds } from '../../lib/format';
import { Link } from '../../lib/router';
import { sortTrials, trialValue, type SortKey } from './sweepmath';
import type { SpaceParam, Trial } from './types';

const PAGE = 200;

export interface TrialsTableProps {
  trials: Trial[];
  space: SpaceParam[];
  objectives: string[];
  sort: { key: SortKey; desc: boolean };
  onSort: (s: { key: SortKey; desc: boolean }) => void;
  bestRunId: string | null;
  pareto: Set<string>;
  highlight: string | null;
  onHover: (runId: string | null) => void;
}

function paramText(v: unknown): string {
  if (v === undefined) return '';
  if (v === null) return 'null';
  if (typeof v === 'number') return formatNumber(v);
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

function note(t: Trial): string {
  if (t.state === 'FAILED') return t.error ?? (t.run_status !== 'FAILED' ? `run ${t.run_status.toLowerCase()}` : '');
  if (t.state === 'PRUNED') {
    const at = t.intermediate_count ? ` after ${t.intermediate_count} reports` : '';
    const last = t.last_intermediate !== null && t.last_intermediate !== undefined ? ` (last ${formatNumber(t.last_intermediate)})` : '';
    return `pruned${at}${last}`;
  }
  if (t.feasible === false) return 'infeasible';
  return '';
}

export function TrialsTable({ trials, space, objectives, sort, onSort, bestRunId, pareto, highlight, onHover }: TrialsTableProps) {
  const [limit, setLimit] = useState(PAGE);
  const rows = sortTrials(trials, sort.key, sort.desc);
  const shown = rows.slice(0, limit);
  const header = (key: SortKey, label: string, cls = '', title?: string) => {
    const on = sort.key === key;
    return (
      <th
        key={key}
        className={`${cls} sortable${on ? ' sorted' : ''}`}
        aria-sort={on ? (sort.desc ? 'descending' : 'ascending') : 'none'}
        title={title ?? `Sort by ${label}`}
      >
        <button className="sw-sort" onClick={() => onSort({ key, desc: on ? !sort.desc : key.startsWith('value:') ? sort.desc : false })} data-testid={`sort-${key}`}>
          {label}
          <span className="sw-sort-mark">{on ? (sort.desc ? '▼' : '▲') : ''}</span>
        </button>
      </th>
    );
  };
  return (
    <div className="sw-table-wrap">
      <table className="table compact sw-trials" data-testid="sweep-trials">
        <thead>
          <tr>
            {header('number', '#', 'num')}
            {header('state', 'State')}
            {objectives.map((o, i) => header(`value:${i}`, o, 'num', `Sort by ${o}`))}
            {space.map((p) => header(`param:${p.name}`, p.name, p.kind === 'categorical' ? '' : 'num', p.distribution ? `${p.name}: ${p.distribution}` : undefined))}
            {header('duration', 'Duration', 'num')}
            <th>Run</th>
            <th>Note</th>
          </tr>
        </thead>
        <tbody>
          {shown.map((t) => (
            <tr
              key={t.run_id}
              data-testid="trial-row"
              data-state={t.state}
              data-number={t.number ?? ''}
              className={`${t.run_id === bestRunId ? 'sw-best-row' : ''}${highlight === t.run_id ? ' sw-hl-row' : ''}`}
              onMouseEnter={() => onHover(t.run_id)}
              onMouseLeave={() => onHover(null)}
            >
              <td className="num mono">
                {t.run_id === bestRunId && (
                  <span className="sw-star" title="Best trial" aria-label="best">
                    ★
                  </span>
                )}
                {pareto.has(t.run_id) && (
                  <span className="sw-star" title="On the Pareto front" aria-label="Pareto-optimal">
                    ◆
                  </span>
                )}
                {t.number ?? '—'}
              </td>
              <td>
                <StatusBadge status={t.state} title={t.state !== t.run_status ? `run ${t.run_status}` : undefined} />
              </td>
              {objectives.map((o, i) => {
                const v = trialValue(t, i);
                return (
                  <td key={o} className="num mono" data-testid="trial-value">
                    {v === null ? <span className="faint">—</span> : formatNumber(v)}
                  </td>
                );
              })}
              {space.map((p) => (
                <td key={p.name} className={`mono${p.kind === 'categorical' ? '' : ' num'}`}>
                  {paramText(t.params[p.name])}
                </td>
              ))}
              <td className="num">{t.state === 'RUNNING' ? <span className="faint">running</span> : formatSeconds(t.duration)}</td>
              <td className="sw-run-cell">
                <Link to={`/runs/${encodeURIComponent(t.run_id)}`} title={t.run_name}>
                  {t.run_name}
                </Link>
              </td>
              <td className={`sw-note${t.state === 'FAILED' ? ' err' : ''}`} title={t.error ?? undefined}>
                {note(t)}
              </td>
            </tr>
          ))}
          {rows.length === 0 && (
            <tr>
              <td colSpan={5 + objectives.length + space.length} className="empty">
                No trial matches.
              </td>
            </tr>
          )}
        </tbody>
      </table>
      {rows.length > limit && (
        <div style={{ padding: '8px 12px' }}>
          <button className="btn small" onClick={() => setLimit(limit + PAGE * 5)}>
            Show more ({rows.length - limit} left)
          </button>
        </div>
      )}
    </div>
  );
}
