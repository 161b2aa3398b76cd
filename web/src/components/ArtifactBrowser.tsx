// The artifacts of a run: a folder tree and a preview of the chosen file
// (images, text, CSV as a table, JSON, YAML config, git diff, HTML figures).
import { useEffect, useMemo, useState } from 'react';
import { api, artifactUrl, fetchArtifactText, type ArtifactInfo } from '../api';
import { parseCsv } from '../lib/csv';
import { formatBytes } from '../lib/format';
import { ErrorBox } from './ErrorBox';

const IMAGE = /\.(png|jpe?g|gif|svg|webp|bmp|ico|avif)$/i;
const CSV = /\.(csv|tsv)$/i;
const JSONX = /\.(json|jsonl|ipynb)$/i;
const DIFF = /\.(diff|patch)$/i;
const HTML = /\.html?$/i;
const TEXT = /\.(txt|log|md|rst|ya?ml|toml|cfg|ini|py|sh|r|sql|js|ts|xml|conf|env|out|err|lock|requirements|gitignore)$/i;
const BINARY = /\.(pkl|pickle|joblib|pt|pth|ckpt|bin|h5|hdf5|onnx|parquet|feather|arrow|npy|npz|zip|gz|tar|whl|so|safetensors|db|sqlite|xlsx?)$/i;
const MAX_PREVIEW = 2 * 1024 * 1024;

const baseName = (p: string) => p.slice(p.lastIndexOf('/') + 1);

