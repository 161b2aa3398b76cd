import { fireEvent, render, screen } from '@testing-library/react';
import { describe, expect, it, vi } from 'vitest';
import { FilterBox } from '../src/components/FilterBox';
import { quoteKey, suggest } from '../src/lib/filterSuggest';

const keys = {
  metrics: ['accuracy', 'acc_top5', 'loss', 'my metric', 'system/cpu_percent'],
  params: ['lr', 'model', 'model.depth'],
  tags: ['team'],
};

describe('suggest', () => {
  it('completes metric keys after "metrics."', () => {
    const r = suggest('metrics.ac', 10, keys);
    expect(r.items.map((s) => s.label)).toEqual(['metrics.accuracy', 'metrics.acc_top5']);
    expect(r.from).toBe(0);
    expect(r.to).toBe(10);
  });

  it('accepts singular and other entity aliases', () => {
    expect(suggest('param.mo', 8, keys).items.map((s) => s.label)).toEqual(['param.model', 'param.model.depth']);
    expect(suggest('attributes.st', 13, keys).items.map((s) => s.label)).toEqual(['attributes.status', 'attributes.start_time']);
  });

  it('offers entity prefixes and matching keys where a comparison starts', () => {
    const labels = suggest('lo', 2, keys).items.map((s) => s.label);
    expect(labels).toContain('metrics.loss');
    expect(suggest('', 0, keys).items.map((s) => s.label)).toEqual(['metrics.', 'params.', 'tags.', 'attributes.']);
    const after = suggest('metrics.loss < 1 and mod', 24, keys).items.map((s) => s.label);
    expect(after).toContain('params.model');
  });

  it('finds keys by a substring after the prefixes that start with it', () => {
    const labels = suggest('metrics.cpu', 11, keys).items.map((s) => s.label);
    expect(labels).toEqual(['metrics.system/cpu_percent']);
  });

  it('quotes keys that need backticks', () => {
    expect(quoteKey('my metric')).toBe('`my metric`');
    expect(quoteKey('system/cpu_percent')).toBe('system/cpu_percent');
    const item = suggest('metrics.my', 10, keys).items[0];
    expect(item.insert).toBe('metrics.`my metric`');
  });

  it('suggests operators after a key and statuses after attributes.status =', () => {
    expect(suggest('metrics.loss ', 13, keys).items.map((s) => s.label)).toContain('<=');
    expect(suggest('attributes.status = ', 20, keys).items.map((s) => s.label)).toContain("'RUNNING'");
  });

  it('suggests nothing inside a quoted value', () => {
    expect(suggest("params.model = 'lg", 18, keys).items).toEqual([]);
  });
});

describe('FilterBox', () => {
  it('shows key suggestions while typing and inserts the chosen one', () => {
    const onSubmit = vi.fn();
    render(<FilterBox value="" keys={keys} onSubmit={onSubmit} />);
    const input = screen.getByTestId('run-filter') as HTMLInputElement;
    fireEvent.focus(input);
    fireEvent.change(input, { target: { value: 'metrics.ac', selectionStart: 10 } });
    const options = screen.getAllByRole('option');
    expect(options.map((o) => o.textContent)).toEqual([expect.stringContaining('metrics.accuracy'), expect.stringContaining('metrics.acc_top5')]);
    fireEvent.keyDown(input, { key: 'ArrowDown' });
    fireEvent.keyDown(input, { key: 'Tab' });
    expect(input.value).toBe('metrics.acc_top5');
    expect(onSubmit).not.toHaveBeenCalled();
  });

  it('accepts a suggestion with the mouse', () => {
    render(<FilterBox value="" keys={keys} onSubmit={() => undefined} />);
    const input = screen.getByTestId('run-filter') as HTMLInputElement;
    fireEvent.focus(input);
    fireEvent.change(input, { target: { value: 'params.m', selectionStart: 8 } });
    fireEvent.mouseDown(screen.getAllByRole('option')[0]);
    expect(input.value).toBe('params.model');
  });

  it('submits the filter on Enter and closes the list with Escape', () => {
    const onSubmit = vi.fn();
    render(<FilterBox value="" keys={keys} onSubmit={onSubmit} />);
    const input = screen.getByTestId('run-filter') as HTMLInputElement;
    fireEvent.focus(input);
    fireEvent.change(input, { target: { value: 'metrics.loss ', selectionStart: 13 } });
    expect(screen.queryByRole('listbox')).not.toBeNull();
    fireEvent.keyDown(input, { key: 'Escape' });
    expect(screen.queryByRole('listbox')).toBeNull();
    fireEvent.change(input, { target: { value: 'metrics.loss < 0.5', selectionStart: 18 } });
    fireEvent.keyDown(input, { key: 'Enter' });
    expect(onSubmit).toHaveBeenCalledWith('metrics.loss < 0.5');
  });

  it('applies the emptied filter on Enter instead of inserting a suggestion', () => {
    const onSubmit = vi.fn();
    render(<FilterBox value="metrics.loss < 0.5" keys={keys} onSubmit={onSubmit} />);
    const input = screen.getByTestId('run-filter') as HTMLInputElement;
    fireEvent.focus(input);
    fireEvent.change(input, { target: { value: '', selectionStart: 0 } });
    expect(screen.queryByRole('listbox')).not.toBeNull(); // the prefixes are offered
    fireEvent.keyDown(input, { key: 'Enter' });
    expect(onSubmit).toHaveBeenCalledWith('');
    expect(input.value).toBe('');
  });

  it('takes a suggestion picked with the arrows on Enter, even for an empty word', () => {
    const onSubmit = vi.fn();
    render(<FilterBox value="" keys={keys} onSubmit={onSubmit} />);
    const input = screen.getByTestId('run-filter') as HTMLInputElement;
    fireEvent.focus(input);
    fireEvent.change(input, { target: { value: '', selectionStart: 0 } });
    fireEvent.keyDown(input, { key: 'ArrowDown' });
    fireEvent.keyDown(input, { key: 'Enter' });
    expect(input.value).toBe('params.');
    expect(onSubmit).not.toHaveBeenCalled();
  });

  it('shows the server error of the applied filter', () => {
    render(<FilterBox value="metrics.loss <" keys={keys} onSubmit={() => undefined} error={{ message: 'expected a value', position: 14 }} />);
    expect(screen.getByTestId('filter-error').textContent).toContain('expected a value');
  });
});
