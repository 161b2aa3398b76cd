// A table of the params (and optionally metrics) of several runs, side by side:
// by default only the params whose values differ.
import { useMemo, useState } from 'react';
import type { Run } from '../api';
import { differingParams, keysOfRuns } from '../lib/columns';
import { formatNumber } from '../lib/format';
import { Link } from '../lib/router';

export interface ParamsDiffProps {
  runs: Run[];
  colorOf: (runId: string) => string;
}

export function ParamsDiff({ runs, colorOf }: ParamsDiffProps) {
  const [showAll, setShowAll] = useState(false);
  const keys = useMemo(() => keysOfRuns(runs), [runs]);
  const differing = useMemo(() => differingParams(runs, keys.params), [runs, keys]);
  const shown = showAll ? keys.params : differing;
  const same = keys.params.length - differing.length;
  return (
    <div className="params-diff">
      <div className="toolbar">
        <span className="muted">
          {differing.length} param{differing.length === 1 ? '' : 's'} differ{differing.length === 1 ? 's' : ''}
          {same > 0 ? `, ${same} the same in every run` : ''}
        </span>
        <span className="spacer" />
        <label className="check">
          <input type="checkbox" checked={showAll} onChange={(e) => setShowAll(e.target.checked)} data-testid="params-diff-all" />
          Show all params
        </label>
      </div>
      <div className="diff-scroll">
        <table className="table compact diff-table" data-testid="params-diff">
          <thead>
            <tr>
              <th className="diff-key">Param</th>
              {runs.map((r) => (
                <th key={r.id} className="diff-run">
                  <span className="row" style={{ gap: 6 }}>
                    <span className="swatch" style={{ background: colorOf(r.id) }} />
                    <Link to={`/runs/${encodeURIComponent(r.id)}`} className="ellipsis" title={r.name || r.id}>
                      {r.name || r.id.slice(0, 8)}
                    </Link>
                  </span>
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {shown.map((k) => {
              const differs = differing.includes(k);
              return (
                <tr key={k} data-param={k} className={differs ? 'differs' : 'same'}>
                  <td className="key diff-key">{k}</td>
                  {runs.map((r) => {
                    const v = r.params[k];
                    return (
                      <td key={r.id} className="val" title={v}>
                        {v === undefined ? <span className="faint">—</span> : v}
                      </td>
                    );
                  })}
                </tr>
              );
            })}
            {shown.length === 0 && (
              <tr>
                <td colSpan={runs.length + 1} className="empty">
                  {keys.params.length ? 'Every run has the same params.' : 'These runs have no params.'}
                </td>
              </tr>
            )}
          </tbody>
        </table>
      </div>
    </div>
  );
}

/** The latest value of each metric per run, the best of each row marked. */
export function MetricsCompare({ runs, colorOf }: ParamsDiffProps) {
  const keys = useMemo(() => keysOfRuns(runs).metrics.filter((k) => !k.startsWith('system/')), [runs]);
  if (!keys.length) return <div className="empty">No metrics.</div>;
  const lowerIsBetter = (k: string) => /loss|error|err\b|rmse|mse|mae|time|seconds/i.test(k);
  return (
    <div className="diff-scroll">
      <table className="table compact diff-table" data-testid="metrics-compare">
        <thead>
          <tr>
            <th className="diff-key">Metric</th>
            {runs.map((r) => (
              <th key={r.id} className="diff-run">
                <span className="row" style={{ gap: 6 }}>
                  <span className="swatch" style={{ background: colorOf(r.id) }} />
                  <span className="ellipsis">{r.name || r.id.slice(0, 8)}</span>
                </span>
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {keys.map((k) => {
            const vals = runs.map((r) => r.metrics[k]).filter((v): v is number => v !== undefined && Number.isFinite(v));
            const best = vals.length > 1 ? (lowerIsBetter(k) ? Math.min(...vals) : Math.max(...vals)) : undefined;
            return (
              <tr key={k}>
                <td className="key diff-key">{k}</td>
                {runs.map((r) => {
                  const v = r.metrics[k];
                  return (
                    <td key={r.id} className={'val num' + (v !== undefined && v === best ? ' best' : '')}>
                      {v === undefined ? <span className="faint">—</span> : formatNumber(v)}
                    </td>
                  );
                })}
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}
