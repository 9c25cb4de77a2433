import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkAddress, checkUrl, checkUrlSyntax, type NetworkRules, type Resolve } from './url.js';

const NO_EXCEPTIONS: NetworkRules = { allowCidrs: [], allowHosts: [] };
const PUBLIC_ADDRESSES = ['93.184.216.34', '2606:2800:220:1:248:1893:25c8:1946'];

/** Maps every name to public addresses and records what it was asked. */
function publicResolver(): Resolve & { asked: string[] } {
  const asked: string[] = [];
  const resolve = async (hostname: string) => {
    asked.push(hostname);
    return PUBLIC_ADDRESSES;
  };
  return Object.assign(resolve, { asked });
}

function fixedResolver(addresses: string[]): Resolve {
  return async () => addresses;
}

const neverResolve: Resolve = async (hostname) => {
  throw new Error(`an IP literal must not be resolved, got ${hostname}`);
};

describe('the public policy corpus', () => {
  const corpus = readFileSync(new URL('../../../shared/corpus/policy-public.jsonl', import.meta.url), 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as { expect: 'allow' | 'deny'; why: string; action: { kind: string; url?: string } })
    .filter((entry) => entry.action.kind === 'url');

  it('has url cases', () => {
    expect(corpus.length).toBeGreaterThanOrEqual(10);
  });

  it.each(corpus.map((entry) => [entry.why, entry.action.url ?? '', entry.expect] as const))('%s: %s → %s', async (_why, url, expected) => {
    const { decision } = await checkUrl(url, NO_EXCEPTIONS, publicResolver());
    expect(decision.allowed ? 'allow' : 'deny').toBe(expected);
    expect(decision.rule).toMatch(/^url\./);
    expect(decision.reason.length).toBeGreaterThan(10);
  });
});

