/**
 * Which text encoding a Shapefile's DBF is in, in the order GIS tools decide it: the `.cpg` file beside it
 * (ESRI writes code page numbers such as `1252`, `65001`, `88591`, or names such as `UTF-8`), then the
 * caller's `encoding` option, then the DBF's language driver byte, then UTF-8. Each candidate is tried with
 * Node's `TextDecoder`, which (full ICU, as Node's official builds ship) reads the WHATWG encodings: UTF-8,
 * windows-874/1250–1258, ISO-8859-x, KOI8, IBM866, Shift_JIS, GBK, Big5, EUC-KR. DOS code pages 437/850/852
 * are not among them; a candidate that cannot be decoded is skipped with a note saying so, and the result
 * says which encoding was used and why.
 */
import { TextDecoder } from 'node:util';
import type { SourceNote } from './types.js';

export interface DbfEncoding {
  /** The WHATWG label used, e.g. `windows-1252`. */
  label: string;
  /** Where it came from. */
  from: 'cpg' | 'option' | 'language-driver' | 'default';
  decode: (bytes: Uint8Array) => string;
  notes: SourceNote[];
}

/** Code page numbers as `.cpg` files and dBase language drivers name them, to WHATWG labels. */
const CODE_PAGES: Record<number, string> = {
  65001: 'utf-8',
  874: 'windows-874',
  866: 'ibm866',
  932: 'shift_jis',
  936: 'gbk',
  949: 'euc-kr',
  950: 'big5',
  20866: 'koi8-r',
  21866: 'koi8-u',
  437: 'cp437',
  850: 'cp850',
  852: 'cp852',
};
for (let cp = 1250; cp <= 1258; cp++) CODE_PAGES[cp] = `windows-${cp}`;
for (let part = 1; part <= 16; part++) {
  CODE_PAGES[28590 + part] = `iso-8859-${part}`;
  // ESRI's spelling: 88591 … 885916.
  CODE_PAGES[Number(`8859${part}`)] = `iso-8859-${part}`;
}

/**
 * dBase language driver ids (byte 29) and their code pages, as listed in the dBase/ArcGIS language driver
 * table that GDAL's Shapefile driver also follows. 0x57 is ESRI's "ANSI", in practice Windows-1252.
 */
const LANGUAGE_DRIVERS: Record<number, number> = {
  1: 437,
  2: 850,
  3: 1252,
  8: 865,
  9: 437,
  10: 850,
  19: 932,
  38: 866,
  77: 936,
  78: 949,
  79: 950,
  80: 874,
  87: 1252,
  88: 1252,
  89: 1252,
  100: 852,
  101: 866,
  120: 950,
  121: 949,
  122: 936,
  123: 932,
  124: 874,
  125: 1255,
  126: 1256,
  200: 1250,
  201: 1251,
  202: 1254,
  203: 1253,
  204: 1257,
};

/** A `.cpg` text (or an option) as a WHATWG label: `1252` and `ANSI 1252` → windows-1252, `88591` → iso-8859-1. */
export function encodingLabel(text: string): string {
  const trimmed = text.trim().replace(/^ANSI[\s_]*/i, '');
  const digits = /^(?:CP|IBM|WINDOWS-?)?(\d+)$/i.exec(trimmed);
  if (digits) return CODE_PAGES[Number(digits[1])] ?? `cp${digits[1]}`;
  const iso = /^ISO[\s_-]*8859[\s_-]*(\d+)$/i.exec(trimmed);
  if (iso) return `iso-8859-${iso[1]}`;
  if (/^UTF[\s_-]*8$/i.test(trimmed)) return 'utf-8';
  return trimmed.toLowerCase();
}

function decoderFor(label: string): TextDecoder | null {
  try {
    return new TextDecoder(label);
  } catch {
    return null;
  }
}

export function resolveDbfEncoding(
  cpg: string | null,
  option: string | undefined,
  languageDriver: number,
): DbfEncoding {
  const notes: SourceNote[] = [];
  const driverPage = LANGUAGE_DRIVERS[languageDriver];
  const candidates: [DbfEncoding['from'], string | undefined][] = [
    ['cpg', cpg === null || cpg.trim() === '' ? undefined : cpg],
    ['option', option],
    ['language-driver', driverPage === undefined ? undefined : String(driverPage)],
  ];
  for (const [from, text] of candidates) {
    if (text === undefined) continue;
    const label = encodingLabel(text);
    const decoder = decoderFor(label);
    if (decoder) {
      notes.push({
        rule: 'dbf-encoding',
        message: `DBF text read as ${decoder.encoding} (from the ${describe(from, languageDriver)}).`,
      });
      return { label: decoder.encoding, from, decode: (bytes) => decoder.decode(bytes), notes };
    }
    notes.push({
      rule: 'dbf-encoding-unsupported',
      message: `The ${describe(from, languageDriver)} names the encoding '${text.trim()}', which gem-flow cannot decode.`,
    });
  }
  const utf8 = new TextDecoder('utf-8');
  notes.push({
    rule: 'dbf-encoding',
    message: 'DBF text read as utf-8 (nothing else declared an encoding gem-flow reads).',
  });
  return { label: 'utf-8', from: 'default', decode: (bytes) => utf8.decode(bytes), notes };
}

function describe(from: DbfEncoding['from'], languageDriver: number): string {
  if (from === 'cpg') return '.cpg file';
  if (from === 'option') return 'encoding option';
  return `DBF language driver 0x${languageDriver.toString(16).padStart(2, '0')}`;
}
