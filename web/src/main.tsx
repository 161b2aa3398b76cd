import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import 'uplot/dist/uPlot.min.css';
import './styles.css';
import { api } from './api';
import { App } from './App';
import { initTheme } from './lib/theme';

initTheme();
// Who is signed in (and the CSRF token for writes): asked while React starts.
api.me().catch(() => undefined);
createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <App />
  </StrictMode>,
);