describe('checkUrlSyntax', () => {
  it.each([
    // loopback, every spelling WHATWG URL accepts
    ['http://127.0.0.1/', 'url.loopback'],
    ['http://127.0.0.2:8080/x', 'url.loopback'],
    ['http://127.255.255.254/', 'url.loopback'],
    ['http://2130706433/', 'url.loopback'],
    ['http://0x7f000001/', 'url.loopback'],
    ['http://0x7F.0x0.0x0.0x1/', 'url.loopback'],
    ['http://0177.0.0.1/', 'url.loopback'],
    ['http://00000177.0000.0000.0001/', 'url.loopback'],
    ['http://0177.1/', 'url.loopback'],
    ['http://0x7f.1/', 'url.loopback'],
    ['http://127.1/', 'url.loopback'],
    ['http://127.0.1/', 'url.loopback'],
    ['http://127.0.0.1./', 'url.loopback'],
    ['http://0x7f.0.0.01/', 'url.loopback'],
    ['http://%31%32%37.0.0.1/', 'url.loopback'],
    ['http://127%2E0%2E0%2E1/', 'url.loopback'],
    ['http://１２７．０．０．１/', 'url.loopback'],
    ['http://127。0。0。1/', 'url.loopback'],
    ['HTTP://127.0.0.1/', 'url.loopback'],
    ['http:/\\127.0.0.1/', 'url.loopback'],
    ['  http://127.0.0.1/  ', 'url.loopback'],
    ['http://\t127.0.0.1/', 'url.loopback'],
    ['http://[::1]/', 'url.loopback'],
    ['http://[0:0:0:0:0:0:0:1]/', 'url.loopback'],
    ['http://[0000::0001]/', 'url.loopback'],
    ['http://[::ffff:127.0.0.1]/', 'url.loopback'],
    ['http://[::ffff:7f00:1]/', 'url.loopback'],
    ['http://[::FFFF:7F00:0001]/', 'url.loopback'],
    ['http://[0:0:0:0:0:ffff:127.0.0.1]/', 'url.loopback'],
    ['http://[::127.0.0.1]/', 'url.loopback'],
    ['http://[::ffff:0:127.0.0.1]/', 'url.loopback'],
    ['http://[64:ff9b::127.0.0.1]/', 'url.loopback'],
    ['http://[2002:7f00:1::1]/', 'url.loopback'],
    ['https://[::1]:8443/', 'url.loopback'],
    ['http://a.com\\@127.0.0.1/', 'url.allowed'],
    // unspecified, which reaches the local host
    ['http://0.0.0.0/', 'url.unspecified'],
    ['http://0/', 'url.unspecified'],
    ['http://0x/', 'url.unspecified'],
    ['http://[::]/', 'url.unspecified'],
    // private
    ['http://10.0.0.1/', 'url.private'],
    ['http://167772161/', 'url.private'],
    ['http://012.0.0.1/', 'url.private'],
    ['http://0xa.1/', 'url.private'],
    ['http://10.1/', 'url.private'],
    ['http://172.16.0.1/', 'url.private'],
    ['http://172.31.255.255/', 'url.private'],
    ['http://0xac.0x10.0.1/', 'url.private'],
    ['http://192.168.0.1/', 'url.private'],
    ['http://3232235521/', 'url.private'],
    ['http://0300.0250.0.1/', 'url.private'],
    ['http://192.168.1/', 'url.private'],
    ['http://[::ffff:10.0.0.1]/', 'url.private'],
    ['http://[::ffff:c0a8:1]/', 'url.private'],
    ['http://[64:ff9b::192.168.0.1]/', 'url.private'],
    ['http://[2002:c0a8:1::]/', 'url.private'],
    ['http://[fc00::1]/', 'url.private'],
    ['http://[fd00::1]/', 'url.private'],
    ['http://[FD12:3456:789A::1]/', 'url.private'],
    // metadata
    ['http://169.254.169.254/latest/meta-data/', 'url.metadata'],
    ['http://2852039166/', 'url.metadata'],
    ['http://0xa9fea9fe/', 'url.metadata'],
    ['http://0251.0376.0251.0376/', 'url.metadata'],
    ['http://0xa9.0xfe.0xa9.0xfe/', 'url.metadata'],
    ['http://169.254.43518/', 'url.metadata'],
    ['http://169.16689662/', 'url.metadata'],
    ['http://%31%36%39.254.169.254/', 'url.metadata'],
    ['http://[::ffff:169.254.169.254]/', 'url.metadata'],
    ['http://[::ffff:a9fe:a9fe]/', 'url.metadata'],
    ['http://[64:ff9b::a9fe:a9fe]/', 'url.metadata'],
    ['http://[2002:a9fe:a9fe::]/', 'url.metadata'],
    ['http://[fd00:ec2::254]/latest/', 'url.metadata'],
    ['http://100.100.100.200/latest/meta-data/', 'url.metadata'],
    ['http://169.254.170.2/v2/credentials', 'url.metadata'],
    // the rest
    ['http://169.254.1.1/', 'url.link-local'],
    ['http://[fe80::1]/', 'url.link-local'],
    ['http://100.64.0.1/', 'url.cgnat'],
    ['http://224.0.0.1/', 'url.multicast'],
    ['http://[ff02::1]/', 'url.multicast'],
    ['http://255.255.255.255/', 'url.reserved'],
    ['http://4294967295/', 'url.reserved'],
    ['http://240.0.0.1/', 'url.reserved'],
    ['http://198.18.0.1/', 'url.reserved'],
    ['http://192.0.2.1/', 'url.reserved'],
    ['http://[2001:db8::1]/', 'url.reserved'],
    // names of this machine
    ['http://localhost/', 'url.localhost'],
    ['http://LOCALHOST/', 'url.localhost'],
    ['http://localhost./', 'url.localhost'],
    ['http://localhost../', 'url.localhost'],
    ['http://localhost%2e/', 'url.localhost'],
    ['http://%6c%6f%63%61%6c%68%6f%73%74/', 'url.localhost'],
    ['http://ⓛocalhost/', 'url.localhost'],
    ['http://ｌｏｃａｌｈｏｓｔ/', 'url.localhost'],
    ['http://api.localhost/', 'url.localhost'],
    ['http://a.b.LocalHost./', 'url.localhost'],
    ['http://ip6-localhost/', 'url.localhost'],
    ['http://ip6-loopback/', 'url.localhost'],
    ['http://localhost.localdomain/', 'url.localhost'],
    // scheme, userinfo, garbage
    ['file:///etc/passwd', 'url.scheme'],
    ['ftp://example.com/', 'url.scheme'],
    ['gopher://example.com:70/', 'url.scheme'],
    ['javascript:alert(1)', 'url.scheme'],
    ['data:text/plain,hi', 'url.scheme'],
    ['ws://example.com/', 'url.scheme'],
    ['http://user:pass@example.com/', 'url.userinfo'],
    ['http://user@example.com/', 'url.userinfo'],
    ['http://:pass@example.com/', 'url.userinfo'],
    ['http://127.0.0.1:80@evil.example/', 'url.userinfo'],
    ['http://evil.example@127.0.0.1/', 'url.userinfo'],
    ['', 'url.invalid'],
    ['not a url', 'url.invalid'],
    ['//example.com/', 'url.invalid'],
    ['http://', 'url.invalid'],
    ['http://[::1/', 'url.invalid'],
    ['http://1.2.3.4.5/', 'url.invalid'],
    ['http://4294967296/', 'url.invalid'],
    ['http://[fe80::1%25eth0]/', 'url.invalid'],
    ['http://exa mple.com/', 'url.invalid'],
    // fine
    ['https://example.com/', 'url.allowed'],
    ['https://EXAMPLE.com./path?q=1#f', 'url.allowed'],
    ['https://localhost.example.com/', 'url.allowed'],
    ['https://mylocalhost/', 'url.allowed'],
    ['https://printer.local/', 'url.allowed'],
    ['https://bücher.de/', 'url.allowed'],
    ['http://@example.com/', 'url.allowed'],
    ['https://8.8.8.8/', 'url.allowed'],
    ['https://134744072/', 'url.allowed'],
    ['https://[2001:4860:4860::8888]/', 'url.allowed'],
    ['https://[::ffff:8.8.8.8]/', 'url.allowed'],
    ['https://[64:ff9b::8.8.8.8]/', 'url.allowed'],
  ])('%s → %s', (raw, rule) => {
    const { decision } = checkUrlSyntax(raw, NO_EXCEPTIONS);
    expect(decision.rule).toBe(rule);
    expect(decision.allowed).toBe(rule === 'url.allowed');
  });

  it('returns the parsed URL and the canonical literal', () => {
    expect(checkUrlSyntax('http://0x7f.1:8080/a?b', NO_EXCEPTIONS)).toMatchObject({ literal: '127.0.0.1' });
    expect(checkUrlSyntax('http://0x7f.1:8080/a?b', NO_EXCEPTIONS).url?.href).toBe('http://127.0.0.1:8080/a?b');
    expect(checkUrlSyntax('http://[::FFFF:127.0.0.1]/', NO_EXCEPTIONS).literal).toBe('::ffff:7f00:1');
    expect(checkUrlSyntax('https://bücher.de/', NO_EXCEPTIONS).url?.hostname).toBe('xn--bcher-kva.de');
    expect(checkUrlSyntax('https://example.com/', NO_EXCEPTIONS).literal).toBeUndefined();
    expect(checkUrlSyntax('file:///etc/passwd', NO_EXCEPTIONS).url?.protocol).toBe('file:');
  });

  it('gives severities and human reasons naming the address', () => {
    expect(checkUrlSyntax('http://169.254.169.254/', NO_EXCEPTIONS).decision).toEqual({
      allowed: false,
      rule: 'url.metadata',
      severity: 'critical',
      reason: '169.254.169.254 is the cloud metadata address',
    });
    expect(checkUrlSyntax('http://2130706433/', NO_EXCEPTIONS).decision).toMatchObject({
      severity: 'high',
      reason: '127.0.0.1 is a loopback address (127.0.0.0/8)',
    });
    expect(checkUrlSyntax('http://[::ffff:a00:1]/', NO_EXCEPTIONS).decision).toMatchObject({
      severity: 'high',
      reason: '::ffff:a00:1 embeds 10.0.0.1 (ipv4-mapped), which is a private address (10.0.0.0/8)',
    });
    expect(checkUrlSyntax('http://localhost/', NO_EXCEPTIONS).decision.severity).toBe('high');
    expect(checkUrlSyntax('http://[fe80::1]/', NO_EXCEPTIONS).decision.severity).toBe('high');
    expect(checkUrlSyntax('http://100.64.0.1/', NO_EXCEPTIONS).decision.severity).toBe('medium');
    expect(checkUrlSyntax('https://example.com/', NO_EXCEPTIONS).decision.severity).toBe('info');
  });
});

