// The outbox naming scheme: name keys are readable, bounded, stable and never shared by two names; each run
// has its own folder; runs of one name are ordered by what they agree on. The property tests draw names from
// the whole of Unicode, from an alphabet of near-twins (NFC/NFD, case, separators, scripts the old rules reduced
// to nothing, lone surrogates), and at the length limit.
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  compareRuns,
  isNewerRun,
  latestBlobName,
  MAX_NAME_KEY_CHARS,
  NAME_HASH_HEX_CHARS,
  nameHash,
  nameKeyFor,
  outboxBlobNames,
  outboxLocationFor,
  runFolderFor,
  type SourceKind,
  wtf8,
} from '../../../shared/workflow/outboxNames.js';

const RUNS = 2_000;
const key = (name: string, kind: SourceKind = 'inbox') => nameKeyFor(kind, name);
/** The readable part: the key without its `-<hash>` ending. */
const readable = (name: string) => key(name).slice(0, -(NAME_HASH_HEX_CHARS + 1));

describe('name keys of the names that collided before', () => {
  const names = ['my roads.parquet', 'my-roads.parquet', '路线.parquet', 'дороги.parquet'];

  it('are four distinct keys', () => {
    expect(new Set(names.map((n) => key(n))).size).toBe(4);
  });

  it('stay readable: the stem in its own script, then the hash', () => {
    expect(names.map(readable)).toEqual(['my-roads', 'my-roads', '路线', 'дороги']);
    for (const name of names) expect(key(name)).toMatch(/-[0-9a-f]{12}$/);
  });

  it('are stable: the hash is SHA-256 of "inbox", NUL and the name, as the README shows', () => {
    for (const name of names) {
      const expected = createHash('sha256').update(`inbox\u0000${name}`, 'utf8').digest('hex').slice(0, 12);
      expect(key(name)).toBe(`${readable(name)}-${expected}`);
    }
    // Pinned, so a change to the scheme (which would orphan every latest.json) cannot pass unnoticed.
    expect(key('my roads.parquet')).toBe('my-roads-9492d06be969');
  });
});

describe('nameKeyFor', () => {
  it.each([
    ['roads/2026/a.parquet', 'roads/2026/a'],
    ['traces.csv', 'traces'],
    ['archive.tar.parquet', 'archive.tar'],
    ['no-extension', 'no-extension'],
    ['my roads (v2).parquet', 'my-roads-v2'],
    ['/leading//double/slash.parquet', 'leading/double/slash'],
    ['../../etc/passwd', 'etc/passwd'],
    ['a\\b\\c.parquet', 'a/b/c'],
    ['.hidden', 'hidden'],
    ['', 'input'],
    ['folder/.parquet', 'folder/parquet'],
    ['2026/Straße (v2).parquet', '2026/Straße-v2'],
    ['Cafe\u0301.parquet', 'Café'],
    ['-rf.parquet', 'rf'],
    ['🚗 roads.parquet', 'roads'],
  ])('%j reads as %j', (name, expected) => {
    expect(readable(name)).toBe(expected);
  });

  it('tells apart a PDG file and an inbox blob of the same name', () => {
    expect(key('roads.parquet', 'pdg')).not.toBe(key('roads.parquet', 'inbox'));
    expect(key('roads.parquet', 'pdg')).toMatch(/^roads-[0-9a-f]{12}$/);
  });

  it('hashes lone surrogates as themselves, not as the replacement character', () => {
    expect(new Set(['\uD800.parquet', '\uDC00.parquet', '\uFFFD.parquet'].map((n) => key(n))).size).toBe(3);
    // UTF-8 for every well-formed string, so the hash can be reproduced with any sha256 tool.
    expect(wtf8('路 é 🚗')).toEqual(Buffer.from('路 é 🚗', 'utf8'));
    expect(wtf8('\uD800')).toEqual(Buffer.from([0xed, 0xa0, 0x80]));
  });

  it('bounds very long and very deep names', () => {
    const long = `${'x'.repeat(5_000)}.parquet`;
    const deep = `${Array.from({ length: 500 }, (_, i) => `folder${i}`).join('/')}/a.parquet`;
    for (const name of [long, deep]) expect(key(name).length).toBeLessThanOrEqual(MAX_NAME_KEY_CHARS);
    expect(key(deep).startsWith('folder0/folder1/')).toBe(true);
  });
});

describe('a run’s documents', () => {
  const location = outboxLocationFor(
    { kind: 'inbox', container: 'inbox', blobName: 'roads/a.parquet' },
    'match-0123456789abcdef0123456789abcdef',
  );

  it('live in the run’s own folder, named by its instance id', () => {
    expect(location.run).toBe('match-0123456789abcdef0123456789abcdef');
    const folder = `${key('roads/a.parquet')}/match-0123456789abcdef0123456789abcdef`;
    expect(outboxBlobNames(location)).toEqual({
      results: `${folder}/results.parquet`,
      summary: `${folder}/summary.json`,
      error: `${folder}/error.json`,
      validationReport: `${folder}/validation.json`,
    });
    expect(latestBlobName(location.nameKey)).toBe(`${key('roads/a.parquet')}/latest.json`);
  });

  it('get a folder of their own even when started by hand with an unusual instance id', () => {
    expect(runFolderFor('cb-other-path')).toBe('cb-other-path');
    expect(runFolderFor('../x')).toMatch(/^run-[0-9a-f]{32}$/);
    expect(runFolderFor('a b')).not.toBe(runFolderFor('a-b'));
  });
});

