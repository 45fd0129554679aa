/**
 * A point's position along a Hilbert curve over the lon/lat rectangle: points close on the curve are close on
 * the ground (the converse fails only at the curve's few long jumps), so cutting rows sorted by it into runs
 * gives spatially coherent parts. The classic iterative mapping of a cell (x, y) in a 2^order × 2^order grid to
 * its distance along the curve, with a quadrant rotation per level; pure and allocation-free.
 */

/** Cells per side 2^16: about 600 m × 300 m at the equator, and every index fits a Uint32. */
export const HILBERT_ORDER = 16;

/** The cell column or row of a coordinate in [min, max], clamped (a coordinate outside still gets an edge cell). */
function cellOf(value: number, min: number, max: number, side: number): number {
  if (!Number.isFinite(value)) return 0;
  const cell = Math.floor(((value - min) / (max - min)) * side);
  return Math.min(side - 1, Math.max(0, cell));
}

/**
 * The Hilbert index of (lon, lat) in a grid of 2^order cells per side over [-180, 180] × [-90, 90]; 0 to
 * 4^order − 1. `order` is 1 to 16 (the index must stay an exact integer in a Uint32).
 */
export function hilbertIndex(lon: number, lat: number, order: number = HILBERT_ORDER): number {
  if (!Number.isInteger(order) || order < 1 || order > 16) {
    throw new RangeError(`The Hilbert order must be an integer from 1 to 16 (got ${order}).`);
  }
  const side = 2 ** order;
  let x = cellOf(lon, -180, 180, side);
  let y = cellOf(lat, -90, 90, side);
  let d = 0;
  for (let s = side / 2; s >= 1; s /= 2) {
    const rx = (x & s) > 0 ? 1 : 0;
    const ry = (y & s) > 0 ? 1 : 0;
    d += s * s * ((3 * rx) ^ ry);
    // Rotate the quadrant so the sub-curve inside it is entered and left where the curve runs.
    if (ry === 0) {
      if (rx === 1) {
        x = side - 1 - x;
        y = side - 1 - y;
      }
      const t = x;
      x = y;
      y = t;
    }
  }
  return d;
}