function Folder({
  runId,
  path,
  depth,
  selected,
  onSelect,
  initialOpen,
}: {
  runId: string;
  path: string;
  depth: number;
  selected: string | null;
  onSelect: (a: ArtifactInfo) => void;
  initialOpen?: boolean;
}) {
  const [items, setItems] = useState<ArtifactInfo[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [open, setOpen] = useState<Record<string, boolean>>({});

  useEffect(() => {
    let live = true;
    api.artifacts(runId, path).then(
      (list) => {
        if (!live) return;
        list.sort((a, b) => (a.is_dir === b.is_dir ? a.path.localeCompare(b.path) : a.is_dir ? -1 : 1));
        setItems(list);
        // open the folders on the way to the selected file
        if (selected) {
          const o: Record<string, boolean> = {};
          for (const a of list) if (a.is_dir && selected.startsWith(a.path + '/')) o[a.path] = true;
          setOpen(o);
        }
      },
      (e) => live && setError(e),
    );
    return () => {
      live = false;
    };
  }, [runId, path]);

  if (error) return <div className="tree-error">{(error as Error).message}</div>;
  if (!items)
    return (
      <div className="tree-loading" style={{ paddingLeft: 12 + depth * 14 }}>
        <span className="spinner" />
      </div>
    );
  if (!items.length && depth === 0 && initialOpen) return <div className="empty">No artifacts.</div>;
  return (
    <ul className="tree" role={depth === 0 ? 'tree' : 'group'}>
      {items.map((a) => (
        <li key={a.path} role="treeitem" aria-expanded={a.is_dir ? !!open[a.path] : undefined}>
          <button
            className={'tree-entry' + (selected === a.path ? ' selected' : '')}
            style={{ paddingLeft: 10 + depth * 14 }}
            data-testid="artifact-entry"
            data-path={a.path}
            data-dir={a.is_dir ? 'true' : 'false'}
            onClick={() => (a.is_dir ? setOpen((o) => ({ ...o, [a.path]: !o[a.path] })) : onSelect(a))}
            title={a.path}
          >
            <span className="tree-icon" aria-hidden="true">
              {a.is_dir ? (open[a.path] ? '▾' : '▸') : ''}
            </span>
            <FileIcon dir={a.is_dir} name={a.path} />
            <span className="tree-name ellipsis">{baseName(a.path)}</span>
            {!a.is_dir && <span className="tree-size">{formatBytes(a.size)}</span>}
          </button>
          {a.is_dir && open[a.path] && <Folder runId={runId} path={a.path} depth={depth + 1} selected={selected} onSelect={onSelect} />}
        </li>
      ))}
    </ul>
  );
}

function FileIcon({ dir, name }: { dir: boolean; name: string }) {
  if (dir)
    return (
      <svg className="file-icon" width="14" height="14" viewBox="0 0 16 16" aria-hidden="true">
        <path d="M1.5 3.5h4.5l1.5 1.5h7v8.5h-13z" fill="currentColor" opacity="0.35" stroke="currentColor" strokeWidth="1" />
      </svg>
    );
  const kind = IMAGE.test(name) ? 'img' : CSV.test(name) ? 'csv' : JSONX.test(name) ? 'json' : 'file';
  return (
    <svg className={'file-icon file-' + kind} width="14" height="14" viewBox="0 0 16 16" aria-hidden="true" fill="none" stroke="currentColor" strokeWidth="1.1">
      <path d="M3.5 1.5h6l3 3v10h-9z" />
      {kind === 'img' && <path d="M5 12l2.5-3 2 2 1-1.2L12 12z" fill="currentColor" stroke="none" />}
      {kind === 'csv' && <path d="M5 7h6M5 9.5h6M5 12h6M8 7v5" />}
      {kind === 'json' && <path d="M6.5 7c-1 0-1 .8-1 1.5S5 10 4.8 10c.2 0 .7.3.7 1s0 1.5 1 1.5M9.5 7c1 0 1 .8 1 1.5s.5 1.5.7 1.5c-.2 0-.7.3-.7 1s0 1.5-1 1.5" />}
    </svg>
  );
}

function CsvTable({ text, truncated }: { text: string; truncated: boolean }) {
  const { rows, truncated: more } = useMemo(() => parseCsv(text, 1001), [text]);
  if (!rows.length) return <div className="empty">Empty file.</div>;
  const [head, ...body] = rows;
  const numericCol = head.map((_, j) => {
    const sample = body.slice(0, 50).map((r) => r[j] ?? '').filter((v) => v !== '');
    return sample.length > 0 && sample.every((v) => !Number.isNaN(Number(v)));
  });
  return (
    <div>
      <div className="preview-note muted">
        {body.length} row{body.length === 1 ? '' : 's'} × {head.length} column{head.length === 1 ? '' : 's'}
        {more || truncated ? ' (the first rows)' : ''}
      </div>
      <div className="csv-wrap">
        <table className="table compact csv-table" data-testid="csv-table">
          <thead>
            <tr>
              <th className="num faint">#</th>
              {head.map((h, i) => (
                <th key={i} className={numericCol[i] ? 'num' : ''}>
                  {h}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {body.map((r, i) => (
              <tr key={i}>
                <td className="num faint">{i + 1}</td>
                {head.map((_, j) => {
                  const v = r[j] ?? '';
                  return (
                    <td key={j} className={numericCol[j] ? 'num' : ''}>
                      {v}
                    </td>
                  );
                })}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </div>
  );
}

export function DiffView({ text }: { text: string }) {
  const lines = text.split('\n');
  return (
    <pre className="code diff" data-testid="diff-view">
      {lines.map((l, i) => {
        const cls =
          l.startsWith('+++') || l.startsWith('---') || l.startsWith('diff ')
            ? 'diff-file'
            : l.startsWith('+')
              ? 'diff-add'
              : l.startsWith('-')
                ? 'diff-del'
                : l.startsWith('@@')
                  ? 'diff-hunk'
                  : l.startsWith('#')
                    ? 'faint'
                    : undefined;
        return (
          <span key={i} className={cls}>
            {l}
            {'\n'}
          </span>
        );
      })}
    </pre>
  );
}

function prettyJson(text: string, name: string): string {
  try {
    if (/\.jsonl$/i.test(name)) {
      return text
        .split('\n')
        .filter((l) => l.trim())
        .slice(0, 500)
        .map((l) => JSON.stringify(JSON.parse(l), null, 2))
        .join('\n');
    }
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}

export function ArtifactPreview({ runId, artifact }: { runId: string; artifact: ArtifactInfo }) {
  const path = artifact.path;
  const url = artifactUrl(runId, path);
  const [content, setContent] = useState<{ text: string; truncated: boolean; binary: boolean } | null>(null);
  const [error, setError] = useState<unknown>(null);
  const kind = IMAGE.test(path)
    ? 'image'
    : HTML.test(path)
      ? 'html'
      : BINARY.test(path) || (artifact.size ?? 0) > 50 * MAX_PREVIEW
        ? 'binary'
        : CSV.test(path)
          ? 'csv'
          : JSONX.test(path)
            ? 'json'
            : DIFF.test(path)
              ? 'diff'
              : TEXT.test(path)
                ? 'text'
                : 'guess';

  useEffect(() => {
    setContent(null);
    setError(null);
    if (kind === 'image' || kind === 'html' || kind === 'binary') return;
    const ctrl = new AbortController();
    fetchArtifactText(runId, path, MAX_PREVIEW, ctrl.signal).then(
      (c) => !ctrl.signal.aborted && setContent(c),
      (e) => !ctrl.signal.aborted && (e as Error)?.name !== 'AbortError' && setError(e),
    );
    return () => ctrl.abort();
  }, [runId, path, kind]);

  const header = (
    <div className="preview-head">
      <span className="mono preview-path" title={path}>
        {path}
      </span>
      <span className="faint">{formatBytes(artifact.size)}</span>
      <span className="spacer" />
      <a className="btn small" href={url} download={baseName(path)}>
        Download
      </a>
      {!HTML.test(path) && !/\.svg$/i.test(path) && (
        // HTML and SVG could run scripts on this origin if opened directly: they show sandboxed here
        <a className="btn small ghost" href={url} target="_blank" rel="noopener noreferrer">
          Open raw
        </a>
      )}
    </div>
  );

  let body;
  if (error) body = <ErrorBox error={error} />;
  else if (kind === 'image')
    body = (
      <div className="preview-image">
        <img src={url} alt={path} data-testid="artifact-image" />
      </div>
    );
  else if (kind === 'html')
    body = <iframe className="preview-html" src={url} sandbox="allow-scripts" title={path} data-testid="artifact-html" />;
  else if (kind === 'binary') body = <div className="empty">A binary file ({formatBytes(artifact.size)}): download it to open it.</div>;
  else if (!content)
    body = (
      <div className="loading">
        <span className="spinner" />
      </div>
    );
  else if (content.binary) body = <div className="empty">A binary file ({formatBytes(artifact.size)}): download it to open it.</div>;
  else if (kind === 'csv') body = <CsvTable text={content.text} truncated={content.truncated} />;
  else if (kind === 'diff') body = <DiffView text={content.text} />;
  else if (kind === 'json')
    body = (
      <pre className="code" data-testid="artifact-text">
        {content.truncated ? content.text : prettyJson(content.text, path)}
      </pre>
    );
  else
    body = (
      <pre className="code" data-testid="artifact-text">
        {content.text}
      </pre>
    );

  return (
    <div className="preview" data-testid="artifact-preview" data-kind={kind}>
      {header}
      {content?.truncated && <div className="preview-note warn">Showing the first {formatBytes(MAX_PREVIEW)}. Download the file for the rest.</div>}
      <div className="preview-body">{body}</div>
    </div>
  );
}

export function ArtifactBrowser({ runId, path, onPathChange }: { runId: string; path: string | null; onPathChange: (path: string | null) => void }) {
  const [selected, setSelected] = useState<ArtifactInfo | null>(null);

  // a path from the URL: find its size
  useEffect(() => {
    if (!path) {
      setSelected(null);
      return;
    }
    if (selected?.path === path) return;
    const folder = path.includes('/') ? path.slice(0, path.lastIndexOf('/')) : '';
    let live = true;
    api.artifacts(runId, folder).then(
      (list) => live && setSelected(list.find((a) => a.path === path) ?? { path, is_dir: false, size: null }),
      () => live && setSelected({ path, is_dir: false, size: null }),
    );
    return () => {
      live = false;
    };
  }, [runId, path]);

  return (
    <div className="artifacts panel" data-testid="artifacts">
      <div className="artifacts-tree">
        <Folder
          runId={runId}
          path=""
          depth={0}
          selected={path}
          initialOpen
          onSelect={(a) => {
            setSelected(a);
            onPathChange(a.path);
          }}
        />
      </div>
      <div className="artifacts-preview">
        {selected ? <ArtifactPreview runId={runId} artifact={selected} /> : <div className="empty">Choose a file to preview it.</div>}
      </div>
    </div>
  );
}
