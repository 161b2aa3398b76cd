// Page readiness for the benchmarks and end-to-end tests:
// data-ready="true" on #root and window.__TANE_READY__ once a view's data is drawn.
import { useEffect } from 'react';

declare global {
  interface Window {
    __TANE_READY__?: boolean;
  }
}

export function setReady(ready: boolean): void {
  const root = document.getElementById('root');
  if (ready) {
    root?.setAttribute('data-ready', 'true');
    window.__TANE_READY__ = true;
  } else {
    root?.removeAttribute('data-ready');
    window.__TANE_READY__ = false;
  }
}

/** Mark the page ready once `ready` is true (after the browser has painted), not ready while it is false. */
export function useReady(ready: boolean): void {
  useEffect(() => {
    if (!ready) {
      setReady(false);
      return;
    }
    let cancelled = false;
    const id = requestAnimationFrame(() => {
      if (!cancelled) setReady(true);
    });
    return () => {
      cancelled = true;
      cancelAnimationFrame(id);
    };
  }, [ready]);
}
