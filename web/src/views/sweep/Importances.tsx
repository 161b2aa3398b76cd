// Parameter importances as horizontal bars, most important first.

export interface ImportanceRow {
  name: string;
  value: number;
  /** Share of the total, in [0, 1]. */
  share: number;
}

/** The bars: most important first, shares of the total (importances need not sum to 1). */
export function importanceRows(importances: Record<string, number> | null): ImportanceRow[] {
  if (!importances) return [];
  const rows = Object.entries(importances).filter(([, v]) => Number.isFinite(v));
  const total = rows.reduce((s, [, v]) => s + Math.max(0, v), 0);
  return rows
    .map(([name, value]) => ({ name, value, share: total > 0 ? Math.max(0, value) / total : 0 }))
    .sort((a, b) => b.value - a.value);
}

export function Importances({
  importances,
  method,
  finished,
}: {
  importances: Record<string, number> | null;
  method: string | null;
  finished: boolean;
}) {
  const rows = importanceRows(importances);
  const max = Math.max(1e-12, ...rows.map((r) => r.value));
  return (
    <div className="sw-importances" data-testid="sweep-importances">
      {importances === null ? (
        <div className="empty sw-empty">
          {finished ? 'Not recorded by this sweep.' : 'Computed when the sweep ends.'}
        </div>
      ) : rows.length === 0 ? (
        <div className="empty sw-empty">Could not be computed (too few complete trials, or a single value per param).</div>
      ) : (
        <>
          {rows.map((r) => (
            <div className="sw-imp-row" key={r.name} data-testid="importance-bar" data-param={r.name} title={`${r.name}: ${r.value}`}>
              <div className="sw-imp-name mono">{r.name}</div>
              <div className="sw-imp-track">
                <div className="sw-imp-bar" style={{ width: `${(r.value / max) * 100}%` }} />
              </div>
              <div className="sw-imp-value">{(r.share * 100).toFixed(r.share < 0.01 ? 1 : 0)}%</div>
            </div>
          ))}
          {method && <div className="faint sw-imp-note">{method === 'fanova' ? 'fANOVA' : method === 'ped-anova' ? 'PED-ANOVA' : method}</div>}
        </>
      )}
    </div>
  );
}
