// Suggestions for the run filter box: keys after "metrics." / "params." / "tags." /
// "attributes.", entity prefixes and matching keys where a comparison starts,
// operators after a key, AND / OR after a comparison.
import type { KeySets } from './columns';

export interface Suggestion {
  /** What the list shows. */
  label: string;
  /** The text that replaces [from, to). */
  insert: string;
  kind: 'metric' | 'param' | 'tag' | 'attribute' | 'prefix' | 'operator' | 'keyword' | 'value';
  detail?: string;
}

export interface SuggestResult {
  items: Suggestion[];
  from: number;
  to: number;
}

const ENTITY_ALIASES: Record<string, 'metric' | 'param' | 'tag' | 'attribute'> = {
  metric: 'metric',
  metrics: 'metric',
  param: 'param',
  params: 'param',
  parameter: 'param',
  parameters: 'param',
  tag: 'tag',
  tags: 'tag',
  attribute: 'attribute',
  attributes: 'attribute',
  attr: 'attribute',
  run: 'attribute',
};

export const ATTRIBUTE_KEYS = ['run_id', 'run_name', 'status', 'start_time', 'end_time', 'experiment_id', 'parent_id'];
const STATUSES = ['RUNNING', 'FINISHED', 'FAILED', 'KILLED', 'CRASHED'];
const OPERATORS = ['=', '!=', '>', '>=', '<', '<=', 'LIKE', 'ILIKE', 'IN', 'NOT IN', 'IS NULL', 'IS NOT NULL'];
const MAX_ITEMS = 60;

const KEY_CHAR = /[A-Za-z0-9_\-./:]/;

