// A menu of the datasets an experiment's pipeline runs read and wrote (links to the dataset view).
import { useEffect, useRef, useState } from 'react';
import { getJson } from '../api';
import { formatRelative } from '../lib/format';
import { Link } from '../lib/router';

interface DatasetSummary {
  name: string;
  kind: string;
  type: string | null;
  layer: string | null;
  versions: number;
  runs: number;
  last_used: number | null;
}

export function DatasetsMenu({ experimentId }: { experimentId: string }) {
  const [open, setOpen] = useState(false);
  const [list, setList] = useState<DatasetSummary[] | null>(null);
  const [failed, setFailed] = useState(false);
  const box = useRef<HTMLDivElement>(null);

  useEffect(() => {
    let live = true;
    getJson<{ datasets: DatasetSummary[] }>(`/experiments/${encodeURIComponent(experimentId)}/datasets`, { query: { max_runs: 200 } }).then(
      (r) => live && setList(r.datasets),
      () => live && setFailed(true),
    );
    return () => {
      live = false;
    };
  }, [experimentId]);

  useEffect(() => {
    if (!open) return;
    const close = (e: MouseEvent) => {
      if (box.current && !box.current.contains(e.target as Node)) setOpen(false);
    };
    document.addEventListener('mousedown', close);
    return () => document.removeEventListener('mousedown', close);
  }, [open]);

  if (failed || !list || list.length === 0) return null;
  return (
    <div className="chooser" ref={box}>
      <button className={'btn' + (open ? ' active' : '')} onClick={() => setOpen((o) => !o)} data-testid="datasets-menu" aria-expanded={open}>
        <svg width="14" height="14" viewBox="0 0 16 16" fill="none" stroke="currentColor" strokeWidth="1.5" aria-hidden="true">
          <ellipse cx="8" cy="3.5" rx="5.5" ry="2" />
          <path d="M2.5 3.5v9c0 1.1 2.5 2 5.5 2s5.5-.9 5.5-2v-9M2.5 8c0 1.1 2.5 2 5.5 2s5.5-.9 5.5-2" />
        </svg>
        Datasets <span className="count-pill">{list.length}</span>
      </button>
      {open && (
        <ul className="popover menu-list datasets-pop">
          {list.map((d) => (
            <li key={d.name}>
              <Link to={`/experiments/${encodeURIComponent(experimentId)}/datasets/${encodeURIComponent(d.name)}`} className="row datasets-link">
                <span className="mono">{d.name}</span>
                <span className="hint">
                  {d.layer ? d.layer + ' · ' : ''}
                  {d.versions} version{d.versions === 1 ? '' : 's'} · {formatRelative(d.last_used)}
                </span>
              </Link>
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}
