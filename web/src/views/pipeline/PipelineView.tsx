// A pipeline run: its DAG with each node's outcome, and what each dataset held in this run.
import { useCallback, useEffect, useMemo, useRef, useState, type ReactNode } from 'react';
import { ApiError, api, getJson } from '../../api';
import { ErrorBox } from '../../components/ErrorBox';
import { StatusBadge } from '../../components/StatusBadge';
import { useCrumbs } from '../../lib/crumbs';
import { formatSeconds, formatTime } from '../../lib/format';
import { useReady } from '../../lib/ready';
import { Link, setSearchParams } from '../../lib/router';
import { Dag } from './Dag';
import { datasetKey, layoutPipeline, nodeKey } from './layout';
import { STATUS_LABEL, STATUS_ORDER, savedByCache, statusClass } from './status';
import type { PipelineDataset, PipelineNode, PipelineResponse } from './types';
import './pipeline.css';

const WAIT_MS = 5000;

export function datasetPath(experimentId: string, name: string): string {
  return `/experiments/${encodeURIComponent(experimentId)}/datasets/${encodeURIComponent(name)}`;
}

/** The pipeline without its params (inputs named `params:...`), for a less busy graph. */
export function withoutParams(p: PipelineResponse): PipelineResponse {
  const isParam = (name: string) => name.startsWith('params:') || name === 'parameters';
  return {
    ...p,
    datasets: p.datasets.filter((d) => d.kind !== 'params' && !isParam(d.name)),
    edges: p.edges.filter((e) => !(e.kind === 'reads' && isParam(e.source))),
  };
}

interface LoadState {
  data?: PipelineResponse;
  error?: unknown;
  /** The run is still RUNNING: pipeline.json is written when it ends. */
  waiting?: boolean;
}

function usePipeline(runId: string): LoadState {
  const [state, setState] = useState<LoadState>({});
  useEffect(() => {
    const ctrl = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const load = () => {
      getJson<PipelineResponse>(`/runs/${encodeURIComponent(runId)}/pipeline`, { signal: ctrl.signal }).then(
        (data) => {
          if (!ctrl.signal.aborted) setState({ data });
        },
        async (error: unknown) => {
          if (ctrl.signal.aborted) return;
          if (error instanceof ApiError && error.status === 404 && error.type === 'NotFound') {
            try {
              const run = await api.run(runId);
              if (ctrl.signal.aborted) return;
              if (run.status === 'RUNNING' && run.tags?.['tane.kind'] === 'pipeline') {
                setState({ waiting: true });
                timer = setTimeout(load, WAIT_MS);
                return;
              }
            } catch {
              // report the first error
            }
          }
          setState({ error });
        },
      );
    };
    setState({});
    load();
    return () => {
      ctrl.abort();
      if (timer) clearTimeout(timer);
    };
  }, [runId]);
  return state;
}

function initialSelection(): string | null {
  const q = new URLSearchParams(window.location.search);
  const node = q.get('node');
  if (node) return nodeKey(node);
  const dataset = q.get('dataset');
  return dataset ? datasetKey(dataset) : null;
}

