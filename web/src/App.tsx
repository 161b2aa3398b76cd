import { lazy, Suspense, useEffect, useLayoutEffect, useState, type ReactNode } from 'react';
import { api, loginUrl, postJson, type Me } from './api';
import { ErrorBoundary } from './components/ErrorBox';
import { ThemeToggle } from './components/ThemeToggle';
import { useCrumbs, useCurrentCrumbs } from './lib/crumbs';
import { setReady, useReady } from './lib/ready';
import { Link, useLocation } from './lib/router';
import { ExperimentsView } from './views/experiments/ExperimentsView';
import { RunsView } from './views/runs/RunsView';
import { RunView } from './views/run/RunView';
import { CompareView } from './views/compare/CompareView';

const PipelineView = lazy(() => import('./views/pipeline/PipelineView').then((m) => ({ default: m.PipelineView })));
const DatasetView = lazy(() => import('./views/pipeline/DatasetView').then((m) => ({ default: m.DatasetView })));
const SweepView = lazy(() => import('./views/sweep/SweepView').then((m) => ({ default: m.SweepView })));

const dec = (s: string) => {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
};

/** The view for a path, or null. */
export function route(pathname: string): ReactNode {
  const p = pathname.replace(/\/+$/, '') || '/';
  let m: RegExpMatchArray | null;
  if (p === '/') return <ExperimentsView />;
  if ((m = p.match(/^\/experiments\/([^/]+)\/datasets\/(.+)$/)))
    return <DatasetView experimentId={dec(m[1])} name={dec(m[2])} />;
  if ((m = p.match(/^\/experiments\/([^/]+)$/))) return <RunsView experimentId={dec(m[1])} />;
  if ((m = p.match(/^\/runs\/([^/]+)\/pipeline$/))) return <PipelineView runId={dec(m[1])} />;
  if ((m = p.match(/^\/runs\/([^/]+)\/sweep$/))) return <SweepView runId={dec(m[1])} />;
  if ((m = p.match(/^\/runs\/([^/]+)$/))) return <RunView runId={dec(m[1])} />;
  if (p === '/compare') return <CompareView />;
  return null;
}

function Crumbs() {
  const crumbs = useCurrentCrumbs();
  return (
    <nav className="crumbs" aria-label="Breadcrumb">
      {crumbs.map((c, i) => (
        <span key={i} className="row" style={{ gap: 6, minWidth: 0 }}>
          <span className="sep">/</span>
          {c.to && i < crumbs.length - 1 ? (
            <Link to={c.to}>{c.label}</Link>
          ) : (
            <span className="current" title={c.label}>
              {c.label}
            </span>
          )}
        </span>
      ))}
    </nav>
  );
}

function UserChip() {
  const [me, setMe] = useState<Me | null>(null);
  useEffect(() => {
    api.me().then(setMe, () => setMe(null));
  }, []);
  if (!me?.auth) return null;
  return (
    <span className="row user-chip">
      <span title={`${me.role ?? ''} · via ${me.via ?? ''}`}>{me.user}</span>
      <button
        className="btn small ghost"
        onClick={async () => {
          try {
            await postJson('/auth/logout', {});
          } finally {
            api.resetMe();
            window.location.assign(loginUrl());
          }
        }}
      >
        Sign out
      </button>
    </span>
  );
}

function NotFound({ pathname }: { pathname: string }) {
  useCrumbs([{ label: 'Not found' }]);
  useReady(true);
  return (
    <div className="page">
      <div className="empty" data-testid="not-found">
        <h2>Not found</h2>
        <p>
          Nothing lives at <code>{pathname}</code>. <Link to="/">Back to the experiments</Link>
        </p>
      </div>
    </div>
  );
}

export function App() {
  const { pathname } = useLocation();
  // A new view is not ready until it says so.
  useLayoutEffect(() => {
    setReady(false);
    window.scrollTo?.(0, 0);
  }, [pathname]);
  const view = route(pathname);
  return (
    <>
      <header className="topbar">
        <Link to="/" className="brand" title="Experiments">
          <span className="brand-mark" aria-hidden="true">
            <svg width="14" height="14" viewBox="0 0 16 16">
              <path
                d="M8 14V7.5M8 8C6 8 4.5 6.5 4.5 4.5 6.5 4.5 8 6 8 8zm0 0c2 0 3.5-1.5 3.5-3.5C9.5 4.5 8 6 8 8z"
                fill="none"
                stroke="#fff"
                strokeWidth="1.5"
                strokeLinecap="round"
                strokeLinejoin="round"
              />
            </svg>
          </span>
          tane
        </Link>
        <Crumbs />
        <span className="spacer" />
        <UserChip />
        <ThemeToggle />
      </header>
      <main className="main">
        <ErrorBoundary key={pathname}>
          <Suspense fallback={<div className="loading"><span className="spinner" /> Loading…</div>}>
            {view ?? <NotFound pathname={pathname} />}
          </Suspense>
        </ErrorBoundary>
      </main>
    </>
  );
}
