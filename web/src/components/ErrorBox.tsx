import { Component, type ReactNode } from 'react';
import { ApiError } from '../api';

export function ErrorBox({ error, title }: { error: unknown; title?: string }) {
  const e = error as Error;
  const kind = e instanceof ApiError ? `${e.type} (${e.status})` : e?.name ?? 'Error';
  return (
    <div className="error" role="alert">
      <strong>{title ?? kind}</strong>
      {title ? ` — ${kind}` : ''}
      {'\n'}
      {e?.message ?? String(error)}
    </div>
  );
}

export class ErrorBoundary extends Component<{ children: ReactNode }, { error: unknown }> {
  state = { error: null as unknown };
  static getDerivedStateFromError(error: unknown) {
    return { error };
  }
  render() {
    if (this.state.error) {
      return (
        <div className="page">
          <ErrorBox error={this.state.error} title="This view failed" />
        </div>
      );
    }
    return this.props.children;
  }
}
