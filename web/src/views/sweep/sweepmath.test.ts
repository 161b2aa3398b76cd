import { describe, expect, it } from 'vitest';
import maximize from './fixtures/sweep_maximize.json';
import multi from './fixtures/sweep_multi.json';
import pruned from './fixtures/sweep_pruned_failed.json';
import { importanceRows } from './Importances';
import {
  computeBestSoFar,
  historyOf,
  linearTicks,
  logTicks,
  normalize,
  paramAxis,
  paretoFront,
  parseDistribution,
  sortTrials,
  trialValue,
} from './sweepmath';
import type { SweepResponse, Trial } from './types';

const MAX = maximize as unknown as SweepResponse;
const MIN = pruned as unknown as SweepResponse;
const MULTI = multi as unknown as SweepResponse;

function trial(number: number, state: Trial['state'], value: number | string | null, extra: Partial<Trial> = {}): Trial {
  return {
    run_id: `r${number}`,
    run_name: `t${number}`,
    number,
    state,
    run_status: state === 'COMPLETE' ? 'FINISHED' : state,
    params: { x: number },
    values: value === null ? null : [value],
    feasible: null,
    error: null,
    start_time: 1000 + number,
    end_time: 2000 + number,
    duration: number / 10,
    intermediate_count: null,
    last_intermediate: null,
    ...extra,
  };
}

describe('computeBestSoFar', () => {
  const trials = [
    trial(0, 'COMPLETE', 5),
    trial(1, 'COMPLETE', 3),
    trial(2, 'PRUNED', null),
    trial(3, 'COMPLETE', 4),
    trial(4, 'FAILED', null),
    trial(5, 'COMPLETE', 1),
    trial(6, 'COMPLETE', 'NaN'),
    trial(7, 'COMPLETE', 7),
    trial(8, 'COMPLETE', 0, { feasible: false }),
  ];

  it('keeps the lowest value so far when minimizing', () => {
    const h = computeBestSoFar(trials, 'minimize');
    expect(h.map((p) => p.number)).toEqual([0, 1, 3, 5, 7]);
    expect(h.map((p) => p.best)).toEqual([5, 3, 3, 1, 1]);
    expect(h.map((p) => p.value)).toEqual([5, 3, 4, 1, 7]);
  });

  it('keeps the highest value so far when maximizing', () => {
    const h = computeBestSoFar(trials, 'maximize');
    expect(h.map((p) => p.best)).toEqual([5, 5, 5, 5, 7]);
  });

  it('follows trial numbers, not the order given', () => {
    const h = computeBestSoFar([...trials].reverse(), 'minimize');
    expect(h.map((p) => p.number)).toEqual([0, 1, 3, 5, 7]);
  });

  it('agrees with the server on real sweeps (maximize and minimize)', () => {
    for (const s of [MAX, MIN]) {
      const dir = s.settings.directions![0] as 'minimize' | 'maximize';
      const h = computeBestSoFar(s.trials, dir);
      expect(h.map((p) => [p.number, p.value, p.best])).toEqual(
        s.best_so_far.map((p) => [p.number, Number(p.value), Number(p.best)]),
      );
      const best = h[h.length - 1].best;
      expect(trialValue(s.best_trial!)).toBe(best);
    }
  });

  it('uses the server’s history when the direction is not recorded yet', () => {
    const running: SweepResponse = {
      ...MIN,
      settings: { ...MIN.settings, directions: null },
      best_so_far: [{ number: 0, run_id: 'a', value: 2, best: 2 }, { number: 1, run_id: 'b', value: 'Infinity', best: 2 }],
    };
    expect(historyOf(running)).toEqual([
      { number: 0, run_id: 'a', value: 2, best: 2 },
      { number: 1, run_id: 'b', value: Infinity, best: 2 },
    ]);
    expect(historyOf(MULTI)).toBeNull();
  });
});

