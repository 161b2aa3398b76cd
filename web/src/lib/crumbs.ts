// The breadcrumb of the top bar, set by the view on show.
import { useEffect, useSyncExternalStore } from 'react';

export interface Crumb {
  label: string;
  to?: string;
}

let current: Crumb[] = [];
const listeners = new Set<() => void>();

export function setCrumbs(crumbs: Crumb[]): void {
  current = crumbs;
  const last = crumbs[crumbs.length - 1];
  document.title = last ? `${last.label} · tane` : 'tane';
  for (const l of listeners) l();
}

/** Show these crumbs in the top bar while the calling view is shown. */
export function useCrumbs(crumbs: Crumb[]): void {
  const key = JSON.stringify(crumbs);
  useEffect(() => {
    setCrumbs(JSON.parse(key) as Crumb[]);
  }, [key]);
}

export function useCurrentCrumbs(): Crumb[] {
  return useSyncExternalStore(
    (cb) => {
      listeners.add(cb);
      return () => listeners.delete(cb);
    },
    () => current,
    () => current,
  );
}
