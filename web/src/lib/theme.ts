// Light and dark themes: follow prefers-color-scheme unless the user chose one.
import { useSyncExternalStore } from 'react';

export type ThemeChoice = 'light' | 'dark' | 'system';
const KEY = 'tane.theme';
const listeners = new Set<() => void>();

function media(): MediaQueryList | null {
  return typeof window !== 'undefined' && window.matchMedia ? window.matchMedia('(prefers-color-scheme: dark)') : null;
}

export function themeChoice(): ThemeChoice {
  try {
    const v = localStorage.getItem(KEY);
    if (v === 'light' || v === 'dark') return v;
  } catch {
    // storage unavailable
  }
  return 'system';
}

export function resolvedTheme(): 'light' | 'dark' {
  const c = themeChoice();
  if (c !== 'system') return c;
  return media()?.matches ? 'dark' : 'light';
}

function apply(): void {
  document.documentElement.dataset.theme = resolvedTheme();
  for (const l of listeners) l();
}

export function setThemeChoice(c: ThemeChoice): void {
  // choosing what the system prefers anyway follows the system again
  if (c !== 'system' && (media()?.matches ? 'dark' : 'light') === c) c = 'system';
  try {
    if (c === 'system') localStorage.removeItem(KEY);
    else localStorage.setItem(KEY, c);
  } catch {
    // storage unavailable: applies to this page only
  }
  apply();
}

/** Apply the theme now and follow the system's changes. */
export function initTheme(): void {
  apply();
  media()?.addEventListener?.('change', apply);
}

function subscribe(cb: () => void): () => void {
  listeners.add(cb);
  return () => listeners.delete(cb);
}

/** The theme in use ("light" or "dark"); re-renders when it changes. */
export function useTheme(): 'light' | 'dark' {
  return useSyncExternalStore(subscribe, resolvedTheme, () => 'light');
}
