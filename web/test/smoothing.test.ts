import { describe, expect, it } from 'vitest';
import { alignSeries } from '../src/lib/chart';
import { emaSmooth } from '../src/lib/smoothing';

describe('emaSmooth', () => {
  it('returns the values unchanged with weight 0', () => {
    expect(emaSmooth([1, 5, 2], 0)).toEqual([1, 5, 2]);
  });

  it('is debiased: the first point is the first value and a constant stays constant', () => {
    const out = emaSmooth([3, 3, 3, 3], 0.9);
    for (const v of out) expect(v).toBeCloseTo(3, 10);
    expect(emaSmooth([10, 0], 0.5)[0]).toBeCloseTo(10, 10);
  });

  it('follows the exponential moving average', () => {
    // last = 0.5*0 + 0.5*10 = 5 -> /(1-0.5) = 10; then 0.5*5 + 0.5*0 = 2.5 -> /(1-0.25) = 3.333
    const out = emaSmooth([10, 0], 0.5);
    expect(out[1]).toBeCloseTo(10 / 3, 10);
  });

  it('reduces the noise of a noisy series', () => {
    const noisy = Array.from({ length: 1000 }, (_, i) => Math.sin(i / 100) + (i % 2 ? 0.5 : -0.5));
    const smooth = emaSmooth(noisy, 0.9) as number[];
    const jump = (a: number[]) => a.slice(1).reduce((s, v, i) => s + Math.abs(v - a[i]), 0);
    expect(jump(smooth)).toBeLessThan(jump(noisy) / 5);
  });

  it('passes NaN and missing values through without disturbing the average', () => {
    const out = emaSmooth([1, NaN, null, 1], 0.6);
    expect(out[1]).toBeNaN();
    expect(out[2]).toBeNull();
    expect(out[3]).toBeCloseTo(1, 10);
  });
});

describe('alignSeries', () => {
  it('merges series on the union of their x values', () => {
    const d = alignSeries([
      { x: [0, 1, 2], y: [1, 2, 3] },
      { x: [1, 3], y: [5, 6] },
    ]);
    expect(d[0]).toEqual([0, 1, 2, 3]);
    expect(d[1]).toEqual([1, 2, 3, null]);
    expect(d[2]).toEqual([null, 5, null, 6]);
  });

  it('bins onto a grid when the union is too large', () => {
    const a = { x: Array.from({ length: 15000 }, (_, i) => i * 2), y: Array.from({ length: 15000 }, () => 1) };
    const b = { x: Array.from({ length: 15000 }, (_, i) => i * 2 + 1), y: Array.from({ length: 15000 }, () => 2) };
    const d = alignSeries([a, b], 500);
    expect(d[0]).toHaveLength(500);
    expect(Array.from(d[1] as ArrayLike<number | null>).filter((v) => v === 1).length).toBeGreaterThan(400);
    expect(Array.from(d[2] as ArrayLike<number | null>).filter((v) => v === 2).length).toBeGreaterThan(400);
  });
});

describe('tickLabel', () => {
  it('writes compact axis labels without losing zeros', async () => {
    const { tickLabel } = await import('../src/lib/chart');
    expect(tickLabel(200000)).toBe('200k');
    expect(tickLabel(1500000)).toBe('1.5M');
    expect(tickLabel(10000)).toBe('10k');
    expect(tickLabel(0.25)).toBe('0.25');
    expect(tickLabel(0.00002)).toBe('2.0e-5');
    expect(tickLabel(0)).toBe('0');
  });
});
