/**
 * Which hosts a result callback may reach. A callback is a request the app makes from inside its own network
 * to a URL someone else chose, so by default it may reach only the public internet: every loopback, private,
 * link-local, unique-local, carrier-grade NAT, multicast, unspecified, broadcast, reserved and documentation
 * address is refused, and so are the IPv6 forms that carry an IPv4 address (mapped, compatible, NAT64, 6to4,
 * Teredo). Plain http is refused too. The operator may admit hosts that break these rules with the
 * `NOTIFY_ALLOWED_HOSTS` setting (host names, IP addresses, CIDR ranges).
 *
 * The same rules run twice: on the URL alone when a match is requested (a 400 naming the reason), and again
 * when the callback is sent, after DNS, on every address the name resolves to. The sender connects only to
 * the addresses checked here (`pinnedLookup`), so a DNS answer that changes between check and connect
 * (rebinding) cannot move the connection. Host names are read the way the WHATWG URL parser reads them, which
 * already turns the numeric forms the system resolver accepts (`2130706433`, `0x7f000001`, `0177.0.0.1`,
 * `127.1`, full-width digits, percent-escapes) into a dotted IPv4 address; what it leaves as a name is
 * resolved, and every answer is checked. Address classes come from ipaddr.js; the few it does not cover are
 * listed below with the reason.
 */
import { promises as dns, type LookupAddress, type LookupOptions } from 'node:dns';
import ipaddr from 'ipaddr.js';

/** The setting that admits hosts the rules would refuse. */
export const ALLOWED_HOSTS_SETTING = 'NOTIFY_ALLOWED_HOSTS';

type Address = ipaddr.IPv4 | ipaddr.IPv6;
type Range = readonly [Address, number];

/** Parsed `NOTIFY_ALLOWED_HOSTS`: host names (lower case, no trailing dot) and address ranges. */
export interface CallbackAllowList {
  readonly names: ReadonlySet<string>;
  readonly ranges: readonly Range[];
}

export const EMPTY_ALLOW_LIST: CallbackAllowList = Object.freeze({ names: new Set<string>(), ranges: [] });

/** Why ipaddr.js puts an address in a range other than `unicast`, in words. */
const RANGE_REASONS: Record<string, string> = {
  unspecified: 'the unspecified address',
  broadcast: 'the broadcast address',
  multicast: 'a multicast address',
  linkLocal: 'a link-local address (where cloud metadata and identity endpoints live)',
  loopback: 'a loopback address (this machine)',
  carrierGradeNat: 'a carrier-grade NAT address (100.64.0.0/10)',
  private: 'a private address (RFC 1918)',
  reserved: 'a reserved or documentation address',
  uniqueLocal: 'a unique-local address (fc00::/7)',
  ipv4Mapped: 'an IPv4-mapped IPv6 address',
  rfc6145: 'an IPv4-translated IPv6 address (RFC 6145)',
  rfc6052: 'a local-use NAT64 address (64:ff9b:1::/48)',
  '6to4': 'a 6to4 address (deprecated, RFC 7526), which carries an IPv4 address',
  teredo: 'a Teredo tunnel address, which carries an IPv4 address',
  deprecatedSiteLocal: 'a site-local address (deprecated, fec0::/10)',
};

function parseRange(cidr: string): Range {
  return ipaddr.parseCIDR(cidr) as Range;
}

/** The public IPv6 unicast space: ipaddr.js calls every address outside its special ranges "unicast". */
const GLOBAL_UNICAST_V6 = parseRange('2000::/3');
/** NAT64's well-known prefix (RFC 6052): the last 32 bits are the IPv4 address reached, checked as such. */
const NAT64_WELL_KNOWN = parseRange('64:ff9b::/96');
/** IPv4-compatible addresses (deprecated, RFC 4291): `::a.b.c.d`; `::` and `::1` are classified before. */
const IPV4_COMPATIBLE = parseRange('::/96');

/** Addresses ipaddr.js calls public that no callback may reach, each with the reason. */
const EXTRA_REFUSED: readonly { range: Range; reason: string }[] = [
  {
    // Azure's virtual public IP: the platform's DNS, health probes and WireServer answer there, from
    // inside every Azure network only.
    range: parseRange('168.63.129.16/32'),
    reason: 'the Azure platform endpoint (WireServer, DNS)',
  },
];

