/**
 * The match page's charts, drawn as SVG: a bar per kind of match (full, partial, unmatched) and a column per
 * confidence bucket. Two small bar charts are less code than configuring a chart library, need no canvas or
 * script of their own, and stay readable without it: every bar carries its value as text and as `data-value`.
 */
import { svg } from '../dom.js';
import type { Bar } from '../model/charts.js';

const WIDTH = 560;

/** Horizontal bars, one per kind, labelled with the count and its share. */
export function kindBars(bars: Bar[], total: number): SVGElement {
  const rowHeight = 34;
  const labelWidth = 110;
  const max = Math.max(1, ...bars.map((b) => b.value));
  const height = bars.length * rowHeight + 8;
  return svg(
    'svg',
    {
      viewBox: `0 0 ${WIDTH} ${height}`,
      class: 'chart kinds',
      role: 'img',
      'aria-label': bars.map((b) => `${b.label} ${b.value}`).join(', '),
    },
    ...bars.flatMap((bar, i) => {
      const y = i * rowHeight + 4;
      const width = Math.round(((WIDTH - labelWidth - 120) * bar.value) / max);
      const share = total > 0 ? ` (${((100 * bar.value) / total).toFixed(1)} %)` : '';
      return [
        svg('text', { x: 0, y: y + 20, class: 'label' }, bar.label),
        svg('rect', {
          x: labelWidth,
          y,
          width: Math.max(width, 1),
          height: rowHeight - 8,
          class: `bar ${bar.key}`,
          'data-key': bar.key,
          'data-value': bar.value,
        }),
        svg('text', { x: labelWidth + width + 6, y: y + 20, class: 'value' }, `${bar.value}${share}`),
      ];
    }),
  );
}

/** Vertical columns, one per confidence bucket, with the count above each. */
export function histogram(bars: Bar[]): SVGElement {
  const height = 200;
  const axis = 30;
  const top = 20;
  const column = WIDTH / bars.length;
  const max = Math.max(1, ...bars.map((b) => b.value));
  return svg(
    'svg',
    {
      viewBox: `0 0 ${WIDTH} ${height}`,
      class: 'chart histogram',
      role: 'img',
      'aria-label': bars.map((b) => `${b.label}: ${b.value}`).join(', '),
    },
    ...bars.flatMap((bar, i) => {
      const barHeight = Math.round(((height - axis - top) * bar.value) / max);
      const x = i * column + 4;
      const y = height - axis - barHeight;
      return [
        svg('rect', {
          x,
          y,
          width: column - 8,
          height: Math.max(barHeight, 0),
          class: 'bar bucket',
          'data-bucket': i,
          'data-value': bar.value,
        }),
        svg(
          'text',
          { x: x + (column - 8) / 2, y: y - 4, class: 'value', 'text-anchor': 'middle' },
          String(bar.value),
        ),
        svg(
          'text',
          { x: x + (column - 8) / 2, y: height - 10, class: 'label', 'text-anchor': 'middle' },
          bar.label,
        ),
      ];
    }),
  );
}