describe('allowCidrs and allowHosts', () => {
  const lab: NetworkRules = { allowCidrs: ['127.0.0.1/32', '10.0.0.0/8', 'fd00::/8', '169.254.0.0/16'], allowHosts: ['Dev.Localhost.'] };

  it('exempts addresses inside the allowed blocks, in any spelling', () => {
    for (const raw of ['http://127.0.0.1/', 'http://2130706433/', 'http://[::ffff:7f00:1]/', 'http://10.200.1.1/', 'http://[fd00::5]/', 'http://169.254.1.1/']) {
      expect(checkUrlSyntax(raw, lab).decision).toMatchObject({ allowed: true, rule: 'url.allowed' });
    }
    expect(checkUrlSyntax('http://127.0.0.2/', lab).decision.rule).toBe('url.loopback');
    expect(checkUrlSyntax('http://192.168.0.1/', lab).decision.rule).toBe('url.private');
  });

  it('never exempts a metadata address', () => {
    const everything: NetworkRules = { allowCidrs: ['0.0.0.0/0', '::/0'], allowHosts: [] };
    for (const raw of ['http://169.254.169.254/', 'http://[::ffff:a9fe:a9fe]/', 'http://[fd00:ec2::254]/', 'http://100.100.100.200/']) {
      expect(checkUrlSyntax(raw, everything).decision.rule).toBe('url.metadata');
    }
    expect(checkUrlSyntax('http://10.0.0.1/', everything).decision.allowed).toBe(true);
  });

  it('exempts an allowed host from the localhost rule, but still checks its addresses', async () => {
    expect(checkUrlSyntax('http://dev.localhost/', lab).decision.allowed).toBe(true);
    expect(checkUrlSyntax('http://DEV.localhost./', lab).decision.allowed).toBe(true);
    expect(checkUrlSyntax('http://other.localhost/', lab).decision.rule).toBe('url.localhost');
    expect((await checkUrl('http://dev.localhost/', lab, fixedResolver(['127.0.0.1']))).decision.allowed).toBe(true);
    const v6 = await checkUrl('http://dev.localhost/', lab, fixedResolver(['127.0.0.1', '::1']));
    expect(v6.decision).toMatchObject({ allowed: false, rule: 'url.loopback' });
    expect(v6.decision.reason).toBe('dev.localhost resolves to ::1: ::1 is the loopback address');
  });

  it('ignores blocks it cannot parse rather than widening anything', () => {
    expect(checkAddress('10.0.0.1', { allowCidrs: ['10.0.0.0', 'nonsense/8', '10.0.0.0/99'], allowHosts: [] }).rule).toBe('url.private');
  });
});

