// Property tests of the callback target rules: a random address from a range no callback may reach is refused
// in every textual form the URL parser accepts for it (the numeric forms the system resolver also reads, IPv6
// spellings, the IPv6 forms that carry an IPv4 address), and a random address outside those ranges is not.
// The refused ranges are written out here from the IANA special-purpose registries, independently of the
// implementation's own table, so a range the implementation forgets fails the test.
import fc from 'fast-check';
import ipaddr from 'ipaddr.js';
import { describe, expect, it } from 'vitest';
import {
  callbackTargetProblem,
  checkCallbackTarget,
  parseAllowList,
} from '../../../shared/workflow/callbackTarget.js';

const none = parseAllowList('').allowList;
const RUNS = 400;

// ---- IPv4 ---------------------------------------------------------------------------------------------------

/** IANA IPv4 special-purpose ranges a callback may not reach, plus Azure's platform address. */
const REFUSED_V4 = [
  '0.0.0.0/8',
  '10.0.0.0/8',
  '100.64.0.0/10',
  '127.0.0.0/8',
  '169.254.0.0/16',
  '172.16.0.0/12',
  '192.0.0.0/24',
  '192.0.2.0/24',
  '192.31.196.0/24',
  '192.52.193.0/24',
  '192.88.99.0/24',
  '192.168.0.0/16',
  '192.175.48.0/24',
  '198.18.0.0/15',
  '198.51.100.0/24',
  '203.0.113.0/24',
  '224.0.0.0/4',
  '240.0.0.0/4',
  '168.63.129.16/32',
].map((cidr) => {
  const [base, bits] = cidr.split('/') as [string, string];
  const size = 2 ** (32 - Number(bits));
  return { start: v4Number(base), size };
});

function v4Number(dotted: string): number {
  return dotted.split('.').reduce((n, octet) => n * 256 + Number(octet), 0);
}

