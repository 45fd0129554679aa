// What the CLI prints in each mode: boxed tables on a terminal, tab-separated lines without one, JSON documents
// with --json; a finished match's summary (GEM's statistics in words, ratios with road counts) and its
// validation report; and `gem-flow validate` on real sample files, offline, in all three modes.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { asCliError, CliError, EXIT } from '../../../cli/errors.js';
import { Output, outputModeFor } from '../../../cli/output.js';
import { localPathFor, type MatchResultReport, printResult, statisticsRows } from '../../../cli/results.js';
import * as geojson from '../../../local/standins/format-samples/geojson.js';
import { sampleRoads } from '../../../local/standins/format-samples/roads.js';
import * as shapefile from '../../../local/standins/format-samples/shapefile.js';
import { roadMatchingSample } from '../../../local/standins/samples.js';
import { captured, cli, visible } from './io.js';

const dir = mkdtempSync(join(tmpdir(), 'gemflow-cli-output-'));

function output(mode: 'tty' | 'plain' | 'json') {
  const stdout = captured(mode === 'tty');
  const stderr = captured();
  return { out: new Output(mode, stdout.stream, stderr.stream), stdout, stderr };
}

/** GEM's documented example statistics (gem-api.md §4.3). */
const STATISTICS = {
  confidence_threshold: 60,
  execution_time_sec: 9751,
  kms_processed: 80208.39,
  num_roads_processed: 397613,
  roads_fully_matched_ratio: 0.675,
  roads_matched_ratio: 0.8468,
  roads_partially_matched_ratio: 0.1718,
  roads_unmatched_ratio: 0.1531,
};

const succeeded: MatchResultReport = {
  id: 'match-1',
  runtimeStatus: 'Completed',
  outcome: 'succeeded',
  phase: 'completed',
  jobId: 123456789,
  gemStatus: 'SUCCESS',
  polls: 27,
  summary: { statistics: STATISTICS, timings: { durations: { totalSeconds: 10_860, gemSeconds: 10_800 } } },
  error: null,
  validation: null,
  downloads: [
    { blob: 'roads-1/match-1/results.parquet', file: '/out/roads-1/match-1/results.parquet', bytes: 1234 },
  ],
  outputDir: '/out/roads-1/match-1',
  exitCode: EXIT.ok,
};

describe('output modes', () => {
  it('is tty on a terminal, plain without one, json whenever --json is given', () => {
    expect(outputModeFor(false, captured(true).stream)).toBe('tty');
    expect(outputModeFor(false, captured(false).stream)).toBe('plain');
    expect(outputModeFor(true, captured(true).stream)).toBe('json');
  });

  it('prints tables boxed on a terminal and tab-separated otherwise, and not at all in json mode', () => {
    const rows = [
      ['a', 1],
      ['b\tc', 22],
    ];
    const columns = [{ header: 'name' }, { header: 'n', right: true }];
    const plain = output('plain');
    plain.out.table(columns, rows);
    expect(plain.stdout.text()).toBe('name\tn\na\t1\nb c\t22\n');
    const tty = output('tty');
    tty.out.table(columns, rows);
    expect(tty.stdout.text()).toContain('┌');
    expect(tty.stdout.text()).toMatch(/│ a\s+│\s+1 │/);
    const json = output('json');
    json.out.table(columns, rows);
    json.out.line('for people');
    expect(json.stdout.text()).toBe('');
  });
});

describe('the upload bar', () => {
  it('counts bytes on a terminal and prints nothing elsewhere', () => {
    const tty = output('tty');
    const bar = tty.out.transferBar('Uploading roads.parquet', 2048);
    bar.update(1024);
    bar.update(2048);
    bar.stop();
    expect(visible(tty.stdout.text())).toContain(
      'Uploading roads.parquet ============================== 100% | 2048/2048 bytes',
    );
    const plain = output('plain');
    plain.out.transferBar('Uploading roads.parquet', 2048).update(2048);
    expect(plain.stdout.text()).toBe('');
  });
});

