// How a node's outcome is shown: class, icon, label and the line under its name.
import { formatSeconds } from '../../lib/format';
import type { PipelineNode } from './types';

export type StatusClass = 'ran' | 'cached' | 'failed' | 'not-run' | 'unknown';

export const STATUS_ORDER = ['ran', 'cached', 'failed', 'not run'] as const;

export const STATUS_LABEL: Record<string, string> = {
  ran: 'Ran',
  cached: 'Cached',
  failed: 'Failed',
  'not run': 'Not run',
};

/** The CSS class of a node's status (`not run` -> `not-run`). */
export function statusClass(node: Pick<PipelineNode, 'status' | 'cached'>): StatusClass {
  const s = (node.status || '').toLowerCase();
  if (s === 'failed') return 'failed';
  if (s === 'cached' || (node.cached && s !== 'not run')) return 'cached';
  if (s === 'ran') return 'ran';
  if (s === 'not run') return 'not-run';
  return 'unknown';
}

/** A short line for the node box: duration, what the cache saved, or why it did not run. */
export function nodeMeta(node: PipelineNode): string {
  const cls = statusClass(node);
  if (cls === 'cached') return node.saved_duration > 0 ? `cached · saved ${formatSeconds(node.saved_duration)}` : 'cached';
  if (cls === 'failed') {
    const tries = node.attempts > 1 ? ` · ${node.attempts} attempts` : '';
    return `failed after ${formatSeconds(node.duration)}${tries}`;
  }
  if (cls === 'not-run') return 'not run';
  const tries = node.attempts > 1 ? ` · ${node.attempts} attempts` : '';
  return `${formatSeconds(node.duration)}${tries}`;
}

/** Seconds the cache saved this run: what the cached nodes took when they were computed. */
export function savedByCache(nodes: PipelineNode[]): number {
  return nodes.filter((n) => statusClass(n) === 'cached').reduce((s, n) => s + (n.saved_duration || 0), 0);
}
