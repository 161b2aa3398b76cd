// Choose the columns of the runs table among params, metrics and tags.
import { useEffect, useMemo, useRef, useState } from 'react';
import type { KeySets } from '../lib/columns';

export interface ColumnChooserProps {
  keys: KeySets;
  columns: string[];
  onChange: (columns: string[]) => void;
  onReset?: () => void;
}

const SECTIONS: { entity: 'metrics' | 'params' | 'tags'; label: string }[] = [
  { entity: 'metrics', label: 'Metrics' },
  { entity: 'params', label: 'Params' },
  { entity: 'tags', label: 'Tags' },
];

export function ColumnChooser({ keys, columns, onChange, onReset }: ColumnChooserProps) {
  const [open, setOpen] = useState(false);
  const [q, setQ] = useState('');
  const box = useRef<HTMLDivElement>(null);
  const chosen = useMemo(() => new Set(columns), [columns]);

  useEffect(() => {
    if (!open) return;
    const close = (e: MouseEvent) => {
      if (box.current && !box.current.contains(e.target as Node)) setOpen(false);
    };
    const esc = (e: KeyboardEvent) => e.key === 'Escape' && setOpen(false);
    document.addEventListener('mousedown', close);
    document.addEventListener('keydown', esc);
    return () => {
      document.removeEventListener('mousedown', close);
      document.removeEventListener('keydown', esc);
    };
  }, [open]);

  const toggle = (key: string) => {
    if (chosen.has(key)) onChange(columns.filter((c) => c !== key));
    else onChange([...columns, key]);
  };

  const ql = q.toLowerCase();
  return (
    <div className="chooser" ref={box}>
      <button className={'btn' + (open ? ' active' : '')} data-testid="column-chooser" onClick={() => setOpen((o) => !o)} aria-expanded={open}>
        <svg width="14" height="14" viewBox="0 0 16 16" fill="none" stroke="currentColor" strokeWidth="1.5" aria-hidden="true">
          <rect x="2" y="2.5" width="12" height="11" rx="1.5" />
          <path d="M6 2.5v11M10 2.5v11" />
        </svg>
        Columns
        <span className="count-pill">{columns.length}</span>
      </button>
      {open && (
        <div className="popover chooser-pop" data-testid="column-chooser-panel">
          <div className="chooser-head">
            <input type="search" placeholder="Search keys" value={q} autoFocus onChange={(e) => setQ(e.target.value)} aria-label="Search keys" />
            {onReset && (
              <button className="btn small ghost" onClick={onReset} title="Back to the default columns">
                Reset
              </button>
            )}
          </div>
          <div className="chooser-body">
            {SECTIONS.map(({ entity, label }) => {
              const names = keys[entity].filter((k) => !ql || k.toLowerCase().includes(ql));
              if (!names.length) return null;
              const sel = names.filter((n) => chosen.has(`${entity}.${n}`)).length;
              return (
                <div key={entity} className="chooser-section">
                  <div className="chooser-section-title">
                    {label} <span className="faint">{sel ? `${sel}/${names.length}` : names.length}</span>
                  </div>
                  {names.slice(0, 300).map((n) => {
                    const key = `${entity}.${n}`;
                    return (
                      <label key={key} className="check chooser-item" title={n}>
                        <input type="checkbox" checked={chosen.has(key)} onChange={() => toggle(key)} data-key={key} />
                        <span className="mono ellipsis">{n}</span>
                      </label>
                    );
                  })}
                  {names.length > 300 && <div className="faint chooser-more">{names.length - 300} more: narrow the search</div>}
                </div>
              );
            })}
          </div>
        </div>
      )}
    </div>
  );
}
