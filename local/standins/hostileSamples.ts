/**
 * Hostile GEM input files: small or plausible-looking Parquet whose self-description makes a trusting reader
 * allocate without bound, recurse without bound, or pass an empty file on to GEM. Each is written by code, so a
 * test or benchmark can regenerate it byte for byte:
 *
 * - `claims-2e31-rows`: a real one-row file whose footer says its one row group holds 2³¹ rows (a few hundred
 *   bytes; a reader that sizes its output from the footer asks for two billion row objects).
 * - `zero-rows`: the right columns and no rows.
 * - `deep-schema`: a footer-only file whose schema nests 20,000 groups (hyparquet builds the tree recursively).
 * - `giant-row`: one road whose LINESTRING has 3,000,000 points (about 62 MB of WKT in one value).
 */
import type { ColumnSource } from 'hyparquet-writer';
import { ByteWriter, ParquetWriter, parquetWriteBuffer, schemaFromColumnData } from 'hyparquet-writer';
import { fileMetaData, PARQUET, parquetFile, roadSchema, schemaElement } from './parquetCraft.js';

export const HOSTILE_SAMPLE_KINDS = ['claims-2e31-rows', 'zero-rows', 'deep-schema', 'giant-row'] as const;

export type HostileSampleKind = (typeof HOSTILE_SAMPLE_KINDS)[number];

export interface HostileSampleOptions {
  /** `giant-row`: points in the LINESTRING. Default 3,000,000. */
  points?: number;
  /** `deep-schema`: nesting depth. Default 20,000. */
  depth?: number;
  /** `claims-2e31-rows`: the row count the footer claims. Default 2³¹. */
  claimedRows?: bigint;
}

export function isHostileSampleKind(value: string): value is HostileSampleKind {
  return (HOSTILE_SAMPLE_KINDS as readonly string[]).includes(value);
}

export function hostileSample(kind: HostileSampleKind, options: HostileSampleOptions = {}): Uint8Array {
  switch (kind) {
    case 'claims-2e31-rows':
      return claimsRows(options.claimedRows ?? 2n ** 31n);
    case 'zero-rows':
      return zeroRows();
    case 'deep-schema':
      return deepSchema(options.depth ?? 20_000);
    case 'giant-row':
      return giantRow(options.points ?? 3_000_000);
  }
}

const ROAD = 'LINESTRING (4.8952 52.3702, 4.8960 52.3710)';

/** A valid one-row file, its row counts rewritten before the footer is written. */
function claimsRows(claimed: bigint): Uint8Array {
  const columnData: ColumnSource[] = [
    { name: 'id', data: [1n], type: 'INT64', nullable: false },
    { name: 'geometry', data: [ROAD], type: 'STRING' },
    { name: 'is_navigable', data: [true], type: 'BOOLEAN' },
  ];
  const writer = new ByteWriter();
  const parquet = new ParquetWriter({ writer, schema: schemaFromColumnData({ columnData }) });
  parquet.write({ columnData });
  parquet.row_groups[0]!.num_rows = claimed;
  parquet.num_rows = claimed;
  parquet.finish();
  return writer.getBytes();
}

function zeroRows(): Uint8Array {
  return new Uint8Array(
    parquetWriteBuffer({
      columnData: [
        { name: 'id', data: [], type: 'INT64', nullable: false },
        { name: 'geometry', data: [], type: 'STRING' },
        { name: 'is_navigable', data: [], type: 'BOOLEAN' },
      ],
      createdBy: 'gem-flow samples',
    }),
  );
}

/** id and geometry, then `nested`: a chain of `depth` groups ending in one INT32; no rows. */
function deepSchema(depth: number): Uint8Array {
  const { type, repetition } = PARQUET;
  // The road schema's root, id and geometry; its third column becomes the chain.
  const schema = roadSchema().slice(0, 3);
  for (let level = 0; level < depth; level++) {
    schema.push(schemaElement({ name: `nested${level}`, repetition: repetition.OPTIONAL, numChildren: 1 }));
  }
  schema.push(schemaElement({ name: 'leaf', type: type.INT32, repetition: repetition.OPTIONAL }));
  return parquetFile(fileMetaData({ schema, numRows: 0, rowGroups: [] }));
}

/** One road of `points` points, about 22 bytes of WKT each, heading north-east from Amsterdam. */
function giantRow(points: number): Uint8Array {
  const parts = new Array<string>(points);
  for (let i = 0; i < points; i++) {
    parts[i] = `${(4.8952 + i * 1e-7).toFixed(7)} ${(52.3702 + i * 1e-7).toFixed(7)}`;
  }
  return new Uint8Array(
    parquetWriteBuffer({
      columnData: [
        { name: 'id', data: [1n], type: 'INT64', nullable: false },
        { name: 'geometry', data: [`LINESTRING (${parts.join(', ')})`], type: 'STRING' },
        { name: 'is_navigable', data: [true], type: 'BOOLEAN' },
      ],
      createdBy: 'gem-flow samples',
    }),
  );
}
