// The callback target rules on their own: which URLs are refused before any DNS, which resolved addresses are
// refused after it, and how NOTIFY_ALLOWED_HOSTS admits exceptions. Pure functions; an injected resolver.
import { describe, expect, it } from 'vitest';
import {
  addressRefusal,
  callbackTargetProblem,
  callbackUrlSyntaxProblem,
  checkCallbackTarget,
  hostAddress,
  isListedCallbackHost,
  parseAllowList,
} from '../../../shared/workflow/callbackTarget.js';

const none = parseAllowList('').allowList;

describe('callbackTargetProblem refuses, on the URL alone', () => {
  // Every target that went through before these rules, then the forms around them.
  it.each([
    ['https://10.0.0.1/hook', /10\.0\.0\.1 is a private address \(RFC 1918\)/],
    ['https://172.16.5.4/', /private address/],
    ['https://192.168.1.1/', /private address/],
    [
      'https://169.254.169.254/metadata/identity/oauth2/token',
      /169\.254\.169\.254 is a link-local address \(where cloud metadata/,
    ],
    ['https://127.0.0.1/', /127\.0\.0\.1 is a loopback address/],
    ['https://127.8.9.10/', /loopback address/],
    ['https://[::1]/', /::1 is a loopback address/],
    ['https://[fe80::1]/', /fe80::1 is a link-local address/],
    ['https://0.0.0.0/', /0\.0\.0\.0 is the unspecified address/],
    ['https://[::]/', /the unspecified address/],
    ['https://2130706433/', /127\.0\.0\.1 is a loopback address/],
    ['https://0x7f000001/', /127\.0\.0\.1 is a loopback address/],
    ['https://0177.0.0.1/', /127\.0\.0\.1 is a loopback address/],
    ['https://127.1/', /127\.0\.0\.1 is a loopback address/],
    ['https://0/', /0\.0\.0\.0 is the unspecified address/],
    ['https://%31%32%37.0.0.1/', /127\.0\.0\.1 is a loopback/],
    ['https://１２７.０.０.１/', /127\.0\.0\.1 is a loopback/],
    ['https://127.0.0.1./', /127\.0\.0\.1 is a loopback/],
    ['https://0300.0250.0.1/', /192\.168\.0\.1 is a private/],
    ['https://localhost/', /localhost is a special-use name \(\.localhost\)/],
    ['https://localhost./', /localhost\. is a special-use name/],
    ['https://LOCALHOST/', /localhost is a special-use name/],
    ['https://ｌｏｃａｌｈｏｓｔ/', /localhost is a special-use name/],
    ['https://api.localhost/', /special-use name \(\.localhost\)/],
    ['https://printer.local/', /special-use name \(\.local\)/],
    ['https://metadata.google.internal/', /special-use name \(\.internal\)/],
    ['https://router.home.arpa/', /special-use name \(\.home\.arpa\)/],
    ['https://intranet/', /single-label name/],
    ['https://intranet./', /single-label name/],
    ['https://a..b.example/', /not a valid host name/],
    ['https://100.64.0.1/', /carrier-grade NAT/],
    ['https://100.127.255.254/', /carrier-grade NAT/],
    ['https://224.0.0.1/', /multicast/],
    ['https://[ff02::1]/', /multicast/],
    ['https://255.255.255.255/', /broadcast/],
    ['https://4294967295/', /broadcast/],
    ['https://192.0.2.1/', /reserved or documentation/],
    ['https://198.51.100.7/', /reserved or documentation/],
    ['https://203.0.113.9/', /reserved or documentation/],
    ['https://198.18.0.1/', /reserved or documentation/],
    ['https://240.0.0.1/', /reserved or documentation/],
    ['https://[2001:db8::1]/', /reserved or documentation/],
    ['https://[fc00::1]/', /unique-local/],
    ['https://[fd12:3456::1]/', /unique-local/],
    ['https://[fec0::1]/', /site-local/],
    ['https://[::ffff:127.0.0.1]/', /IPv4-mapped IPv6 address \(of 127\.0\.0\.1\)/],
    ['https://[::ffff:8.8.8.8]/', /IPv4-mapped IPv6 address \(of 8\.8\.8\.8\)/],
    ['https://[::ffff:0:a00:1]/', /IPv4-translated/],
    ['https://[::127.0.0.1]/', /IPv4-compatible IPv6 address \(of 127\.0\.0\.1/],
    ['https://[::10.0.0.1]/', /IPv4-compatible/],
    ['https://[64:ff9b::10.0.0.1]/', /NAT64 address of 10\.0\.0\.1, which is a private address/],
    ['https://[64:ff9b::7f00:1]/', /NAT64 address of 127\.0\.0\.1, which is a loopback/],
    ['https://[64:ff9b:1::1]/', /local-use NAT64/],
    ['https://[2002:7f00:1::]/', /6to4/],
    ['https://[2001::1]/', /Teredo/],
    ['https://[4000::1]/', /outside 2000::\/3/],
    ['https://168.63.129.16/', /Azure platform endpoint/],
  ])('%s', (url, reason) => {
    const problem = callbackTargetProblem(url, none);
    expect(problem).toMatch(reason);
    if (!/single-label|special-use|valid host/.test(problem ?? '')) {
      expect(problem).toMatch(/^must reach the public internet, but its host /);
    }
    expect(problem).toMatch(/list the host in NOTIFY_ALLOWED_HOSTS to allow it$/);
  });

  it.each([
    [
      'http://example.com/hook',
      /^must use https \(http is accepted only for hosts listed in NOTIFY_ALLOWED_HOSTS\)$/,
    ],
    ['http://127.0.0.1:9000/done', /must use https/],
    ['http://localhost:7071/', /must use https/],
    ['http://[::1]:8080/', /must use https/],
    ['HTTP://example.com', /must use https/],
    ['ftp://example.com/x', /^must use https \(got ftp\)$/],
    ['file:///etc/passwd', /must use https \(got file\)/],
    ['https://user:pass@example.com/x', /must not contain a user name or password/],
    ['https://user@example.com/x', /must not contain a user name or password/],
    ['/relative/path', /absolute URL/],
    ['example.com/hook', /absolute URL/],
    ['https://[fe80::1%25eth0]/', /absolute URL/],
    ['https://1.2.3.4.5/', /absolute URL/],
    ['https://08.1.1.1/', /absolute URL/],
  ])('%s', (url, reason) => {
    expect(callbackTargetProblem(url, none)).toMatch(reason);
  });
});

describe('callbackTargetProblem accepts public https targets', () => {
  it.each([
    'https://example.com/hooks/gem',
    'https://example.com:8443/x?y=1',
    'https://hooks.example.com./x',
    'https://8.8.8.8/hook',
    'https://134744072/hook', // 8.8.8.8 as one number: a public address in any form is still public
    'https://[2606:4700:4700::1111]/hook',
    'https://[64:ff9b::8.8.8.8]/hook', // NAT64 of a public address, as DNS64 networks hand out
    'https://127.0.0.1.nip.io/hook', // a name: checked after DNS, when the callback is sent
    'https://xn--bcher-kva.example/',
  ])('%s', (url) => {
    expect(callbackTargetProblem(url, none)).toBeNull();
  });
});

describe('callbackUrlSyntaxProblem (the request schema, without settings)', () => {
  it('accepts http and https, refuses other schemes, credentials and relative URLs', () => {
    expect(callbackUrlSyntaxProblem('http://127.0.0.1:9000/done')).toBeNull();
    expect(callbackUrlSyntaxProblem('https://10.0.0.1/')).toBeNull();
    expect(callbackUrlSyntaxProblem('gopher://example.com/')).toMatch(/got gopher/);
    expect(callbackUrlSyntaxProblem('https://a:b@example.com/')).toMatch(/user name or password/);
    expect(callbackUrlSyntaxProblem('not a url')).toMatch(/absolute URL/);
  });
});

describe('NOTIFY_ALLOWED_HOSTS', () => {
  it('parses names, addresses (any bracket or numeric form) and CIDR ranges', () => {
    const { allowList, problems } = parseAllowList(
      ' receiver.corp.example, Hooks.Example.  127.0.0.1,[::1] 10.20.0.0/16,fd00::/8 ',
    );
    expect(problems).toEqual([]);
    expect([...allowList.names].sort()).toEqual(['hooks.example', 'receiver.corp.example']);
    expect(allowList.ranges.map(([a, bits]) => `${a.toString()}/${bits}`)).toEqual([
      '127.0.0.1/32',
      '::1/128',
      '10.20.0.0/16',
      'fd00::/8',
    ]);
    // A numeric host name is an address, never a name that a DNS record could take over.
    expect(parseAllowList('2130706433').allowList.ranges[0]?.[0].toString()).toBe('127.0.0.1');
  });

  it('names every malformed entry', () => {
    const { problems } = parseAllowList('http://x.example, x.example:8080, 10.0.0.0/33, a/b, user@h.example');
    expect(problems).toHaveLength(5);
    expect(problems[0]).toMatch(/"http:\/\/x\.example" must be a host name, an IP address or a CIDR range/);
    expect(problems[2]).toMatch(/"10\.0\.0\.0\/33" is not a CIDR range/);
  });

  it('admits exactly what it lists, over http too', () => {
    const { allowList } = parseAllowList('127.0.0.1, receiver.corp.internal, 10.20.0.0/16');
    expect(callbackTargetProblem('http://127.0.0.1:9000/done', allowList)).toBeNull();
    expect(callbackTargetProblem('https://127.0.0.1/done', allowList)).toBeNull();
    expect(callbackTargetProblem('http://2130706433:9000/done', allowList)).toBeNull(); // the same address
    expect(callbackTargetProblem('http://receiver.corp.internal/x', allowList)).toBeNull();
    expect(callbackTargetProblem('https://receiver.corp.internal./x', allowList)).toBeNull();
    expect(callbackTargetProblem('https://10.20.3.4/x', allowList)).toBeNull();
    // Neighbours stay refused.
    expect(callbackTargetProblem('http://127.0.0.2:9000/', allowList)).toMatch(/must use https/);
    expect(callbackTargetProblem('https://127.0.0.2/', allowList)).toMatch(/loopback/);
    expect(callbackTargetProblem('https://localhost/', allowList)).toMatch(/special-use/);
    expect(callbackTargetProblem('https://[::1]/', allowList)).toMatch(/loopback/);
    expect(callbackTargetProblem('https://10.21.0.1/', allowList)).toMatch(/private/);
    expect(callbackTargetProblem('https://other.corp.internal/', allowList)).toMatch(/special-use/);
    expect(callbackTargetProblem('http://example.com/', allowList)).toMatch(/must use https/);
  });

  it('tells a listed host (what blob metadata may name) from a merely public one', () => {
    const { allowList } = parseAllowList('127.0.0.1, hooks.example.com');
    expect(isListedCallbackHost('http://127.0.0.1:5000/x', allowList)).toBe(true);
    expect(isListedCallbackHost('https://hooks.example.com/x', allowList)).toBe(true);
    expect(isListedCallbackHost('https://example.com/x', allowList)).toBe(false);
    expect(isListedCallbackHost('https://evil.hooks.example.com/x', allowList)).toBe(false);
    expect(isListedCallbackHost('not a url', allowList)).toBe(false);
  });
});

describe('hostAddress and addressRefusal', () => {
  it('reads only canonical URL hosts as addresses', () => {
    expect(hostAddress('127.0.0.1')?.toString()).toBe('127.0.0.1');
    expect(hostAddress('[::1]')?.toString()).toBe('::1');
    expect(hostAddress('example.com')).toBeNull();
    expect(hostAddress('127.1')).toBeNull(); // never a URL.hostname: the parser writes 127.0.0.1
  });

  it('refuses resolved addresses with a zone id', () => {
    const { allowList } = parseAllowList('');
    expect(addressRefusal(hostAddress('[fe80::1]')!, allowList)).toMatch(/link-local/);
  });
});

describe('checkCallbackTarget, after DNS', () => {
  const answers =
    (...addresses: string[]) =>
    async () =>
      addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));

  it('refuses a public-looking name that resolves inside the network, naming the address', async () => {
    const check = await checkCallbackTarget('https://hooks.example.com/x', none, {
      resolve: answers('10.1.2.3'),
    });
    expect(check).toEqual({
      ok: false,
      refused: true,
      reason:
        'The callback host hooks.example.com resolves to 10.1.2.3, which is a private address (RFC 1918); list the host in NOTIFY_ALLOWED_HOSTS to allow it.',
    });
  });

  it('refuses when any one answer is not public, since the connection could use any of them', async () => {
    for (const inner of ['127.0.0.1', '::1', 'fe80::1%eth0', '::ffff:169.254.169.254', '100.64.1.1']) {
      const check = await checkCallbackTarget('https://hooks.example.com/x', none, {
        resolve: answers('93.184.215.14', inner),
      });
      expect(check, inner).toMatchObject({ ok: false, refused: true });
    }
  });

  it('accepts a name whose every answer is public, and returns those answers to connect to', async () => {
    const check = await checkCallbackTarget('https://hooks.example.com/x', none, {
      resolve: answers('93.184.215.14', '2606:2800:21f:cb07:6820:80da:af6b:8b2c'),
    });
    expect(check).toMatchObject({ ok: true, addresses: [{ address: '93.184.215.14' }, { family: 6 }] });
  });

  it('lets a listed name resolve anywhere, and a listed range admit any name resolving into it', async () => {
    const listed = parseAllowList('receiver.corp.example, 10.20.0.0/16').allowList;
    const named = await checkCallbackTarget('https://receiver.corp.example/x', listed, {
      resolve: answers('10.99.0.1'),
    });
    expect(named.ok).toBe(true);
    const ranged = await checkCallbackTarget('https://other.corp.example/x', listed, {
      resolve: answers('10.20.0.7'),
    });
    expect(ranged.ok).toBe(true);
    const outside = await checkCallbackTarget('https://other.corp.example/x', listed, {
      resolve: answers('10.21.0.7'),
    });
    expect(outside).toMatchObject({ ok: false, refused: true });
  });

  it('does not ask DNS for an address, and does not resolve a URL it refuses', async () => {
    let asked = 0;
    const counting = async () => {
      asked += 1;
      return [{ address: '93.184.215.14', family: 4 }];
    };
    expect(await checkCallbackTarget('https://8.8.8.8/x', none, { resolve: counting })).toMatchObject({
      ok: true,
      addresses: [{ address: '8.8.8.8', family: 4 }],
    });
    expect(await checkCallbackTarget('https://localhost/x', none, { resolve: counting })).toMatchObject({
      ok: false,
      refused: true,
    });
    expect(asked).toBe(0);
  });

  it('reports a name that does not resolve as not delivered, not as refused', async () => {
    const failing = async () => {
      throw Object.assign(new Error('getaddrinfo ENOTFOUND'), { code: 'ENOTFOUND' });
    };
    expect(await checkCallbackTarget('https://nx.example.com/', none, { resolve: failing })).toEqual({
      ok: false,
      refused: false,
      reason: 'The callback host nx.example.com could not be resolved (ENOTFOUND).',
    });
    const empty = async () => [];
    expect(await checkCallbackTarget('https://nx.example.com/', none, { resolve: empty })).toMatchObject({
      ok: false,
      refused: false,
    });
  });

  it('gives up on a resolver that never answers', async () => {
    const silent = () => new Promise<never>(() => {});
    const check = await checkCallbackTarget('https://slow.example.com/', none, {
      resolve: silent,
      timeoutMs: 20,
    });
    expect(check).toMatchObject({
      ok: false,
      refused: false,
      reason: expect.stringMatching(/DNS took longer/),
    });
  });
});