export function PipelineView({ runId }: { runId: string }) {
  const { data, error, waiting } = usePipeline(runId);
  const [experimentName, setExperimentName] = useState<string | null>(null);
  const [showParams, setShowParams] = useState(true);
  const [selected, setSelectedState] = useState<string | null>(initialSelection);
  const [hovered, setHovered] = useState<string | null>(null);
  const [drawn, setDrawn] = useState(false);
  const [pointer, setPointer] = useState<{ x: number; y: number } | null>(null);

  useEffect(() => {
    if (!data) return;
    let live = true;
    api.experiment(data.experiment_id).then(
      (e) => live && setExperimentName(e.name),
      () => undefined,
    );
    return () => {
      live = false;
    };
  }, [data]);

  useCrumbs([
    ...(data ? [{ label: experimentName ?? data.experiment_id, to: `/experiments/${encodeURIComponent(data.experiment_id)}` }] : []),
    { label: data?.run_name ?? runId.slice(0, 8), to: `/runs/${encodeURIComponent(runId)}` },
    { label: 'Pipeline' },
  ]);

  const shown = useMemo(() => (data ? (showParams ? data : withoutParams(data)) : undefined), [data, showParams]);
  const layout = useMemo(() => (shown ? layoutPipeline(shown) : undefined), [shown]);

  const setSelected = useCallback((key: string | null) => {
    setSelectedState(key);
    setSearchParams(
      {
        node: key?.startsWith('n:') ? key.slice(2) : null,
        dataset: key?.startsWith('d:') ? key.slice(2) : null,
      },
      { replace: true },
    );
  }, []);

  useEffect(() => {
    const onKey = (e: globalThis.KeyboardEvent) => {
      if (e.key === 'Escape') setSelected(null);
    };
    document.addEventListener('keydown', onKey);
    return () => document.removeEventListener('keydown', onKey);
  }, [setSelected]);

  const onDrawn = useCallback(() => setDrawn(true), []);
  const onHover = useCallback((key: string | null, at?: { x: number; y: number }) => {
    setHovered(key);
    if (at) setPointer(at);
  }, []);
  // A graph without nodes has nothing to draw: it is ready as soon as it is loaded.
  const ready = !!layout && (drawn || data?.nodes.length === 0);
  // Hiding the params hides a selected param too.
  const shownSelected = selected && layout?.byKey.has(selected) ? selected : null;
  useReady(ready);

  if (error) {
    return (
      <div className="page">
        <ErrorBox error={error} title="No pipeline to show" />
      </div>
    );
  }
  if (waiting) {
    return (
      <div className="page">
        <div className="empty" data-testid="pipeline-waiting">
          <span className="spinner" /> The pipeline is still running: its graph is recorded when it ends. This page
          checks again every {WAIT_MS / 1000} s.
        </div>
      </div>
    );
  }
  if (!data || !layout) {
    return (
      <div className="loading">
        <span className="spinner" /> Loading the pipeline…
      </div>
    );
  }

  const failedNode = data.nodes.find((n) => statusClass(n) === 'failed');
  return (
    <div className="page fill pipeline-view" data-ready={ready ? 'true' : undefined} data-testid="pipeline-view">
      <PipelineHeader data={data} />
      {failedNode && (
        <div className="pv-failed" data-testid="pipeline-failed">
          <span className="pv-failed-label">Failed at</span>
          <button className="linklike mono" onClick={() => setSelected(nodeKey(failedNode.name))}>
            {failedNode.name}
          </button>
          {failedNode.error && <span className="pv-failed-error mono">{failedNode.error.split('\n')[0]}</span>}
        </div>
      )}
      <div
        className="pv-graph panel"
        onMouseMove={hovered ? (e) => setPointer({ x: e.clientX, y: e.clientY }) : undefined}
      >
        <div className="pv-graph-bar">
          <Legend />
          <span className="spacer" />
          {data.layers.length > 0 && <span className="faint pv-layers">layers: {data.layers.join(' → ')}</span>}
          <label className="check" title="Show the params (params:...) each node reads">
            <input type="checkbox" checked={showParams} onChange={(e) => setShowParams(e.target.checked)} /> Params
          </label>
        </div>
        <div className="pv-canvas">
          {data.nodes.length === 0 ? (
            <div className="empty">This run recorded no nodes.</div>
          ) : (
            <Dag
              layout={layout}
              selected={shownSelected}
              hovered={hovered}
              onSelect={setSelected}
              onHover={onHover}
              onDrawn={onDrawn}
              reserveRight={360}
            />
          )}
          {shownSelected && (
            <aside className="pv-side" data-testid="pipeline-details">
              <Details data={data} focusKey={shownSelected} onSelect={setSelected} />
            </aside>
          )}
        </div>
      </div>
      {hovered && hovered !== shownSelected && pointer && <HoverCard data={data} itemKey={hovered} x={pointer.x} y={pointer.y} />}
    </div>
  );
}

function PipelineHeader({ data }: { data: PipelineResponse }) {
  const saved = savedByCache(data.nodes);
  return (
    <div className="page-head pv-head">
      <div>
        <h1>
          <span className="muted pv-kicker">Pipeline</span> <span className="mono-title">{data.pipeline}</span>
        </h1>
        <div className="sub">
          run <Link to={`/runs/${encodeURIComponent(data.run_id)}`}>{data.run_name}</Link> · started{' '}
          {formatTime(data.start_time)}
        </div>
      </div>
      <div className="pv-stats">
        <Stat label="Status">
          <StatusBadge status={data.status} />
        </Stat>
        <Stat label="Duration">{formatSeconds(data.duration)}</Stat>
        {STATUS_ORDER.map((s) => (
          <Stat key={s} label={STATUS_LABEL[s]}>
            <span className={`pv-count status-${s.replace(' ', '-')}`} data-testid={`count-${s.replace(' ', '-')}`}>
              <span className="pv-dot" />
              {data.counts[s] ?? 0}
            </span>
          </Stat>
        ))}
        {saved > 0 && <Stat label="Cache saved">{formatSeconds(saved)}</Stat>}
      </div>
    </div>
  );
}

function Stat({ label, children }: { label: string; children: ReactNode }) {
  return (
    <div className="pv-stat">
      <div className="pv-stat-label">{label}</div>
      <div className="pv-stat-value">{children}</div>
    </div>
  );
}

