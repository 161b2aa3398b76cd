// The JSON of GET /api/v1/runs/{id}/pipeline and /api/v1/experiments/{id}/datasets/{name}
// (tane.server.view_schemas: PipelineOut, DatasetOut). Times are ms, durations seconds.

export type NodeStatus = 'ran' | 'cached' | 'failed' | 'not run';
export type DatasetKind = 'dataset' | 'memory' | 'params';

export interface PipelineNode {
  name: string;
  namespace: string | null;
  tags: string[];
  /** Dataset names, params (`params:x`) included. */
  inputs: string[];
  outputs: string[];
  /** `ran`, `cached`, `failed` or `not run`; kept a string for statuses added later. */
  status: NodeStatus | string;
  cached: boolean;
  duration: number;
  /** For a cached node: seconds the run that computed it took. */
  saved_duration: number;
  attempts: number;
  error: string | null;
  rank: number;
  layer: string | null;
}

export interface PipelineDataset {
  name: string;
  /** Null if no node that touches it ran. */
  kind: DatasetKind | null;
  type: string | null;
  layer: string | null;
  rank: number;
  producer: string | null;
  consumers: string[];
  hash: string | null;
  version: string | null;
  path: string | null;
}

export interface PipelineEdge {
  source: string;
  target: string;
  /** `writes`: node source -> dataset target; `reads`: dataset source -> node target. */
  kind: 'reads' | 'writes';
}

export interface NodeEdge {
  source: string;
  target: string;
}

export interface LineageRecord {
  dataset: string;
  direction: 'read' | 'write' | string;
  node: string;
  hash: string | null;
  path: string | null;
  version: string | null;
  kind: string;
}

export interface PipelineResponse {
  run_id: string;
  run_name: string;
  experiment_id: string;
  status: string;
  start_time: number;
  end_time: number | null;
  pipeline: string;
  duration: number;
  counts: Record<string, number>;
  nodes: PipelineNode[];
  datasets: PipelineDataset[];
  edges: PipelineEdge[];
  node_edges: NodeEdge[];
  layers: string[];
  lineage: LineageRecord[];
}

export interface DatasetUse {
  run_id: string;
  run_name: string;
  run_status: string;
  start_time: number;
  end_time: number | null;
  direction: 'read' | 'write' | string;
  node: string;
  /** On a write: the node was taken from the cache (content computed by an earlier run). */
  cached: boolean;
  hash: string | null;
  version: string | null;
  path: string | null;
}

export interface DatasetVersion {
  /** Null when the content cannot be known (SQL, APIs). */
  hash: string | null;
  version: string | null;
  paths: string[];
  first_seen: number;
  last_seen: number;
  written_by: DatasetUse[];
  read_by: DatasetUse[];
}

export interface DatasetResponse {
  experiment_id: string;
  name: string;
  kind: string;
  type: string | null;
  layer: string | null;
  /** Newest first. */
  versions: DatasetVersion[];
  /** Every read and write, newest run first. */
  uses: DatasetUse[];
  runs_scanned: number;
  truncated: boolean;
}