describe('checkAddress', () => {
  it('judges free text in every reading a parser might give it', () => {
    expect(checkAddress('010.0.0.1', NO_EXCEPTIONS).rule).toBe('url.private');
    expect(checkAddress('8.8.8.8', NO_EXCEPTIONS)).toMatchObject({ allowed: true, rule: 'url.allowed', severity: 'info' });
    expect(checkAddress('fe80::1%eth0', NO_EXCEPTIONS).rule).toBe('url.link-local');
    expect(checkAddress('example.com', NO_EXCEPTIONS).rule).toBe('url.invalid');
  });
});

describe('checkUrl', () => {
  it('does not resolve IP literals', async () => {
    const result = await checkUrl('https://0x8.0x8.0x8.0x8/', NO_EXCEPTIONS, neverResolve);
    expect(result).toMatchObject({ decision: { allowed: true }, addresses: ['8.8.8.8'] });
  });

  it('resolves the name as the URL spells it and returns the canonical addresses', async () => {
    const resolve = publicResolver();
    const result = await checkUrl('https://Bücher.DE./x', NO_EXCEPTIONS, resolve);
    expect(resolve.asked).toEqual(['xn--bcher-kva.de.']);
    expect(result.decision).toMatchObject({ allowed: true, rule: 'url.allowed' });
    expect(result.addresses).toEqual(PUBLIC_ADDRESSES);
    const messy = await checkUrl('https://example.com/', NO_EXCEPTIONS, fixedResolver(['2001:4860:4860:0:0:0:0:8888', '8.8.8.8', '8.8.8.8']));
    expect(messy.addresses).toEqual(['2001:4860:4860::8888', '8.8.8.8']);
  });

  it('refuses a name if any one of its addresses is forbidden', async () => {
    const result = await checkUrl('https://rebind.example/', NO_EXCEPTIONS, fixedResolver(['93.184.216.34', '10.0.0.1']));
    expect(result.decision).toMatchObject({ allowed: false, rule: 'url.private', severity: 'high' });
    expect(result.decision.reason).toContain('rebind.example resolves to 10.0.0.1');
    const metadata = await checkUrl('http://metadata.google.internal/', NO_EXCEPTIONS, fixedResolver(['169.254.169.254']));
    expect(metadata.decision.rule).toBe('url.metadata');
    const mapped = await checkUrl('http://sneaky.example/', NO_EXCEPTIONS, fixedResolver(['::ffff:127.0.0.1']));
    expect(mapped.decision.rule).toBe('url.loopback');
  });

  it('refuses names that resolve to nothing or fail to resolve', async () => {
    expect((await checkUrl('https://empty.example/', NO_EXCEPTIONS, fixedResolver([]))).decision.rule).toBe('url.unresolvable');
    const failing: Resolve = async () => {
      throw new Error('getaddrinfo ENOTFOUND nope.invalid');
    };
    const result = await checkUrl('https://nope.invalid/', NO_EXCEPTIONS, failing);
    expect(result).toMatchObject({ decision: { allowed: false, rule: 'url.unresolvable' }, addresses: [] });
    expect(result.decision.reason).toContain('ENOTFOUND');
    expect((await checkUrl('https://junk.example/', NO_EXCEPTIONS, fixedResolver(['not-an-ip']))).decision.rule).toBe('url.invalid');
  });

  it('does not resolve a URL the syntax check refused', async () => {
    expect((await checkUrl('http://localhost/', NO_EXCEPTIONS, neverResolve)).decision.rule).toBe('url.localhost');
    expect((await checkUrl('ftp://example.com/', NO_EXCEPTIONS, neverResolve)).decision.rule).toBe('url.scheme');
  });
});

