// Smoothing of metric curves.

/**
 * Exponential moving average with TensorBoard's debiasing: the first points are not
 * pulled towards zero. `weight` in [0, 1): 0 returns the values unchanged.
 * Non-finite values are passed through and do not disturb the average.
 */
export function emaSmooth(values: ArrayLike<number | null>, weight: number): (number | null)[] {
  const n = values.length;
  const out: (number | null)[] = new Array(n);
  if (!(weight > 0)) {
    for (let i = 0; i < n; i++) out[i] = values[i];
    return out;
  }
  const w = Math.min(weight, 0.999);
  let last = 0;
  let count = 0;
  for (let i = 0; i < n; i++) {
    const v = values[i];
    if (v == null || !Number.isFinite(v)) {
      out[i] = v;
      continue;
    }
    last = last * w + (1 - w) * v;
    count++;
    out[i] = last / (1 - Math.pow(w, count));
  }
  return out;
}
