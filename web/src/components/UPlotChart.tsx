// A uPlot canvas that fills its container's width and follows the theme.
import { useEffect, useLayoutEffect, useRef } from 'react';
import uPlot from 'uplot';
import { useTheme } from '../lib/theme';

export interface UPlotChartProps {
  options: Omit<uPlot.Options, 'width' | 'height'>;
  data: uPlot.AlignedData;
  height?: number;
  testId?: string;
  className?: string;
  onCreate?: (u: uPlot) => void;
}

export function UPlotChart({ options, data, height = 260, testId, className, onCreate }: UPlotChartProps) {
  const wrap = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const dataRef = useRef(data);
  dataRef.current = data;
  const onCreateRef = useRef(onCreate);
  onCreateRef.current = onCreate;
  const theme = useTheme();

  useLayoutEffect(() => {
    const el = wrap.current;
    if (!el) return;
    const width = Math.max(200, el.clientWidth || 600);
    const opts = { ...options, width, height } as uPlot.Options;
    opts.hooks = {
      ...(options.hooks ?? {}),
      draw: [
        ...(options.hooks?.draw ?? []),
        () => el.setAttribute('data-drawn', 'true'),
      ],
    };
    const u = new uPlot(opts, dataRef.current, el);
    plot.current = u;
    onCreateRef.current?.(u);
    let ro: ResizeObserver | null = null;
    if (typeof ResizeObserver !== 'undefined') {
      let last = width;
      ro = new ResizeObserver(() => {
        const w = Math.max(200, el.clientWidth);
        if (Math.abs(w - last) > 1) {
          last = w;
          u.setSize({ width: w, height });
        }
      });
      ro.observe(el);
    }
    return () => {
      ro?.disconnect();
      u.destroy();
      plot.current = null;
      el.removeAttribute('data-drawn');
    };
    // theme: axis and grid colours are read when the chart is built
  }, [options, height, theme]);

  useEffect(() => {
    const u = plot.current;
    if (u && u.data !== data) u.setData(data);
  }, [data]);

  return <div ref={wrap} className={'uplot-wrap ' + (className ?? '')} data-testid={testId} />;
}

export default UPlotChart;