/**
 * Special-use names that resolve only inside a network: `localhost` (RFC 6761), mDNS `.local` (RFC 6762),
 * `.internal` (reserved for private use by ICANN, 2024), `.home.arpa` (RFC 8375) and `.localdomain`.
 */
const LOCAL_NAME_SUFFIXES = ['localhost', 'local', 'internal', 'home.arpa', 'localdomain'];

function withoutBrackets(host: string): string {
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}

function withoutTrailingDots(name: string): string {
  return name.replace(/\.+$/, '');
}

/** The address a URL host (as `URL.hostname` gives it) names, or null for a host name. */
export function hostAddress(hostname: string): Address | null {
  const bare = withoutBrackets(hostname);
  // Strict forms only: URL.hostname is already canonical, and ipaddr.js alone would also accept legacy forms.
  if (ipaddr.IPv4.isValidFourPartDecimal(bare) || ipaddr.IPv6.isValid(bare)) return ipaddr.parse(bare);
  return null;
}

function inRange(address: Address, range: Range): boolean {
  return address.kind() === range[0].kind() && address.match(range[0], range[1]);
}

function embeddedIPv4(address: ipaddr.IPv6): ipaddr.IPv4 {
  const bytes = address.toByteArray().slice(12);
  return ipaddr.fromByteArray(bytes) as ipaddr.IPv4;
}

/**
 * What kind of non-public address `address` is ("a private address (RFC 1918)"), or null when a callback may
 * reach it: a public address, or one inside a range of the allow-list.
 */
export function addressRefusal(
  address: Address,
  allowList: CallbackAllowList = EMPTY_ALLOW_LIST,
): string | null {
  if (allowList.ranges.some((range) => inRange(address, range))) return null;
  if (address.kind() === 'ipv6') {
    const v6 = address as ipaddr.IPv6;
    if (inRange(v6, NAT64_WELL_KNOWN)) {
      const inner = embeddedIPv4(v6);
      const reason = addressRefusal(inner, allowList);
      return reason && `a NAT64 address of ${inner.toString()}, which is ${reason}`;
    }
    const range = v6.range();
    if (range === 'ipv4Mapped' || range === 'rfc6145') {
      return `${RANGE_REASONS[range]} (of ${embeddedIPv4(v6).toString()}); give the IPv4 address itself`;
    }
    if (range === 'unicast' && inRange(v6, IPV4_COMPATIBLE)) {
      return `an IPv4-compatible IPv6 address (of ${embeddedIPv4(v6).toString()}; deprecated, RFC 4291)`;
    }
    if (range === 'unicast' && !inRange(v6, GLOBAL_UNICAST_V6)) {
      return 'outside 2000::/3, the only IPv6 space allocated for public addresses';
    }
  }
  const range = address.range();
  if (range !== 'unicast') return RANGE_REASONS[range] ?? `a special-purpose address (${range})`;
  return EXTRA_REFUSED.find((extra) => inRange(address, extra.range))?.reason ?? null;
}

/** True when the URL host itself is on the allow-list: a listed name, or an address inside a listed range. */
function hostIsListed(hostname: string, allowList: CallbackAllowList): boolean {
  const address = hostAddress(hostname);
  if (address) return allowList.ranges.some((range) => inRange(address, range));
  return allowList.names.has(withoutTrailingDots(hostname));
}

/** Why a host name (not an address) cannot be a callback host, or null. */
function hostNameRefusal(hostname: string): string | null {
  const name = withoutTrailingDots(hostname);
  if (name.split('.').some((label) => label === '')) return `${hostname} is not a valid host name`;
  const local = LOCAL_NAME_SUFFIXES.find((suffix) => name === suffix || name.endsWith(`.${suffix}`));
  if (local) return `${hostname} is a special-use name (.${local}) that resolves only inside a network`;
  if (!name.includes('.')) {
    return `${hostname} is a single-label name, which resolves through the local network's search domains`;
  }
  return null;
}