describe('the order of runs', () => {
  const older = { requestedAt: '2026-02-18T10:00:00.000Z', run: 'match-b' };
  const newer = { requestedAt: '2026-02-18T10:00:00.001Z', run: 'match-a' };

  it('is the request instant, then the run folder for a tie', () => {
    expect(compareRuns(older, newer)).toBe(-1);
    expect(compareRuns(newer, older)).toBe(1);
    expect(compareRuns({ ...older, run: 'match-a' }, older)).toBe(-1);
    expect(compareRuns(older, { ...older })).toBe(0);
    expect(compareRuns({ requestedAt: '2026-02-18T11:00:00+01:00', run: 'x' }, { ...older, run: 'x' })).toBe(
      0,
    );
  });

  it('keeps the pointer of a newer run, and replaces an older, an equal or an unreadable one', () => {
    expect(isNewerRun(newer, older)).toBe(true);
    expect(isNewerRun(older, newer)).toBe(false);
    expect(isNewerRun(older, older)).toBe(false);
    expect(isNewerRun({ garbage: true }, older)).toBe(false);
    expect(isNewerRun(null, older)).toBe(false);
    expect(isNewerRun({ run: 'match-z', requestedAt: 'not a date' }, older)).toBe(false);
  });
});

// ---- properties ---------------------------------------------------------------------------------------------

/** Pieces that the readable part reduces alike: separators, case, NFC/NFD, other scripts, lone surrogates. */
const TWIN_PIECES = [
  'a',
  'A',
  'é',
  'e\u0301',
  'É',
  ' ',
  '-',
  '_',
  '.',
  '..',
  '/',
  '\\',
  '//',
  '路',
  '线',
  'д',
  'Д',
  'ß',
  'ss',
  '%20',
  '(',
  ')',
  '~',
  '\u0000',
  '\u200b',
  '\uD800',
  '\uDC00',
  '\uFFFD',
  '🚗',
  '.parquet',
  '.csv',
  'ﬁ',
  'fi',
];
const twinName = fc.array(fc.constantFrom(...TWIN_PIECES), { maxLength: 12 }).map((p) => p.join(''));
/** Any UTF-16 code unit, so lone surrogates appear as often as anything else. */
const codeUnits = fc.string({ unit: fc.integer({ min: 0, max: 0xffff }).map((u) => String.fromCharCode(u)) });
const anyName = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 80 }),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  codeUnits,
  twinName,
  // At and beyond the 1,024-character limit of a blob name.
  fc.string({ unit: 'grapheme-ascii', minLength: 1_000, maxLength: 1_100 }),
);

/** Variants a careless user (or a tool) turns a name into; each is a different blob name when it differs. */
function variants(name: string): string[] {
  return [
    name,
    name.normalize('NFC'),
    name.normalize('NFD'),
    name.toUpperCase(),
    name.toLowerCase(),
    name.replaceAll(' ', '-'),
    name.replaceAll('-', ' '),
    name.replaceAll('/', '\\'),
    `${name}.parquet`,
    `${name} `,
    `dir/${name}`,
  ];
}

describe('the name → key mapping (properties)', () => {
  it('never maps two distinct names to one key', () => {
    fc.assert(
      fc.property(fc.uniqueArray(anyName, { minLength: 2, maxLength: 40 }), (names) => {
        const keys = new Set(names.map((n) => key(n)));
        expect(keys.size).toBe(names.length);
      }),
      { numRuns: RUNS },
    );
  });

  it('never maps the twins of a name to one key', () => {
    fc.assert(
      fc.property(anyName, (name) => {
        const distinct = [...new Set(variants(name))];
        expect(new Set(distinct.map((n) => key(n))).size).toBe(distinct.length);
      }),
      { numRuns: RUNS },
    );
  });

  it('never maps two names one piece apart to one key (the nearest twins there are)', () => {
    const pieces = fc.array(fc.constantFrom(...TWIN_PIECES), { minLength: 1, maxLength: 10 });
    fc.assert(
      fc.property(pieces, fc.nat(), fc.constantFrom(...TWIN_PIECES), (parts, at, piece) => {
        const a = parts.join('');
        const b = parts.with(at % parts.length, piece).join('');
        fc.pre(a !== b);
        expect(key(a)).not.toBe(key(b));
      }),
      { numRuns: RUNS },
    );
  });

  it('never maps an inbox name and a PDG name to one key', () => {
    fc.assert(
      fc.property(anyName, anyName, (a, b) => {
        expect(key(a, 'inbox')).not.toBe(key(b, 'pdg'));
      }),
      { numRuns: RUNS },
    );
  });

  it('gives every document of every run of distinct names a distinct blob name', () => {
    fc.assert(
      fc.property(fc.uniqueArray(twinName, { minLength: 2, maxLength: 12 }), (names) => {
        const documents = names.flatMap((name) => {
          const nameKey = key(name);
          const runs = ['match-1', 'match-2'].map((run) => outboxBlobNames({ nameKey, run }));
          return [latestBlobName(nameKey), ...runs.flatMap((r) => Object.values(r))];
        });
        expect(new Set(documents).size).toBe(documents.length);
      }),
      { numRuns: RUNS },
    );
  });

  it('is a bounded, well-formed blob path that cannot climb out of the outbox, and is stable', () => {
    fc.assert(
      fc.property(anyName, (name) => {
        const k = key(name);
        expect(k).toBe(key(name));
        expect(k.length).toBeLessThanOrEqual(MAX_NAME_KEY_CHARS);
        expect(() => encodeURIComponent(k)).not.toThrow(); // no lone surrogate: a valid blob name
        expect(k).not.toMatch(/[\\\p{Cc}\p{Cf}\s]/u);
        for (const segment of k.split('/')) {
          expect(segment).not.toBe('');
          expect(segment).not.toMatch(/^[.-]|[.]$/);
        }
        expect(k).toMatch(new RegExp(`-${nameHash('inbox', name)}$`));
      }),
      { numRuns: RUNS },
    );
  });
});
