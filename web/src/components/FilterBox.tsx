// The run filter: the server's filter grammar, with autocompletion of keys.
import { useEffect, useMemo, useRef, useState, type KeyboardEvent } from 'react';
import type { KeySets } from '../lib/columns';
import { suggest, type Suggestion } from '../lib/filterSuggest';

export interface FilterBoxProps {
  /** The applied filter. */
  value: string;
  onSubmit: (filter: string) => void;
  keys: KeySets;
  /** The server's complaint about the applied filter. */
  error?: { message: string; position?: number } | null;
  placeholder?: string;
}

const KIND_LABEL: Record<Suggestion['kind'], string> = {
  metric: 'metric',
  param: 'param',
  tag: 'tag',
  attribute: 'attribute',
  prefix: '',
  operator: 'operator',
  keyword: '',
  value: 'status',
};

export function FilterBox({ value, onSubmit, keys, error, placeholder }: FilterBoxProps) {
  const [text, setText] = useState(value);
  const [cursor, setCursor] = useState(value.length);
  const [open, setOpen] = useState(false);
  const [active, setActive] = useState(0);
  // the user moved through the list with the arrow keys: Enter takes the highlighted item
  const [picked, setPicked] = useState(false);
  const input = useRef<HTMLInputElement>(null);
  const list = useRef<HTMLUListElement>(null);

  useEffect(() => setText(value), [value]);

  const result = useMemo(() => (open ? suggest(text, cursor, keys) : null), [open, text, cursor, keys]);
  const items = result?.items ?? [];
  const shown = open && items.length > 0;

  useEffect(() => {
    setActive(0);
    setPicked(false);
  }, [text, cursor]);
  useEffect(() => {
    const el = list.current?.children[active] as HTMLElement | undefined;
    el?.scrollIntoView?.({ block: 'nearest' });
  }, [active]);

  function accept(item: Suggestion) {
    if (!result) return;
    const next = text.slice(0, result.from) + item.insert + text.slice(result.to);
    const pos = result.from + item.insert.length;
    setText(next);
    setCursor(pos);
    setOpen(true);
    requestAnimationFrame(() => {
      input.current?.focus();
      input.current?.setSelectionRange(pos, pos);
    });
  }

  function onKeyDown(e: KeyboardEvent<HTMLInputElement>) {
    if (shown && e.key === 'ArrowDown') {
      e.preventDefault();
      setPicked(true);
      setActive((a) => (a + 1) % items.length);
    } else if (shown && e.key === 'ArrowUp') {
      e.preventDefault();
      setPicked(true);
      setActive((a) => (a - 1 + items.length) % items.length);
    } else if (shown && (e.key === 'Tab' || (e.key === 'Enter' && items[active] && !e.ctrlKey && !e.metaKey))) {
      // Enter accepts a suggestion only when the word is begun and not complete already,
      // or one was picked with the arrows: Enter in an emptied box applies the empty filter
      const item = items[active];
      const typed = result ? text.slice(result.from, result.to) : '';
      if (e.key === 'Enter' && !picked && (typed.trim() === '' || typed === item.insert.trim() || typed === item.label)) {
        e.preventDefault();
        setOpen(false);
        onSubmit(text.trim());
        return;
      }
      e.preventDefault();
      accept(item);
    } else if (e.key === 'Enter') {
      e.preventDefault();
      setOpen(false);
      onSubmit(text.trim());
    } else if (e.key === 'Escape') {
      if (shown) {
        e.preventDefault();
        setOpen(false);
      } else if (text !== value) {
        setText(value);
      }
    }
  }

  const sync = () => {
    const el = input.current;
    if (el) setCursor(el.selectionStart ?? el.value.length);
  };

  return (
    <div className="filter-box">
      <div className={'filter-input' + (error ? ' invalid' : '')}>
        <svg className="filter-icon" width="14" height="14" viewBox="0 0 16 16" fill="none" stroke="currentColor" strokeWidth="1.6" aria-hidden="true">
          <circle cx="7" cy="7" r="4.5" />
          <path d="M10.5 10.5 14 14" strokeLinecap="round" />
        </svg>
        <input
          ref={input}
          type="text"
          data-testid="run-filter"
          aria-label="Filter runs"
          role="combobox"
          aria-expanded={shown}
          aria-autocomplete="list"
          spellCheck={false}
          autoComplete="off"
          placeholder={placeholder ?? "Filter: metrics.accuracy > 0.9 and params.model = 'lgbm'"}
          value={text}
          onChange={(e) => {
            setText(e.target.value);
            setCursor(e.target.selectionStart ?? e.target.value.length);
            setOpen(true);
          }}
          onKeyDown={onKeyDown}
          onKeyUp={(e) => {
            if (e.key === 'ArrowLeft' || e.key === 'ArrowRight' || e.key === 'Home' || e.key === 'End') sync();
          }}
          onClick={() => {
            sync();
            setOpen(true);
          }}
          onFocus={() => setOpen(true)}
          onBlur={() => setTimeout(() => setOpen(false), 150)}
        />
        {text && (
          <button
            className="filter-clear"
            title="Clear the filter"
            aria-label="Clear the filter"
            onMouseDown={(e) => e.preventDefault()}
            onClick={() => {
              setText('');
              onSubmit('');
            }}
          >
            ×
          </button>
        )}
        {text.trim() !== value.trim() && <span className="filter-hint">press <kbd>Enter</kbd></span>}
      </div>
      {shown && (
        <ul className="popover menu-list filter-suggestions" role="listbox" ref={list} data-testid="filter-suggestions">
          {items.map((item, i) => (
            <li
              key={item.kind + item.label}
              role="option"
              aria-selected={i === active}
              className={i === active ? 'active' : ''}
              onMouseDown={(e) => {
                e.preventDefault();
                accept(item);
              }}
              onMouseEnter={() => setActive(i)}
            >
              <span className={'sugg-kind sugg-' + item.kind} aria-hidden="true" />
              <span className="mono">{item.label}</span>
              {(item.detail || KIND_LABEL[item.kind]) && <span className="hint">{item.detail ?? KIND_LABEL[item.kind]}</span>}
            </li>
          ))}
        </ul>
      )}
      {error && (
        <div className="filter-error" role="alert" data-testid="filter-error">
          {error.message}
        </div>
      )}
    </div>
  );
}
