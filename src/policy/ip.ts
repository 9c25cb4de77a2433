/**
 * IP addresses for the network policy: parsing every spelling an address can take,
 * CIDR blocks, and the classification of the ranges an agent may not reach.
 *
 * Everything works on the address bytes, so two spellings of one address can never
 * be judged differently. Pure: no DNS, no sockets.
 */

export type IpFamily = 4 | 6;

export interface IpAddress {
  readonly family: IpFamily;
  /** 4 or 16 bytes, network order. */
  readonly bytes: Uint8Array;
  /** Canonical text: dotted decimal, or RFC 5952 IPv6 (the form WHATWG URL serialises). */
  readonly text: string;
}

export interface Cidr {
  readonly family: IpFamily;
  /** The network address, host bits cleared. */
  readonly bytes: Uint8Array;
  readonly prefix: number;
  /** Canonical text, e.g. `10.0.0.0/8`. */
  readonly text: string;
}

/** The forbidden ranges; `null` from {@link classifyIp} means a public address. */
export type ForbiddenRange =
  | 'metadata'
  | 'loopback'
  | 'unspecified'
  | 'private'
  | 'link-local'
  | 'cgnat'
  | 'multicast'
  | 'broadcast'
  | 'reserved'
  | 'benchmarking'
  | 'documentation';

/** How an IPv6 address carries an IPv4 address that decides where packets end up. */
export type Ipv4Embedding = 'ipv4-mapped' | 'ipv4-compatible' | 'ipv4-translated' | 'nat64' | '6to4';

export interface IpClassification {
  range: ForbiddenRange;
  /** The block that matched, e.g. `127.0.0.0/8`; `::/0` for IPv6 outside global unicast. */
  block: string;
  /** Completes "<address> is …", e.g. `a loopback address (127.0.0.0/8)`. */
  description: string;
  /** Set when an IPv6 address was judged by the IPv4 address inside it. */
  embedded?: { ipv4: IpAddress; via: Ipv4Embedding };
}

export function parseIp(text: string): IpAddress | null {
  const v4 = parseIpv4Bytes(text);
  if (v4) return fromBytes(v4);
  const v6 = parseIpv6Bytes(text);
  return v6 ? fromBytes(v6) : null;
}

/**
 * Every address a piece of text may stand for. `010.0.0.1` is 8.0.0.1 to inet_aton and
 * WHATWG URL but 10.0.0.1 to parsers that ignore leading zeros; a check of free text
 * must judge both, because it cannot know which parser will read it next.
 */
export function ipReadings(text: string): IpAddress[] {
  const first = parseIp(text);
  if (!first) return [];
  const decimal = /^\d+(\.\d+){3}\.?$/.test(text) ? text.replace(/\.$/, '').split('.').map((part) => Number(part)) : null;
  if (decimal && decimal.every((part) => part <= 255)) {
    const other = fromBytes(Uint8Array.from(decimal));
    if (other.text !== first.text) return [first, other];
  }
  return [first];
}