/**
 * Why `url` is not a well-formed callback URL, whatever the allow-list says, or null. These are the rules the
 * request schema applies on its own: an absolute http(s) URL without user name or password (the URL is
 * stored in plain text in the orchestration input).
 */
export function callbackUrlSyntaxProblem(url: string): string | null {
  if (!URL.canParse(url)) return 'must be an absolute URL such as https://example.com/hooks/gem';
  const parsed = new URL(url);
  if (parsed.username || parsed.password) {
    return 'must not contain a user name or password (it is stored in plain text); authenticate with the signature header instead';
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') {
    return `must use https (got ${parsed.protocol.replace(/:$/, '')})`;
  }
  return null;
}

const listHint = `; list the host in ${ALLOWED_HOSTS_SETTING} to allow it`;

/**
 * Why a callback may not be sent to `url`, judged on the URL alone (no DNS), or null. Used when a match is
 * requested, and first thing when the callback is sent. A host on the allow-list passes; otherwise https is
 * required, an address must be public, and a name must not be one that only resolves inside a network.
 */
export function callbackTargetProblem(
  url: string,
  allowList: CallbackAllowList = EMPTY_ALLOW_LIST,
): string | null {
  const syntax = callbackUrlSyntaxProblem(url);
  if (syntax) return syntax;
  const { protocol, hostname } = new URL(url);
  if (hostIsListed(hostname, allowList)) return null;
  if (protocol === 'http:') {
    return `must use https (http is accepted only for hosts listed in ${ALLOWED_HOSTS_SETTING})`;
  }
  const address = hostAddress(hostname);
  if (address) {
    const reason = addressRefusal(address, allowList);
    return (
      reason && `must reach the public internet, but its host ${address.toString()} is ${reason}${listHint}`
    );
  }
  const reason = hostNameRefusal(hostname);
  return reason && `must reach the public internet, but ${reason}${listHint}`;
}

/** True when the URL's host is itself on the allow-list (what a callback named in blob metadata must be). */
export function isListedCallbackHost(url: string, allowList: CallbackAllowList): boolean {
  return URL.canParse(url) && hostIsListed(new URL(url).hostname, allowList);
}

/** Resolves a host name to every address, as the system resolver (getaddrinfo) does for a connection. */
export type HostResolver = (hostname: string) => Promise<LookupAddress[]>;

export const systemResolver: HostResolver = (hostname) => dns.lookup(hostname, { all: true, verbatim: true });

export type CallbackTargetCheck =
  | { ok: true; url: URL; addresses: LookupAddress[] }
  /** `refused`: the rules refused the target; otherwise the host could not be resolved. */
  | { ok: false; refused: boolean; reason: string };