function v4Dotted(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

function isRefusedV4(n: number): boolean {
  return REFUSED_V4.some((range) => n >= range.start && n < range.start + range.size);
}

const refusedV4 = fc
  .constantFrom(...REFUSED_V4)
  .chain((range) => fc.integer({ min: range.start, max: range.start + range.size - 1 }));

const publicV4 = fc.integer({ min: 0, max: 2 ** 32 - 1 }).filter((n) => !isRefusedV4(n));

type Radix = 'dec' | 'hex' | 'HEX' | 'oct';
const radix = fc.constantFrom<Radix>('dec', 'hex', 'HEX', 'oct');

function numeral(n: number, how: Radix): string {
  if (how === 'hex') return `0x${n.toString(16)}`;
  if (how === 'HEX') return `0X${n.toString(16).toUpperCase()}`;
  if (how === 'oct') return `0${n.toString(8)}`;
  return String(n);
}

/** The 1-, 2-, 3- and 4-part forms inet_aton and the WHATWG parser accept, each part in its own radix. */
function v4Parts(n: number, parts: 1 | 2 | 3 | 4): number[] {
  const [a, b, c, d] = [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255];
  if (parts === 4) return [a, b, c, d];
  if (parts === 3) return [a, b, c * 256 + d];
  if (parts === 2) return [a, b * 65_536 + c * 256 + d];
  return [n];
}

type Decoration = 'none' | 'trailing-dot' | 'percent' | 'full-width' | 'ideographic-dot';

function decorate(host: string, how: Decoration): string {
  if (how === 'trailing-dot') return `${host}.`;
  if (how === 'percent') return host.replace(/[0-9]/g, (d) => `%${d.charCodeAt(0).toString(16)}`);
  if (how === 'full-width') return host.replace(/[0-9]/g, (d) => String.fromCharCode(0xff10 + Number(d)));
  if (how === 'ideographic-dot') return host.replaceAll('.', '\u3002');
  return host;
}

const v4Form = (address: fc.Arbitrary<number>) =>
  fc
    .record({
      n: address,
      parts: fc.constantFrom<1 | 2 | 3 | 4>(1, 2, 3, 4),
      radices: fc.array(radix, { minLength: 4, maxLength: 4 }),
      decoration: fc.constantFrom<Decoration>(
        'none',
        'trailing-dot',
        'percent',
        'full-width',
        'ideographic-dot',
      ),
    })
    .map(({ n, parts, radices, decoration }) => ({
      n,
      host: decorate(
        v4Parts(n, parts)
          .map((part, i) => numeral(part, radices[i]!))
          .join('.'),
        decoration,
      ),
    }));

// ---- IPv6 ---------------------------------------------------------------------------------------------------

/** IPv6 space that is public: 2000::/3 less the special-purpose ranges inside it. */
const GLOBAL_V6 = ipaddr.parseCIDR('2000::/3');
const SPECIAL_IN_GLOBAL_V6 = [
  '2001::/23',
  '2001:db8::/32',
  '2002::/16',
  '2620:4f:8000::/48',
  '3fff::/20',
].map((c) => ipaddr.parseCIDR(c));
/** Refused ranges to draw from: outside 2000::/3 and the special ranges inside it. */
const REFUSED_V6 = [
  '::/128',
  '::1/128',
  '::/96',
  '::ffff:0:0/96',
  '::ffff:0:0:0/96',
  '64:ff9b:1::/48',
  '100::/64',
  'fc00::/7',
  'fe80::/10',
  'fec0::/10',
  'ff00::/8',
  '4000::/2',
  '8000::/1',
  '::/3',
  '2001::/23',
  '2001::/32',
  '2001:db8::/32',
  '2002::/16',
  '2620:4f:8000::/48',
  '3fff::/20',
];

function v6FromBits(base: bigint, bits: number, random: bigint): ipaddr.IPv6 {
  const hostMask = bits === 128 ? 0n : (1n << BigInt(128 - bits)) - 1n;
  const value = (base & ~hostMask) | (random & hostMask);
  const parts = Array.from({ length: 8 }, (_, i) => Number((value >> BigInt(112 - 16 * i)) & 0xffffn));
  return new ipaddr.IPv6(parts);
}

function v6Bits(address: ipaddr.IPv6): bigint {
  return address.parts.reduce((value, part) => (value << 16n) | BigInt(part), 0n);
}

const random128 = fc.bigInt({ min: 0n, max: (1n << 128n) - 1n });

const refusedV6 = fc
  .record({ cidr: fc.constantFrom(...REFUSED_V6), random: random128 })
  .map(({ cidr, random }) => {
    const [base, bits] = ipaddr.IPv6.parseCIDR(cidr);
    return v6FromBits(v6Bits(base), bits, random);
  })
  // 64:ff9b::/96 is outside 2000::/3 but carries a (possibly public) IPv4 address: drawn separately below.
  .filter((address) => !address.match(ipaddr.IPv6.parseCIDR('64:ff9b::/96')));

const publicV6 = random128
  .map((random) => v6FromBits(v6Bits(GLOBAL_V6[0] as ipaddr.IPv6), 3, random))
  .filter((address) => !SPECIAL_IN_GLOBAL_V6.some((range) => address.match(range)));

type V6Spelling = 'compressed' | 'full' | 'padded' | 'upper' | 'dotted-tail';

function spellV6(address: ipaddr.IPv6, how: V6Spelling): string {
  const hex = address.parts.map((part) => part.toString(16));
  if (how === 'full') return hex.join(':');
  if (how === 'padded') return hex.map((part) => part.padStart(4, '0')).join(':');
  if (how === 'upper') return address.toRFC5952String().toUpperCase();
  if (how === 'dotted-tail') {
    const tail = address.toByteArray().slice(12).join('.');
    return `${hex.slice(0, 6).join(':')}:${tail}`;
  }
  return address.toRFC5952String();
}

const v6Form = (address: fc.Arbitrary<ipaddr.IPv6>) =>
  fc
    .record({
      address,
      how: fc.constantFrom<V6Spelling>('compressed', 'full', 'padded', 'upper', 'dotted-tail'),
    })
    .map(({ address, how }) => ({ address, host: `[${spellV6(address, how)}]` }));

/** An IPv4 address inside each IPv6 form that carries one. */
const EMBEDDINGS = {
  mapped: (v4: string) => `::ffff:${v4}`,
  translated: (v4: string) => `::ffff:0:${v4}`,
  compatible: (v4: string) => `::${v4}`,
  nat64: (v4: string) => `64:ff9b::${v4}`,
  '6to4': (v4: string) => {
    const [a, b, c, d] = v4.split('.').map(Number) as [number, number, number, number];
    return `2002:${(a * 256 + b).toString(16)}:${(c * 256 + d).toString(16)}::1`;
  },
} as const;

// ---- Properties -----------------------------------------------------------------------------------------------

function refusalOf(host: string): string | null {
  return callbackTargetProblem(`https://${host}/hooks/gem`, none);
}

describe('refused IPv4 ranges, in every numeric form', () => {
  it('parse to the same address, and that address is refused', () => {
    fc.assert(
      fc.property(v4Form(refusedV4), ({ n, host }) => {
        // Guards against a vacuous pass: the form must be one the URL parser reads as this very address.
        expect(new URL(`https://${host}/`).hostname).toBe(v4Dotted(n));
        expect(refusalOf(host)).toMatch(/^must reach the public internet, but its host /);
      }),
      { numRuns: RUNS },
    );
  });

  it('are refused inside every IPv6 form that carries an IPv4 address', () => {
    const embedding = fc.constantFrom(...(Object.keys(EMBEDDINGS) as (keyof typeof EMBEDDINGS)[]));
    fc.assert(
      fc.property(refusedV4, embedding, (n, how) => {
        const host = `[${EMBEDDINGS[how](v4Dotted(n))}]`;
        expect(URL.canParse(`https://${host}/`)).toBe(true);
        expect(refusalOf(host)).toMatch(/^must reach the public internet/);
      }),
      { numRuns: RUNS },
    );
  });

  it('are refused when DNS answers with them', async () => {
    await fc.assert(
      fc.asyncProperty(refusedV4, async (n) => {
        const answer = [{ address: v4Dotted(n), family: 4 }];
        const check = await checkCallbackTarget('https://hooks.example.com/x', none, {
          resolve: async () => answer,
        });
        expect(check).toMatchObject({ ok: false, refused: true });
      }),
      { numRuns: RUNS },
    );
  });
});

describe('refused IPv6 ranges, in every spelling', () => {
  it('parse to the same address, and that address is refused', () => {
    fc.assert(
      fc.property(v6Form(refusedV6), ({ address, host }) => {
        expect(new URL(`https://${host}/`).hostname).toBe(`[${address.toRFC5952String()}]`);
        expect(refusalOf(host)).toMatch(/^must reach the public internet, but its host /);
      }),
      { numRuns: RUNS },
    );
  });

  it('are refused when DNS answers with them', async () => {
    await fc.assert(
      fc.asyncProperty(refusedV6, async (address) => {
        const answer = [{ address: address.toString(), family: 6 }];
        const check = await checkCallbackTarget('https://hooks.example.com/x', none, {
          resolve: async () => answer,
        });
        expect(check).toMatchObject({ ok: false, refused: true });
      }),
      { numRuns: RUNS },
    );
  });
});

describe('public addresses', () => {
  it('IPv4 outside every refused range is accepted, in every numeric form', () => {
    fc.assert(
      fc.property(v4Form(publicV4), ({ n, host }) => {
        expect(new URL(`https://${host}/`).hostname).toBe(v4Dotted(n));
        expect(refusalOf(host)).toBeNull();
      }),
      { numRuns: RUNS },
    );
  });

  it('IPv6 in 2000::/3 outside the special ranges is accepted, and so is NAT64 of a public IPv4', () => {
    fc.assert(
      fc.property(v6Form(publicV6), publicV4, ({ host }, n) => {
        expect(refusalOf(host)).toBeNull();
        expect(refusalOf(`[64:ff9b::${v4Dotted(n)}]`)).toBeNull();
      }),
      { numRuns: RUNS },
    );
  });
});
