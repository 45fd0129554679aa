// The Hilbert index: a bijection of the grid's cells onto 0…4^order−1 whose consecutive indices are always
// neighbouring cells (the property that keeps parts spatially coherent), and clamping at the edges.
import { describe, expect, it } from 'vitest';
import { hilbertIndex } from '../../../shared/workflow/hilbert.js';

/** The centre of cell (x, y) of a grid with `side` cells per side, in lon/lat. */
const centre = (x: number, y: number, side: number): [number, number] => [
  -180 + ((x + 0.5) * 360) / side,
  -90 + ((y + 0.5) * 180) / side,
];

describe('hilbertIndex', () => {
  it('maps the cells of an order-4 grid one to one onto 0…255, each step moving to an adjacent cell', () => {
    const order = 4;
    const side = 2 ** order;
    const cellAt = new Map<number, [number, number]>();
    for (let x = 0; x < side; x++) {
      for (let y = 0; y < side; y++) cellAt.set(hilbertIndex(...centre(x, y, side), order), [x, y]);
    }
    expect([...cellAt.keys()].sort((a, b) => a - b)).toEqual(
      Array.from({ length: side * side }, (_, i) => i),
    );
    for (let d = 1; d < side * side; d++) {
      const [ax, ay] = cellAt.get(d - 1)!;
      const [bx, by] = cellAt.get(d)!;
      expect(Math.abs(ax - bx) + Math.abs(ay - by), `step ${d}`).toBe(1);
    }
  });

  it('is the known order-1 curve: SW, NW, NE, SE', () => {
    expect([
      hilbertIndex(-90, -45, 1),
      hilbertIndex(-90, 45, 1),
      hilbertIndex(90, 45, 1),
      hilbertIndex(90, -45, 1),
    ]).toEqual([0, 1, 2, 3]);
  });

  it('keeps nearby roads near on the curve at the default order and clamps coordinates outside the globe', () => {
    const a = hilbertIndex(4.9, 52.37);
    expect(Math.abs(hilbertIndex(4.9001, 52.3701) - a)).toBeLessThan(64);
    expect(hilbertIndex(200, 100)).toBe(hilbertIndex(180, 90));
    expect(hilbertIndex(Number.NaN, 0)).toBe(hilbertIndex(-180, 0));
    expect(hilbertIndex(180, 90)).toBeLessThan(2 ** 32);
    expect(() => hilbertIndex(0, 0, 17)).toThrow(/1 to 16/);
  });
});