function withTimeout<T>(work: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took longer than ${timeoutMs} ms`)), timeoutMs);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

/**
 * The full check before a callback is sent: the URL rules, then DNS, then every resolved address. One
 * non-public answer refuses the target, because the connection could use any of them. A host name on the
 * allow-list may resolve anywhere; otherwise each address must be public or inside a listed range.
 */
export async function checkCallbackTarget(
  url: string,
  allowList: CallbackAllowList,
  options: { resolve?: HostResolver; timeoutMs?: number } = {},
): Promise<CallbackTargetCheck> {
  const problem = callbackTargetProblem(url, allowList);
  if (problem) return { ok: false, refused: true, reason: `The callback URL ${problem}.` };
  const parsed = new URL(url);
  const literal = hostAddress(parsed.hostname);
  if (literal) {
    return { ok: true, url: parsed, addresses: [{ address: literal.toString(), family: familyOf(literal) }] };
  }
  let answers: LookupAddress[];
  try {
    const resolve = options.resolve ?? systemResolver;
    answers = await withTimeout(resolve(parsed.hostname), options.timeoutMs ?? 10_000, 'DNS');
  } catch (error) {
    const detail = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    return {
      ok: false,
      refused: false,
      reason: `The callback host ${parsed.hostname} could not be resolved (${detail}).`,
    };
  }
  if (answers.length === 0) {
    return { ok: false, refused: false, reason: `The callback host ${parsed.hostname} has no address.` };
  }
  const nameListed = hostIsListed(parsed.hostname, allowList);
  for (const answer of answers) {
    const reason = nameListed ? null : answerRefusal(answer.address, allowList);
    if (reason) {
      return {
        ok: false,
        refused: true,
        reason: `The callback host ${parsed.hostname} resolves to ${answer.address}, ${reason}${listHint}.`,
      };
    }
  }
  return { ok: true, url: parsed, addresses: answers };
}

function answerRefusal(address: string, allowList: CallbackAllowList): string | null {
  if (!ipaddr.isValid(address)) return `which is not an IP address`;
  const reason = addressRefusal(ipaddr.parse(address), allowList);
  return reason && `which is ${reason}`;
}

function familyOf(address: Address): 4 | 6 {
  return address.kind() === 'ipv4' ? 4 : 6;
}

type LookupCallback = (
  error: NodeJS.ErrnoException | null,
  address: string | LookupAddress[],
  family?: number,
) => void;

/**
 * A `lookup` for node:net / node:http agents that answers only with `addresses` (already checked) and never
 * asks DNS again. It serves every connection of one send, retries included, so all of them reach an address
 * that was checked. TLS is unaffected: the agent still verifies the certificate against the URL's host name.
 */
export function pinnedLookup(hostname: string, addresses: readonly LookupAddress[]) {
  return (requested: string, options: LookupOptions, callback: LookupCallback): void => {
    const family = options.family === 'IPv4' ? 4 : options.family === 'IPv6' ? 6 : options.family;
    const usable = addresses.filter((a) => !family || a.family === family);
    const first = usable[0];
    if (withoutBrackets(requested) !== withoutBrackets(hostname) || !first) {
      const error: NodeJS.ErrnoException = new Error(
        `No checked address for ${requested}${family ? ` (IPv${family})` : ''}.`,
      );
      error.code = 'ENOTFOUND';
      callback(error, '');
      return;
    }
    if (options.all)
      callback(
        null,
        usable.map((a) => ({ ...a })),
      );
    else callback(null, first.address, first.family);
  };
}

/**
 * Parses `NOTIFY_ALLOWED_HOSTS`: entries separated by commas or white space, each a host name
 * (`receiver.corp.example`), an IP address (`127.0.0.1`, `::1`, `[::1]`) or a CIDR range (`10.20.0.0/16`).
 * Returns the problems instead of throwing, for the settings validator.
 */
export function parseAllowList(text: string | readonly string[]): {
  allowList: CallbackAllowList;
  problems: string[];
} {
  const names = new Set<string>();
  const ranges: Range[] = [];
  const problems: string[] = [];
  for (const entry of typeof text === 'string' ? allowListEntries(text) : text) {
    const parsed = parseAllowListEntry(entry);
    if (typeof parsed === 'string') problems.push(parsed);
    else if ('name' in parsed) names.add(parsed.name);
    else ranges.push(parsed.range);
  }
  return { allowList: { names, ranges }, problems };
}

/** The entries of an allow-list setting, separated by commas or white space. */
export function allowListEntries(text: string): string[] {
  return text.split(/[\s,]+/).filter(Boolean);
}

function parseAllowListEntry(entry: string): { name: string } | { range: Range } | string {
  const bare = withoutBrackets(entry);
  if (/^[0-9a-f.:]+\/\d+$/i.test(bare)) {
    if (ipaddr.isValidCIDR(bare)) return { range: parseRange(bare) };
    return `"${entry}" is not a CIDR range such as 10.20.0.0/16`;
  }
  if (ipaddr.IPv4.isValidFourPartDecimal(bare) || ipaddr.IPv6.isValid(bare)) {
    const address = ipaddr.parse(bare);
    return { range: [address, address.kind() === 'ipv4' ? 32 : 128] };
  }
  const problem = `"${entry}" must be a host name, an IP address or a CIDR range (no scheme, port or path)`;
  if (/[/:@?#\\]/.test(entry) || !URL.canParse(`https://${entry}/`)) return problem;
  const { hostname } = new URL(`https://${entry}/`);
  // The URL parser turns numeric forms into a dotted address; list those as addresses, never as names.
  const address = hostAddress(hostname);
  if (address) return { range: [address, address.kind() === 'ipv4' ? 32 : 128] };
  return { name: withoutTrailingDots(hostname) };
}