export function formatIp(bytes: Uint8Array): string {
  if (bytes.length === 4) return Array.from(bytes).join('.');
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i] ?? 0) << 8) | (bytes[i + 1] ?? 0));
  // RFC 5952: compress the first longest run of two or more zero groups.
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i += 1;
      continue;
    }
    let end = i;
    while (end < 8 && groups[end] === 0) end += 1;
    if (end - i > bestLength) {
      bestStart = i;
      bestLength = end - i;
    }
    i = end;
  }
  const hex = groups.map((group) => group.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLength).join(':')}`;
}

export function parseCidr(text: string): Cidr | null {
  const slash = text.indexOf('/');
  if (slash < 0) return null;
  const address = parseIp(text.slice(0, slash));
  const prefixText = text.slice(slash + 1);
  if (!address || !/^\d{1,3}$/.test(prefixText)) return null;
  const prefix = Number(prefixText);
  if (prefix > address.bytes.length * 8) return null;
  const bytes = maskBytes(address.bytes, prefix);
  return { family: address.family, bytes, prefix, text: `${formatIp(bytes)}/${prefix}` };
}

export function cidrContains(cidr: Cidr, address: IpAddress): boolean {
  if (cidr.family !== address.family) return false;
  const masked = maskBytes(address.bytes, cidr.prefix);
  return masked.every((byte, i) => byte === cidr.bytes[i]);
}

/** The IPv4 address an IPv6 address stands for or tunnels to, if it has one. */
export function embeddedIpv4(address: IpAddress): { ipv4: IpAddress; via: Ipv4Embedding } | null {
  if (address.family !== 6) return null;
  for (const { cidr, via, offset } of EMBEDDINGS) {
    if (cidrContains(cidr, address)) {
      return { ipv4: fromBytes(address.bytes.slice(offset, offset + 4)), via };
    }
  }
  return null;
}

/** Which forbidden range the address is in, or `null` for a public address. */
export function classifyIp(address: IpAddress): IpClassification | null {
  const table = address.family === 4 ? IPV4_RANGES : IPV6_RANGES_BEFORE_EMBEDDING;
  const direct = matchRange(table, address);
  if (direct) return direct;
  if (address.family === 4) return null;

  const embedded = embeddedIpv4(address);
  if (embedded) {
    const inner = classifyIp(embedded.ipv4);
    return inner ? { ...inner, embedded } : null;
  }
  return matchRange(IPV6_RANGES_AFTER_EMBEDDING, address) ?? (cidrContains(GLOBAL_UNICAST, address) ? null : NOT_GLOBAL_UNICAST);
}

interface RangeEntry {
  cidr: Cidr;
  range: ForbiddenRange;
  description: string;
}

function matchRange(table: readonly RangeEntry[], address: IpAddress): IpClassification | null {
  const entry = table.find(({ cidr }) => cidrContains(cidr, address));
  return entry ? { range: entry.range, block: entry.cidr.text, description: entry.description } : null;
}

function fromBytes(bytes: Uint8Array): IpAddress {
  return { family: bytes.length === 4 ? 4 : 6, bytes, text: formatIp(bytes) };
}

function maskBytes(bytes: Uint8Array, prefix: number): Uint8Array {
  return bytes.map((byte, i) => {
    const bits = Math.min(8, Math.max(0, prefix - i * 8));
    return byte & ((0xff << (8 - bits)) & 0xff);
  });
}

/**
 * The WHATWG URL IPv4 parser, which is also what inet_aton accepts: one to four parts,
 * each decimal, octal (leading 0) or hex (0x), the last one filling the remaining bytes
 * (`127.1`, `2130706433`), and an optional trailing dot.
 */
function parseIpv4Bytes(text: string): Uint8Array | null {
  const parts = text.split('.');
  if (parts.length > 1 && parts[parts.length - 1] === '') parts.pop();
  if (parts.length > 4) return null;
  const numbers: number[] = [];
  for (const part of parts) {
    const value = parseIpv4Number(part);
    if (value === null) return null;
    numbers.push(value);
  }
  const last = numbers.pop() ?? 0;
  if (numbers.some((value) => value > 255) || last >= 256 ** (5 - parts.length)) return null;
  let value = last;
  numbers.forEach((part, i) => {
    value += part * 256 ** (3 - i);
  });
  return Uint8Array.of(value >>> 24, (value >>> 16) & 0xff, (value >>> 8) & 0xff, value & 0xff);
}

function parseIpv4Number(part: string): number | null {
  if (part === '') return null;
  let radix = 10;
  let digits = part;
  if (/^0[xX]/.test(part)) {
    radix = 16;
    digits = part.slice(2);
  } else if (part.length > 1 && part.startsWith('0')) {
    radix = 8;
    digits = part.slice(1);
  }
  if (digits === '') return 0;
  const valid = radix === 16 ? /^[0-9a-fA-F]+$/ : radix === 8 ? /^[0-7]+$/ : /^[0-9]+$/;
  // Huge values lose precision here but still compare as too large, which is all we need.
  return valid.test(digits) ? parseInt(digits, radix) : null;
}

const DOTTED_QUAD = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

/** RFC 4291 text, optionally in brackets and with a zone (`fe80::1%eth0`, dropped). */
function parseIpv6Bytes(text: string): Uint8Array | null {
  let body = text.startsWith('[') && text.endsWith(']') ? text.slice(1, -1) : text;
  const zone = body.indexOf('%');
  if (zone >= 0) {
    if (zone === body.length - 1) return null;
    body = body.slice(0, zone);
  }
  if (!body.includes(':')) return null;

  const halves = body.split('::');
  if (halves.length > 2) return null;
  const head = parseGroups(halves[0] ?? '', halves.length === 1);
  const tail = halves.length === 2 ? parseGroups(halves[1] ?? '', true) : [];
  if (!head || !tail) return null;
  const count = head.length + tail.length;
  if (halves.length === 1 ? count !== 8 : count > 7) return null;

  const groups = [...head, ...new Array<number>(8 - count).fill(0), ...tail];
  const bytes = new Uint8Array(16);
  groups.forEach((group, i) => {
    bytes[i * 2] = group >> 8;
    bytes[i * 2 + 1] = group & 0xff;
  });
  return bytes;
}

/** Colon-separated hex groups; a dotted IPv4 is allowed as the last one when it ends the address. */
function parseGroups(text: string, mayEndInIpv4: boolean): number[] | null {
  if (text === '') return [];
  const words = text.split(':');
  const groups: number[] = [];
  for (const [i, word] of words.entries()) {
    if (mayEndInIpv4 && i === words.length - 1 && word.includes('.')) {
      if (!DOTTED_QUAD.test(word)) return null;
      const [a = 0, b = 0, c = 0, d = 0] = word.split('.').map(Number);
      groups.push((a << 8) | b, (c << 8) | d);
    } else if (/^[0-9a-fA-F]{1,4}$/.test(word)) {
      groups.push(parseInt(word, 16));
    } else {
      return null;
    }
  }
  return groups;
}

function cidr(text: string): Cidr {
  const parsed = parseCidr(text);
  if (!parsed) throw new Error(`bad built-in CIDR ${text}`);
  return parsed;
}

function entries(range: ForbiddenRange, description: string, blocks: readonly string[]): RangeEntry[] {
  return blocks.map((block) => {
    const parsed = cidr(block);
    const single = parsed.prefix === parsed.bytes.length * 8;
    return { cidr: parsed, range, description: single ? description : `${description} (${parsed.text})` };
  });
}

/**
 * First match wins, so the single metadata addresses come before the ranges that
 * contain them (the url layer never exempts metadata, however wide an allowed block).
 * Documentation ranges are denied: nothing legitimate is served from them, and some
 * networks use them internally.
 */
const IPV4_RANGES: readonly RangeEntry[] = [
  ...entries('metadata', 'the cloud metadata address', ['169.254.169.254/32']),
  ...entries('metadata', 'the AWS ECS task credentials address', ['169.254.170.2/32']),
  ...entries('metadata', 'the Alibaba Cloud metadata address', ['100.100.100.200/32']),
  ...entries('metadata', 'the Tencent Cloud metadata address', ['169.254.0.23/32']),
  ...entries('metadata', 'the Azure WireServer address', ['168.63.129.16/32']),
  ...entries('broadcast', 'the limited broadcast address', ['255.255.255.255/32']),
  ...entries('unspecified', 'an unspecified ("this network") address', ['0.0.0.0/8']),
  ...entries('loopback', 'a loopback address', ['127.0.0.0/8']),
  ...entries('private', 'a private address', ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16']),
  ...entries('link-local', 'a link-local address', ['169.254.0.0/16']),
  ...entries('cgnat', 'a carrier-grade NAT address', ['100.64.0.0/10']),
  ...entries('multicast', 'a multicast address', ['224.0.0.0/4']),
  ...entries('reserved', 'a reserved address', ['240.0.0.0/4', '192.0.0.0/24']),
  ...entries('benchmarking', 'a benchmarking address', ['198.18.0.0/15']),
  ...entries('documentation', 'a documentation address', ['192.0.2.0/24', '198.51.100.0/24', '203.0.113.0/24']),
];

const IPV6_RANGES_BEFORE_EMBEDDING: readonly RangeEntry[] = [
  ...entries('unspecified', 'the unspecified address, which reaches the local host', ['::/128']),
  ...entries('loopback', 'the loopback address', ['::1/128']),
  ...entries('metadata', 'the AWS metadata address', ['fd00:ec2::254/128']),
];

const EMBEDDINGS: readonly { cidr: Cidr; via: Ipv4Embedding; offset: number }[] = [
  { cidr: cidr('::ffff:0:0/96'), via: 'ipv4-mapped', offset: 12 },
  { cidr: cidr('::ffff:0:0:0/96'), via: 'ipv4-translated', offset: 12 },
  { cidr: cidr('::/96'), via: 'ipv4-compatible', offset: 12 },
  { cidr: cidr('64:ff9b::/96'), via: 'nat64', offset: 12 },
  { cidr: cidr('2002::/16'), via: '6to4', offset: 2 },
];

const IPV6_RANGES_AFTER_EMBEDDING: readonly RangeEntry[] = [
  // Local-use NAT64 places the IPv4 address at a prefix length we cannot know.
  ...entries('private', 'a local-use NAT64 address', ['64:ff9b:1::/48']),
  ...entries('private', 'a unique local address', ['fc00::/7']),
  ...entries('private', 'a site-local address', ['fec0::/10']),
  ...entries('link-local', 'a link-local address', ['fe80::/10']),
  ...entries('multicast', 'a multicast address', ['ff00::/8']),
  ...entries('documentation', 'a documentation address', ['2001:db8::/32', '3fff::/20']),
  ...entries('benchmarking', 'a benchmarking address', ['2001:2::/48']),
  // Teredo hides the client's IPv4 address (XOR-ed) in the address; refuse it whole.
  ...entries('reserved', 'a Teredo tunnel address', ['2001::/32']),
];

const GLOBAL_UNICAST = cidr('2000::/3');
const NOT_GLOBAL_UNICAST: IpClassification = {
  range: 'reserved',
  block: '::/0',
  description: 'outside the global unicast block (2000::/3)',
};
