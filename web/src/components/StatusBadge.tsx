const KIND: Record<string, string> = {
  RUNNING: 'running',
  FINISHED: 'ok',
  COMPLETE: 'ok',
  FAILED: 'err',
  CRASHED: 'err',
  KILLED: 'warn',
  PRUNED: 'warn',
};

export function StatusBadge({ status, title }: { status: string; title?: string }) {
  const kind = KIND[status?.toUpperCase?.() ?? ''] ?? 'neutral';
  return (
    <span className={`badge badge-${kind}`} title={title ?? status} data-status={status}>
      {kind === 'running' && <span className="badge-pulse" aria-hidden="true" />}
      {status ? status.charAt(0) + status.slice(1).toLowerCase() : '—'}
    </span>
  );
}

export default StatusBadge;