describe('sortTrials', () => {
  const trials = [trial(0, 'COMPLETE', 2), trial(1, 'PRUNED', null), trial(2, 'COMPLETE', 0.5), trial(3, 'FAILED', null), trial(4, 'COMPLETE', 9)];

  it('sorts by value either way, trials without one last', () => {
    expect(sortTrials(trials, 'value:0').map((t) => t.number)).toEqual([2, 0, 4, 1, 3]);
    expect(sortTrials(trials, 'value:0', true).map((t) => t.number)).toEqual([4, 0, 2, 1, 3]);
  });

  it('sorts by number, state, duration and params', () => {
    expect(sortTrials(trials, 'number', true).map((t) => t.number)).toEqual([4, 3, 2, 1, 0]);
    expect(sortTrials(trials, 'state').map((t) => t.state)).toEqual(['COMPLETE', 'COMPLETE', 'COMPLETE', 'PRUNED', 'FAILED']);
    expect(sortTrials(trials, 'duration', true)[0].number).toBe(4);
    const cats = MIN.trials.map((t) => ({ ...t }));
    const sorted = sortTrials(cats, 'param:activation');
    const names = sorted.map((t) => String(t.params.activation));
    expect(names).toEqual([...names].sort());
  });
});

describe('axes', () => {
  it('reads the sweep syntax', () => {
    expect(parseDistribution('log [0.01, 0.5]')).toEqual({ log: true, int: false, low: 0.01, high: 0.5, choices: null });
    expect(parseDistribution('int [3, 31]')).toMatchObject({ int: true, low: 3, high: 31 });
    expect(parseDistribution('log int [1, 64] step 2')).toMatchObject({ log: true, int: true, low: 1, high: 64 });
    expect(parseDistribution('choice(relu, tanh)')!.choices).toEqual(['relu', 'tanh']);
    expect(parseDistribution(null)).toBeNull();
  });

  it('puts log params on a log axis, categories evenly, ints as ints', () => {
    const lr = paramAxis(MAX.space[0], MAX.trials);
    expect(lr.kind).toBe('log');
    expect(lr.min).toBeCloseTo(0.01);
    expect(lr.max).toBeCloseTo(0.5);
    expect(normalize(lr, 0.01)).toBeCloseTo(0);
    expect(normalize(lr, 0.5)).toBeCloseTo(1);
    const leaves = paramAxis(MAX.space[1], MAX.trials);
    expect(leaves.kind).toBe('linear');
    expect(leaves.isInt).toBe(true);
    // No recorded distribution: lr spans decades, so log; activation is a choice.
    const lr2 = paramAxis(MIN.space[0], MIN.trials);
    expect(lr2.kind).toBe('log');
    const act = paramAxis(MIN.space[2], MIN.trials);
    expect(act.kind).toBe('categorical');
    expect(act.categories).toEqual(['gelu', 'relu', 'tanh']);
    expect(normalize(act, 'relu')).toBeCloseTo(0.5);
  });

  it('makes round ticks', () => {
    expect(linearTicks(0, 1, 5)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    expect(linearTicks(3, 31, 5)).toEqual([5, 10, 15, 20, 25, 30]);
    expect(logTicks(0.01, 0.5)).toEqual([0.01, 0.02, 0.05, 0.1, 0.2, 0.5]);
    expect(logTicks(1e-4, 1)).toEqual([1e-4, 1e-3, 1e-2, 0.1, 1]);
  });
});

describe('pareto front and importances', () => {
  it('finds the same front as the server', () => {
    const front = paretoFront(MULTI.trials, MULTI.settings.directions!);
    expect(new Set(front)).toEqual(new Set(MULTI.pareto_front));
  });

  it('orders importances and gives shares', () => {
    const rows = importanceRows(MIN.importances);
    expect(rows.map((r) => r.name)).toEqual(['lr', 'layers', 'activation']);
    expect(rows.reduce((s, r) => s + r.share, 0)).toBeCloseTo(1);
    expect(importanceRows(null)).toEqual([]);
    expect(importanceRows({ a: 1, b: 3 })[0]).toEqual({ name: 'b', value: 3, share: 0.75 });
  });
});
