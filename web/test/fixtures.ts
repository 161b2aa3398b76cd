import type { Run } from '../src/api';

export function makeRun(i: number, over: Partial<Run> = {}): Run {
  return {
    id: `run${String(i).padStart(5, '0')}`,
    name: `run-${i}`,
    experiment_id: '1',
    experiment: 'exp',
    status: 'FINISHED',
    start_time: 1_700_000_000_000 + i * 1000,
    end_time: 1_700_000_000_000 + i * 1000 + 5000,
    parent_id: null,
    params: { lr: String(0.001 * ((i % 10) + 1)), model: i % 2 ? 'lgbm' : 'xgb' },
    metrics: { accuracy: (i % 1000) / 1000, loss: 1 - (i % 1000) / 1000 },
    tags: { team: 'vision' },
    note: '',
    artifact_uri: '',
    deleted: false,
    ...over,
  };
}

export function makeRuns(n: number): Run[] {
  return Array.from({ length: n }, (_, i) => makeRun(i));
}