describe('every spelling of an IPv4 address gets the same verdict', () => {
  const FORBIDDEN_BLOCKS: readonly [base: number, prefix: number, rule: string][] = [
    [ipv4(127, 0, 0, 0), 8, 'url.loopback'],
    [ipv4(0, 0, 0, 0), 8, 'url.unspecified'],
    [ipv4(10, 0, 0, 0), 8, 'url.private'],
    [ipv4(172, 16, 0, 0), 12, 'url.private'],
    [ipv4(192, 168, 0, 0), 16, 'url.private'],
    [ipv4(100, 64, 0, 0), 10, 'url.cgnat'],
    [ipv4(169, 254, 0, 0), 16, 'url.link-local'],
    [ipv4(224, 0, 0, 0), 4, 'url.multicast'],
    [ipv4(240, 0, 0, 0), 4, 'url.reserved'],
    [ipv4(198, 18, 0, 0), 15, 'url.reserved'],
    [ipv4(169, 254, 169, 254), 32, 'url.metadata'],
    [ipv4(100, 100, 100, 200), 32, 'url.metadata'],
  ];
  const METADATA = new Set([ipv4(169, 254, 169, 254), ipv4(169, 254, 170, 2), ipv4(169, 254, 0, 23), ipv4(100, 100, 100, 200)]);
  // Whole /8s nowhere near a special-purpose block.
  const PUBLIC_FIRST_OCTETS = [1, 2, 3, 4, 5, 8, 9, 11, 12, 13, 14, 20, 23, 31, 34, 35, 40, 45, 50, 52, 54, 60, 64, 66, 80, 81, 91, 104, 140, 151, 185, 200, 210, 220];

  const forbiddenAddress = fc
    .record({ block: fc.constantFrom(...FORBIDDEN_BLOCKS), offset: fc.nat({ max: 0xffffffff }) })
    .map(({ block: [base, prefix, rule], offset }) => {
      const hostBits = 32 - prefix;
      const host = hostBits === 0 ? 0 : offset % 2 ** hostBits;
      const address = (base + host) >>> 0;
      return { address, rule: METADATA.has(address) ? 'url.metadata' : rule };
    });
  const publicAddress = fc.tuple(fc.constantFrom(...PUBLIC_FIRST_OCTETS), fc.nat({ max: 0xffffff })).map(([first, rest]) => (first * 2 ** 24 + rest) >>> 0);

  it('denies any spelling of a forbidden address with the rule of its range', () => {
    fc.assert(
      fc.property(forbiddenAddress, spellingOf, ({ address, rule }, spell) => {
        const { spelling, kind } = spell(address);
        const { decision } = checkUrlSyntax(`http://${spelling}:8080/x`, NO_EXCEPTIONS);
        expect(decision.allowed, spelling).toBe(false);
        // ::0.0.0.1 is ::1 itself, so that one spelling is plain loopback.
        if (!(kind === 'ipv4-compatible' && address === 1)) expect(decision.rule, spelling).toBe(rule);
      }),
      { numRuns: 2000 },
    );
  });

  it('allows any spelling of a public address and reports it canonically', () => {
    fc.assert(
      fc.property(publicAddress, spellingOf, (address, spell) => {
        const { spelling, kind } = spell(address);
        const { decision, literal } = checkUrlSyntax(`https://${spelling}/`, NO_EXCEPTIONS);
        expect(decision, spelling).toMatchObject({ allowed: true, rule: 'url.allowed' });
        if (kind === 'ipv4') expect(literal, spelling).toBe(dotted(address));
      }),
      { numRuns: 2000 },
    );
  });

  it('denies one spelling of each block at the edges', async () => {
    for (const [base, prefix, rule] of FORBIDDEN_BLOCKS) {
      const last = (base + 2 ** (32 - prefix) - 1) >>> 0;
      for (const address of [base, last]) {
        const result = await checkUrl(`http://${address}/`, NO_EXCEPTIONS, neverResolve);
        expect(result.decision.rule, dotted(address)).toBe(rule);
      }
    }
  });
});

