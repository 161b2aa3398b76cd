// The JSON of GET /api/v1/runs/{id}/sweep (tane.server.view_schemas: SweepOut).
// Objective values may be "NaN", "Infinity" or "-Infinity" strings: read them with toNumber.

export type TrialState = 'COMPLETE' | 'PRUNED' | 'FAILED' | 'RUNNING';
export type JsonFloat = number | string;

export interface SweepSettings {
  sampler: string | null;
  sampler_options: Record<string, unknown>;
  pruner: string | null;
  pruner_options: Record<string, unknown>;
  /** `minimize`/`maximize` per objective; null until a define-by-run sweep ends. */
  directions: string[] | null;
  objectives: string[] | null;
  trials: number | null;
  timeout: number | null;
  seed: number | null;
  target: number | null;
  constraints: string[];
  importance: string | null;
  overrides: string[] | null;
  fixed: string[];
}

export interface SpaceParam {
  name: string;
  /** `log [0.0001, 1]`, `int [3, 31]`, `choice(a, b)`; null until recorded. */
  distribution: string | null;
  kind: 'float' | 'int' | 'categorical' | null;
}

export interface Trial {
  run_id: string;
  run_name: string;
  number: number | null;
  state: TrialState;
  run_status: string;
  params: Record<string, unknown>;
  /** COMPLETE trials only. */
  values: JsonFloat[] | null;
  feasible: boolean | null;
  error: string | null;
  start_time: number;
  end_time: number | null;
  duration: number | null;
  intermediate_count: number | null;
  last_intermediate: JsonFloat | null;
}

export interface BestSoFarPoint {
  number: number | null;
  run_id: string;
  value: JsonFloat;
  best: JsonFloat;
}

export interface SweepResponse {
  run_id: string;
  run_name: string;
  experiment_id: string;
  status: string;
  start_time: number;
  end_time: number | null;
  finished: boolean;
  stopped_by: string | null;
  settings: SweepSettings;
  space: SpaceParam[];
  counts: Record<string, number>;
  /** By number. */
  trials: Trial[];
  best_trial: Trial | null;
  best_so_far: BestSoFarPoint[];
  pareto_front: string[];
  /** Most important first; null until the sweep ends, empty if not computable. */
  importances: Record<string, number> | null;
}