function Legend() {
  return (
    <div className="pv-legend" aria-label="Legend">
      {(['ran', 'cached', 'failed', 'not-run'] as const).map((s) => (
        <span key={s} className={`pv-legend-item status-${s}`}>
          <span className="pv-dot" />
          {STATUS_LABEL[s.replace('-', ' ')]}
        </span>
      ))}
      <span className="pv-legend-item">
        <span className="pv-pill-sample" /> dataset
      </span>
      <span className="pv-legend-item">
        <span className="pv-pill-sample memory" /> memory
      </span>
      <span className="pv-legend-item">
        <span className="pv-pill-sample params" /> params
      </span>
    </div>
  );
}

interface DetailsProps {
  data: PipelineResponse;
  focusKey: string;
  onSelect: (key: string | null) => void;
}

function Details({ data, focusKey, onSelect }: DetailsProps) {
  const node = focusKey.startsWith('n:') ? data.nodes.find((n) => n.name === focusKey.slice(2)) : undefined;
  const dataset = focusKey.startsWith('d:') ? data.datasets.find((d) => d.name === focusKey.slice(2)) : undefined;
  if (node) return <NodeDetails node={node} onSelect={onSelect} />;
  if (dataset) return <DatasetDetails data={data} dataset={dataset} onSelect={onSelect} />;
  return null;
}

/** What the pointer is over, in short: the full details open on click. */
function HoverCard({ data, itemKey, x, y }: { data: PipelineResponse; itemKey: string; x: number; y: number }) {
  const node = itemKey.startsWith('n:') ? data.nodes.find((n) => n.name === itemKey.slice(2)) : undefined;
  const dataset = itemKey.startsWith('d:') ? data.datasets.find((d) => d.name === itemKey.slice(2)) : undefined;
  if (!node && !dataset) return null;
  const left = Math.min(x + 16, window.innerWidth - 380);
  return (
    <div className="tooltip pv-tip" style={{ left, top: y + 14 }} data-testid="dag-tooltip">
      {node ? (
        <>
          <div className="pv-tip-head">
            <strong className="mono">{node.name}</strong>
            <span className={`pv-status status-${statusClass(node)}`}>
              <span className="pv-dot" />
              {STATUS_LABEL[node.status] ?? node.status}
            </span>
          </div>
          <div className="muted">
            {statusClass(node) === 'cached'
              ? `saved ${formatSeconds(node.saved_duration)} (took ${formatSeconds(node.duration)} here)`
              : statusClass(node) === 'not-run'
                ? 'not run: an earlier node failed'
                : `${formatSeconds(node.duration)} · ${node.attempts} ${node.attempts === 1 ? 'attempt' : 'attempts'}`}
          </div>
          <div className="pv-tip-io">
            <span className="faint">in</span> <span className="mono">{node.inputs.join(', ') || '—'}</span>
          </div>
          <div className="pv-tip-io">
            <span className="faint">out</span> <span className="mono">{node.outputs.join(', ') || '—'}</span>
          </div>
          {node.error && <div className="pv-tip-error mono">{node.error.split('\n')[0]}</div>}
        </>
      ) : (
        <>
          <div className="pv-tip-head">
            <strong className="mono">{dataset!.name}</strong>
            <span className="faint">{dataset!.type ?? dataset!.kind ?? ''}</span>
          </div>
          {dataset!.hash && <div className="mono muted">hash {dataset!.hash.slice(0, 16)}…</div>}
          {dataset!.version && <div className="mono muted">version {dataset!.version}</div>}
        </>
      )}
      <div className="faint pv-tip-hint">click for details</div>
    </div>
  );
}

function NameList({ names, kind, onSelect }: { names: string[]; kind: 'n' | 'd'; onSelect: (key: string) => void }) {
  if (!names.length) return <span className="faint">none</span>;
  return (
    <ul className="pv-list">
      {names.map((n) => (
        <li key={n}>
          <button className={`linklike mono${n.startsWith('params:') ? ' muted' : ''}`} onClick={() => onSelect(`${kind}:${n}`)}>
            {n}
          </button>
        </li>
      ))}
    </ul>
  );
}