describe('a finished match', () => {
  it('shows the statistics in words, ratios with their road counts, in a fixed order', () => {
    expect(statisticsRows({ extra_field: 'x', ...STATISTICS })).toEqual([
      ['roads processed', '397,613'],
      ['matched', '84.7 % (336,699 roads)'],
      ['fully matched', '67.5 % (268,389 roads)'],
      ['partially matched', '17.2 % (68,310 roads)'],
      ['unmatched', '15.3 % (60,875 roads)'],
      ['km processed', '80,208.39'],
      ['confidence threshold', '60'],
      ['GEM execution time', '2h 42m'],
      ['extra_field', '"x"'],
    ]);
  });

  it('prints the summary and where the outputs were saved', () => {
    const { out, stdout } = output('plain');
    printResult(out, succeeded);
    const text = stdout.text();
    expect(text).toContain('Match match-1 completed (GEM job 123456789 SUCCESS, 27 polls).\n');
    expect(text).toContain('fully matched\t67.5 % (268,389 roads)\n');
    expect(text).toContain('total time\t3h 01m\n');
    expect(text).toContain('Outputs saved in /out/roads-1/match-1:\nfile\tbytes\nresults.parquet\t1234\n');
  });

  it('with --json, is one document holding the same facts', () => {
    const { out, stdout } = output('json');
    printResult(out, succeeded);
    expect(JSON.parse(stdout.text())).toEqual({ event: 'result', ...succeeded });
  });

  it('an invalid file: where the report is and its first problems, the summary said once', () => {
    const { out, stdout } = output('plain');
    const summary =
      'The file failed validation with 12 problem(s): 12 × id-unique. No GEM job was submitted.';
    printResult(out, {
      ...succeeded,
      outcome: 'invalid-input',
      phase: 'invalid-input',
      jobId: null,
      gemStatus: null,
      polls: 0,
      summary: null,
      error: { message: summary, remedy: null, blob: null },
      validation: {
        blob: 'bad-1/match-2/validation.json',
        summary,
        problemCount: 12,
        problems: [
          {
            row: 30,
            column: 'id',
            rule: 'id-unique',
            message: 'duplicate id; first used at row 28',
            value: '5',
          },
        ],
        remedy: null,
      },
      downloads: [],
      exitCode: EXIT.failed,
    });
    const text = stdout.text();
    expect(text.split(summary)).toHaveLength(2);
    expect(text).toContain('Match match-1 was refused: the file is invalid (no GEM job, 0 polls).');
    expect(text).toContain('Validation report: outbox/bad-1/match-2/validation.json\n');
    expect(text).toContain(
      'row\tcolumn\trule\tproblem\tvalue\n30\tid\tid-unique\tduplicate id; first used at row 28\t5\n',
    );
    expect(text).toContain('… and 11 more problem(s).');
  });

  it('saves outputs only inside the output folder', () => {
    expect(localPathFor('/out', 'roads-1/match-1/summary.json')).toBe('/out/roads-1/match-1/summary.json');
    for (const name of ['../x', 'a/../../x', ''])
      expect(() => localPathFor('/out', name)).toThrow(/Refusing to save/);
  });

  it('errors: "error:" and "what to do:" on stderr, and a JSON document on stdout in json mode', () => {
    const { out, stdout, stderr } = output('json');
    out.error(
      new CliError('MatchNotFound', EXIT.failed, 'The app has no match "x".', { remedy: 'List them.' }),
    );
    expect(stderr.text()).toBe('error: The app has no match "x".\nwhat to do: List them.\n');
    expect(JSON.parse(stdout.text())).toEqual({
      event: 'error',
      error: {
        code: 'MatchNotFound',
        message: 'The app has no match "x".',
        remedy: 'List them.',
        exitCode: 1,
      },
    });
    // Anything thrown becomes an error with a message, never an empty "error: ".
    expect(asCliError(Object.assign(new Error(''), { name: 'RestError' })).summary).toBe('RestError');
  });
});