/** A key as the filter grammar needs it: backticks when it holds other characters. */
export function quoteKey(key: string): string {
  return /^[A-Za-z0-9_\-./:]+$/.test(key) ? key : '`' + key.replace(/`/g, '``') + '`';
}

type Tok = { kind: 'word' | 'string' | 'op' | 'lparen' | 'rparen' | 'comma'; text: string; start: number; end: number };

function tokenize(text: string): Tok[] {
  const toks: Tok[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    const start = i;
    if (c === "'" || c === '"' || c === '`') {
      i++;
      while (i < text.length) {
        if (text[i] === '\\') {
          i += 2;
          continue;
        }
        if (text[i] === c) {
          if (text[i + 1] === c) {
            i += 2;
            continue;
          }
          i++;
          break;
        }
        i++;
      }
      // a backtick-quoted key may follow "metrics." directly: glue it to the word
      const prev = toks[toks.length - 1];
      if (c === '`' && prev && prev.kind === 'word' && prev.end === start && prev.text.endsWith('.')) {
        prev.text += text.slice(start, i);
        prev.end = i;
        continue;
      }
      toks.push({ kind: c === '`' ? 'word' : 'string', text: text.slice(start, i), start, end: i });
      continue;
    }
    if (c === '(' || c === ')' || c === ',') {
      toks.push({ kind: c === '(' ? 'lparen' : c === ')' ? 'rparen' : 'comma', text: c, start, end: i + 1 });
      i++;
      continue;
    }
    if ('<>=!'.includes(c)) {
      i++;
      if (i < text.length && '=>'.includes(text[i])) i++;
      toks.push({ kind: 'op', text: text.slice(start, i), start, end: i });
      continue;
    }
    if (KEY_CHAR.test(c)) {
      while (i < text.length && KEY_CHAR.test(text[i])) i++;
      toks.push({ kind: 'word', text: text.slice(start, i), start, end: i });
      continue;
    }
    i++; // unknown character: skip
  }
  return toks;
}

function rank(names: string[], typed: string): string[] {
  const t = typed.toLowerCase();
  if (!t) return names.slice(0, MAX_ITEMS);
  const prefix: string[] = [];
  const inner: string[] = [];
  for (const n of names) {
    const l = n.toLowerCase();
    if (l.startsWith(t)) prefix.push(n);
    else if (l.includes(t)) inner.push(n);
    if (prefix.length >= MAX_ITEMS) break;
  }
  return prefix.concat(inner).slice(0, MAX_ITEMS);
}

function keysOf(entity: 'metric' | 'param' | 'tag' | 'attribute', keys: KeySets): string[] {
  switch (entity) {
    case 'metric':
      return keys.metrics;
    case 'param':
      return keys.params;
    case 'tag':
      return keys.tags;
    default:
      return ATTRIBUTE_KEYS;
  }
}

const PREFIX_OF = { metric: 'metrics.', param: 'params.', tag: 'tags.', attribute: 'attributes.' } as const;

/** Where a comparison may start: at the beginning, after "(", AND, OR. */
function expectsKey(prev: Tok | undefined): boolean {
  if (!prev) return true;
  if (prev.kind === 'lparen') return true;
  if (prev.kind === 'word') {
    const w = prev.text.toLowerCase();
    return w === 'and' || w === 'or';
  }
  return false;
}

function isKeyToken(t: Tok | undefined): boolean {
  if (!t || t.kind !== 'word') return false;
  const dot = t.text.indexOf('.');
  return dot > 0 && t.text.slice(0, dot).toLowerCase() in ENTITY_ALIASES;
}

/** Suggestions for the text with the cursor at `cursor`. */
export function suggest(text: string, cursor: number, keys: KeySets): SuggestResult {
  // the word under the cursor, to its end
  let from = cursor;
  while (from > 0 && KEY_CHAR.test(text[from - 1])) from--;
  let to = cursor;
  while (to < text.length && KEY_CHAR.test(text[to])) to++;
  const word = text.slice(from, cursor);
  const before = tokenize(text.slice(0, from));
  const prev = before[before.length - 1];
  const none: SuggestResult = { items: [], from: cursor, to: cursor };

  // inside an open quote: nothing to suggest
  const quotes = text.slice(0, cursor).match(/'/g)?.length ?? 0;
  if (quotes % 2 === 1) return none;

  const dot = word.indexOf('.');
  if (dot > 0) {
    const entity = ENTITY_ALIASES[word.slice(0, dot).toLowerCase()];
    if (!entity) return none;
    const typed = word.slice(dot + 1);
    const names = rank(keysOf(entity, keys), typed);
    const items = names
      .filter((n) => !(n === typed && to === cursor && names.length === 1))
      .map((n) => ({
        label: word.slice(0, dot + 1) + n,
        insert: word.slice(0, dot + 1) + quoteKey(n),
        kind: entity,
        detail: entity === 'attribute' ? 'attribute' : entity,
      }));
    return { items, from, to };
  }

  if (expectsKey(prev)) {
    const items: Suggestion[] = [];
    for (const [entity, prefix] of Object.entries(PREFIX_OF) as [keyof typeof PREFIX_OF, string][]) {
      if (prefix.startsWith(word.toLowerCase())) items.push({ label: prefix, insert: prefix, kind: 'prefix', detail: entity === 'attribute' ? 'status, name, times…' : `${entity}s` });
    }
    if (word.length > 0) {
      for (const entity of ['metric', 'param', 'tag', 'attribute'] as const) {
        for (const n of rank(keysOf(entity, keys), word)) {
          items.push({ label: PREFIX_OF[entity] + n, insert: PREFIX_OF[entity] + quoteKey(n), kind: entity, detail: entity });
          if (items.length >= MAX_ITEMS) break;
        }
      }
    }
    return { items, from, to };
  }

  // after a key: operators
  if (isKeyToken(prev)) {
    const key = prev!.text.toLowerCase();
    const ops = key.endsWith('.status') ? ['=', '!=', 'IN'] : OPERATORS;
    const items = ops
      .filter((o) => o.toLowerCase().startsWith(word.toLowerCase()))
      .map((o) => ({ label: o, insert: o + ' ', kind: 'operator' as const }));
    return { items, from, to };
  }

  // after "attributes.status =": statuses
  if (prev && prev.kind === 'op' && isKeyToken(before[before.length - 2]) && before[before.length - 2].text.toLowerCase().endsWith('.status')) {
    const items = STATUSES.filter((s) => s.toLowerCase().startsWith(word.toLowerCase())).map((s) => ({
      label: `'${s}'`,
      insert: `'${s}' `,
      kind: 'value' as const,
    }));
    return { items, from, to };
  }

  // after a complete comparison: AND / OR
  if (prev && (prev.kind === 'string' || prev.kind === 'rparen' || (prev.kind === 'word' && /^-?[0-9.]/.test(prev.text)) || (prev.kind === 'word' && prev.text.toLowerCase() === 'null'))) {
    if (word.length === 0) return none;
    const items = ['AND', 'OR']
      .filter((k) => k.toLowerCase().startsWith(word.toLowerCase()))
      .map((k) => ({ label: k, insert: k + ' ', kind: 'keyword' as const }));
    return { items, from, to };
  }
  return none;
}
