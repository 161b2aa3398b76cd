// A tiny client-side router over the history API.
import { useCallback, useSyncExternalStore, type MouseEvent, type ReactNode } from 'react';

const listeners = new Set<() => void>();

function notify(): void {
  for (const l of listeners) l();
}

if (typeof window !== 'undefined') {
  window.addEventListener('popstate', notify);
}

function subscribe(cb: () => void): () => void {
  listeners.add(cb);
  return () => listeners.delete(cb);
}

function snapshot(): string {
  return window.location.pathname + window.location.search;
}

/** Go to a path of the app (pushState), or replace the current entry. */
export function navigate(to: string, opts: { replace?: boolean } = {}): void {
  if (to === snapshot()) return;
  if (opts.replace) window.history.replaceState(null, '', to);
  else window.history.pushState(null, '', to);
  notify();
}

export function useLocation(): { pathname: string; search: string } {
  const loc = useSyncExternalStore(subscribe, snapshot, snapshot);
  const q = loc.indexOf('?');
  return q < 0 ? { pathname: loc, search: '' } : { pathname: loc.slice(0, q), search: loc.slice(q) };
}

/** Set several query parameters of the current URL at once (null removes one). */
export function setSearchParams(values: Record<string, string | null>, opts: { replace?: boolean } = {}): void {
  const params = new URLSearchParams(window.location.search);
  for (const [k, v] of Object.entries(values)) {
    if (v === null || v === '') params.delete(k);
    else params.set(k, v);
  }
  const qs = params.toString();
  navigate(window.location.pathname + (qs ? '?' + qs : ''), opts);
}

/** One query parameter of the URL, and a setter that updates the URL. */
export function useSearchParam(name: string): [string | null, (value: string | null, opts?: { replace?: boolean }) => void] {
  const { search } = useLocation();
  const value = new URLSearchParams(search).get(name);
  const set = useCallback(
    (v: string | null, opts: { replace?: boolean } = {}) => setSearchParams({ [name]: v }, opts),
    [name],
  );
  return [value, set];
}

export function Link(props: {
  to: string;
  className?: string;
  title?: string;
  children: ReactNode;
  'data-testid'?: string;
  onClick?: (e: MouseEvent<HTMLAnchorElement>) => void;
}) {
  const { to, children, onClick, ...rest } = props;
  return (
    <a
      href={to}
      {...rest}
      onClick={(e) => {
        onClick?.(e);
        if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
        e.preventDefault();
        navigate(to);
      }}
    >
      {children}
    </a>
  );
}