type Spelling = { spelling: string; kind: 'ipv4' | 'ipv4-mapped' | 'ipv4-compatible' | 'nat64' | '6to4' };

/** A generator of functions that spell an IPv4 address (as a uint32) one of the ways URL accepts. */
const spellingOf: fc.Arbitrary<(address: number) => Spelling> = fc.oneof(
  fc
    .record({
      parts: fc.constantFrom(1, 2, 3, 4),
      radixes: fc.array(fc.constantFrom('dec', 'oct', 'hex'), { minLength: 4, maxLength: 4 }),
      zeros: fc.array(fc.nat(3), { minLength: 4, maxLength: 4 }),
      upper: fc.boolean(),
      trailingDot: fc.boolean(),
      disguise: fc.constantFrom('none', 'percent', 'fullwidth'),
    })
    .map((style) => (address: number): Spelling => {
      const values = splitIntoParts(address, style.parts);
      let text = values.map((value, i) => spellNumber(value, style.radixes[i] ?? 'dec', style.zeros[i] ?? 0, style.upper)).join('.');
      if (style.trailingDot) text += '.';
      if (style.disguise === 'percent') text = [...text].map((char, i) => (i % 2 === 0 ? `%${char.charCodeAt(0).toString(16)}` : char)).join('');
      if (style.disguise === 'fullwidth') text = [...text].map((char) => (char === '.' ? '。' : String.fromCharCode(char.charCodeAt(0) + 0xfee0))).join('');
      return { spelling: text, kind: 'ipv4' };
    }),
  fc
    .record({ form: fc.constantFrom('mapped-dotted', 'mapped-hex', 'mapped-long', 'compat', 'nat64', '6to4'), upper: fc.boolean() })
    .map(({ form, upper }) => (address: number): Spelling => {
      const high = (address >>> 16).toString(16);
      const low = (address & 0xffff).toString(16);
      const spellings: Record<typeof form, Spelling> = {
        'mapped-dotted': { spelling: `::ffff:${dotted(address)}`, kind: 'ipv4-mapped' },
        'mapped-hex': { spelling: `::ffff:${high}:${low}`, kind: 'ipv4-mapped' },
        'mapped-long': { spelling: `0000:0:0:0:0:FFFF:${high.padStart(4, '0')}:${low}`, kind: 'ipv4-mapped' },
        compat: { spelling: `::${dotted(address)}`, kind: 'ipv4-compatible' },
        nat64: { spelling: `64:ff9b::${dotted(address)}`, kind: 'nat64' },
        '6to4': { spelling: `2002:${high}:${low}::1`, kind: '6to4' },
      };
      const { spelling, kind } = spellings[form];
      return { spelling: `[${upper ? spelling.toUpperCase() : spelling}]`, kind };
    }),
);

function ipv4(a: number, b: number, c: number, d: number): number {
  return ((a << 24) | (b << 16) | (c << 8) | d) >>> 0;
}

function dotted(address: number): string {
  return [address >>> 24, (address >>> 16) & 0xff, (address >>> 8) & 0xff, address & 0xff].join('.');
}

/** `a.b.c.d` as 1 to 4 parts, the last one taking all remaining bytes (`127.1`). */
function splitIntoParts(address: number, parts: number): number[] {
  const bytes = [address >>> 24, (address >>> 16) & 0xff, (address >>> 8) & 0xff, address & 0xff];
  const leading = bytes.slice(0, parts - 1);
  const rest = bytes.slice(parts - 1).reduce((sum, byte) => sum * 256 + byte, 0);
  return [...leading, rest];
}

function spellNumber(value: number, radix: 'dec' | 'oct' | 'hex', zeros: number, upper: boolean): string {
  if (radix === 'hex') return `${upper ? '0X' : '0x'}${'0'.repeat(zeros)}${upper ? value.toString(16).toUpperCase() : value.toString(16)}`;
  if (radix === 'oct') return `0${'0'.repeat(zeros)}${value.toString(8)}`;
  return value.toString(10);
}