function NodeDetails({ node, onSelect }: { node: PipelineNode; onSelect: (k: string | null) => void }) {
  const cls = statusClass(node);
  return (
    <div className="pv-details" data-testid="node-details">
      <div className="pv-details-head">
        <span className="pv-details-kind">Node</span>
        <button className="btn ghost small" onClick={() => onSelect(null)} aria-label="Close details">
          ✕
        </button>
      </div>
      <div className="pv-details-title mono">{node.name}</div>
      <span className={`pv-status status-${cls}`}>
        <span className="pv-dot" />
        {STATUS_LABEL[node.status] ?? node.status}
      </span>
      <dl className="kv pv-kv">
        {cls === 'cached' ? (
          <>
            <dt>Saved</dt>
            <dd title="What computing it took in the run that cached it">{formatSeconds(node.saved_duration)}</dd>
            <dt>Took here</dt>
            <dd>{formatSeconds(node.duration)}</dd>
          </>
        ) : (
          <>
            <dt>Duration</dt>
            <dd>{cls === 'not-run' ? '—' : formatSeconds(node.duration)}</dd>
          </>
        )}
        <dt>Attempts</dt>
        <dd>{node.attempts}</dd>
        {node.namespace && (
          <>
            <dt>Namespace</dt>
            <dd className="mono">{node.namespace}</dd>
          </>
        )}
        {node.layer && (
          <>
            <dt>Layer</dt>
            <dd>{node.layer}</dd>
          </>
        )}
        {node.tags.length > 0 && (
          <>
            <dt>Tags</dt>
            <dd className="chips">
              {node.tags.map((t) => (
                <span className="chip" key={t}>
                  {t}
                </span>
              ))}
            </dd>
          </>
        )}
      </dl>
      {node.error && (
        <div className="pv-section">
          <div className="pv-section-title">Error</div>
          <pre className="pv-error" data-testid="node-error">
            {node.error}
          </pre>
        </div>
      )}
      <div className="pv-section">
        <div className="pv-section-title">Inputs</div>
        <NameList names={node.inputs} kind="d" onSelect={onSelect} />
      </div>
      <div className="pv-section">
        <div className="pv-section-title">Outputs</div>
        <NameList names={node.outputs} kind="d" onSelect={onSelect} />
      </div>
    </div>
  );
}

function DatasetDetails({
  data,
  dataset,
  onSelect,
}: {
  data: PipelineResponse;
  dataset: PipelineDataset;
  onSelect: (k: string | null) => void;
}) {
  const [copied, setCopied] = useState(false);
  const timer = useRef<ReturnType<typeof setTimeout>>(undefined);
  useEffect(() => () => clearTimeout(timer.current), []);
  const copy = () => {
    if (!dataset.hash) return;
    navigator.clipboard?.writeText(dataset.hash).then(() => {
      setCopied(true);
      clearTimeout(timer.current);
      timer.current = setTimeout(() => setCopied(false), 1200);
    }, () => undefined);
  };
  const isParams = dataset.kind === 'params';
  return (
    <div className="pv-details" data-testid="dataset-details">
      <div className="pv-details-head">
        <span className="pv-details-kind">{isParams ? 'Params' : dataset.kind === 'memory' ? 'Memory dataset' : 'Dataset'}</span>
        <button className="btn ghost small" onClick={() => onSelect(null)} aria-label="Close details">
          ✕
        </button>
      </div>
      <div className="pv-details-title mono">{dataset.name}</div>
      <dl className="kv pv-kv">
        {dataset.type && (
          <>
            <dt>Type</dt>
            <dd className="mono">{dataset.type}</dd>
          </>
        )}
        {dataset.layer && (
          <>
            <dt>Layer</dt>
            <dd>{dataset.layer}</dd>
          </>
        )}
        {!isParams && (
          <>
            <dt>Hash</dt>
            <dd className="mono pv-hash" data-testid="dataset-hash">
              {dataset.hash ? (
                <>
                  <span title={dataset.hash}>{dataset.hash.slice(0, 16)}…</span>{' '}
                  <button className="linklike small" onClick={copy} title="Copy the full hash">
                    {copied ? 'copied' : 'copy'}
                  </button>
                </>
              ) : (
                <span className="faint">not known</span>
              )}
            </dd>
          </>
        )}
        {dataset.version && (
          <>
            <dt>Version</dt>
            <dd className="mono">{dataset.version}</dd>
          </>
        )}
        {dataset.path && (
          <>
            <dt>Path</dt>
            <dd className="mono pv-path">{dataset.path}</dd>
          </>
        )}
      </dl>
      <div className="pv-section">
        <div className="pv-section-title">Written by</div>
        {dataset.producer ? (
          <NameList names={[dataset.producer]} kind="n" onSelect={onSelect} />
        ) : (
          <span className="faint">{isParams ? 'the config' : 'no node (an input of the pipeline)'}</span>
        )}
      </div>
      <div className="pv-section">
        <div className="pv-section-title">Read by</div>
        <NameList names={dataset.consumers} kind="n" onSelect={onSelect} />
      </div>
      {!isParams && (
        <div className="pv-section">
          <Link to={datasetPath(data.experiment_id, dataset.name)} className="btn small" data-testid="dataset-link">
            Versions and runs that used it →
          </Link>
        </div>
      )}
    </div>
  );
}

export default PipelineView;
