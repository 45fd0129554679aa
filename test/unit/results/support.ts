/** Helpers for the enrichment tests: hand-built GEM results files, as GEM (and the simulator) write them. */
import { parquetWriteBuffer } from 'hyparquet-writer';

export interface HandResult {
  id: string;
  gers: string;
  confidence: number;
  lr_id: string | null;
  lr_gers: string | null;
}

/**
 * A results Parquet with GEM's documented columns, typed as the simulator writes them
 * (local/standins/simulator/matching.ts, `roadResultsParquet`): `lr_id`/`lr_gers` are text.
 */
export function resultsParquet(rows: HandResult[]): Uint8Array {
  return new Uint8Array(
    parquetWriteBuffer({
      columnData: [
        { name: 'id', data: rows.map((r) => r.id), type: 'STRING', nullable: false },
        { name: 'gers', data: rows.map((r) => r.gers), type: 'STRING', nullable: false },
        { name: 'confidence', data: rows.map((r) => r.confidence), type: 'INT32', nullable: false },
        { name: 'lr_id', data: rows.map((r) => r.lr_id), type: 'STRING', nullable: true },
        { name: 'lr_gers', data: rows.map((r) => r.lr_gers), type: 'STRING', nullable: true },
      ],
    }),
  );
}

/** A GERS-like id for match number n. */
export const gersId = (n: number): string => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;