describe('gem-flow validate, offline, in any road format', () => {
  it('names the source feature and the fix for a broken GeoJSON, and accepts a reprojected Shapefile', async () => {
    const polygon = join(dir, 'polygon.geojson');
    writeFileSync(polygon, geojson.broken('polygon', sampleRoads({ rows: 6 })));
    const bad = await cli(['validate', polygon, '--json']);
    expect(bad.code).toBe(EXIT.failed);
    expect(JSON.parse(bad.stdout).problems).toEqual([
      expect.objectContaining({
        row: geojson.DEFECT_FEATURE,
        rule: 'geometry-type',
        remedy: expect.any(String),
      }),
    ]);
    const text = await cli(['validate', polygon]);
    expect(text.stdout).toMatch(new RegExp(`^${geojson.DEFECT_FEATURE}\t\tgeometry-type\t`, 'm'));

    const rd = join(dir, 'roads-rd.zip');
    writeFileSync(rd, await shapefile.rdNew(sampleRoads({ rows: 6 })));
    const ok = await cli(['validate', rd]);
    expect(ok.code).toBe(EXIT.ok);
    expect(ok.stdout).toMatch(
      /is a valid ROAD_MATCHING input: 6 shapefile feature\(s\) in EPSG:28992.* → 7 GEM rows\./,
    );
  });

  it('takes the format options as flags, and refuses a value the app would refuse', async () => {
    const noPrj = join(dir, 'no-prj.zip');
    writeFileSync(noPrj, await shapefile.broken('no-prj', sampleRoads({ rows: 6 })));
    expect((await cli(['validate', noPrj])).code).toBe(EXIT.failed);
    expect((await cli(['validate', noPrj, '--source-crs', 'EPSG:28992'])).code).toBe(EXIT.ok);
    const unknown = await cli(['validate', noPrj, '--source-crs', 'EPSG:99999']);
    expect(unknown.code).toBe(EXIT.usage);
    expect(unknown.stderr).toMatch(/sourceCrs/);
    expect((await cli(['validate', noPrj, '--output-format', 'shp'])).code).toBe(EXIT.usage);
  });
});

describe('gem-flow validate, offline', () => {
  const valid = join(dir, 'valid.parquet');
  const duplicates = join(dir, 'duplicate-ids.parquet');
  writeFileSync(valid, roadMatchingSample('valid', { rows: 40, seed: 5 }));
  writeFileSync(duplicates, roadMatchingSample('duplicate-ids', { rows: 40, seed: 5 }));

  it('passes a valid file (exit 0) and refuses one with duplicate ids (exit 1) with its problems as a table', async () => {
    const ok = await cli(['validate', valid]);
    expect(ok.code).toBe(EXIT.ok);
    expect(ok.stdout).toContain(`${valid} is a valid ROAD_MATCHING input: 40 rows.`);
    const bad = await cli(['validate', duplicates]);
    expect(bad.code).toBe(EXIT.failed);
    expect(bad.stdout).toContain(`${duplicates} would be refused: 1 problem(s) in 40 rows.`);
    expect(bad.stdout).toMatch(
      /^row\tcolumn\trule\tproblem\tvalue\n\d+\tid\tid-unique\tduplicate id; first used at row \d+\t/m,
    );
    expect(bad.fetched).toEqual([]);
  });

  it('on a terminal the table is boxed; with --json the report is one document', async () => {
    const tty = await cli(['validate', duplicates], { tty: true });
    expect(tty.stdout).toMatch(/│ id\s+│ id-unique │/);
    const json = await cli(['validate', duplicates, '--json']);
    expect(json.code).toBe(EXIT.failed);
    const report = JSON.parse(json.stdout);
    expect(report).toMatchObject({
      file: duplicates,
      valid: false,
      rowCount: 40,
      problemCounts: { 'id-unique': 1 },
    });
  });

  it('reads a file by its content: CSV named .parquet is read as CSV; no road format is refused as such; a missing file is a usage error', async () => {
    const csvNamedParquet = join(dir, 'not.parquet');
    writeFileSync(csvNamedParquet, roadMatchingSample('not-parquet', { rows: 10 }));
    const asCsv = await cli(['validate', csvNamedParquet]);
    expect(asCsv.code).toBe(EXIT.ok);
    expect(asCsv.stdout).toContain(`${csvNamedParquet} is a valid ROAD_MATCHING input: 10 csv feature(s)`);
    const pdf = join(dir, 'roads.pdf.parquet');
    writeFileSync(pdf, '%PDF-1.7\n');
    const run = await cli(['validate', pdf, '--json']);
    expect(run.code).toBe(EXIT.failed);
    expect(JSON.parse(run.stdout).problems[0].rule).toBe('format-unknown');
    const missing = await cli(['validate', join(dir, 'missing.parquet')]);
    expect(missing.code).toBe(EXIT.usage);
    expect(missing.stderr).toContain('Cannot read');
  });
});
