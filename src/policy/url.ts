/**
 * The SSRF rules: which URLs an agent may fetch. The URL is parsed once with the
 * WHATWG parser, the same one undici uses, and the parsed URL is what gets fetched, so
 * the policy and the connection can never read a host differently. Names are judged
 * by every address they resolve to; the caller must then connect only to those.
 */
import { allow, deny, type Decision, type Severity } from './decision.js';
import { cidrContains, classifyIp, ipReadings, parseCidr, type Cidr, type ForbiddenRange, type IpAddress } from './ip.js';

export interface NetworkRules {
  /** Blocks reachable despite the address rules; never exempts a metadata address. */
  allowCidrs: readonly string[];
  /** Exact host names reachable despite the localhost rule; their addresses are still checked. */
  allowHosts: readonly string[];
}

/** All A and AAAA answers for a name. */
export type Resolve = (hostname: string) => Promise<string[]>;

const RANGE_RULES: Record<ForbiddenRange, { rule: string; severity: Severity }> = {
  metadata: { rule: 'url.metadata', severity: 'critical' },
  loopback: { rule: 'url.loopback', severity: 'high' },
  private: { rule: 'url.private', severity: 'high' },
  'link-local': { rule: 'url.link-local', severity: 'high' },
  unspecified: { rule: 'url.unspecified', severity: 'medium' },
  cgnat: { rule: 'url.cgnat', severity: 'medium' },
  multicast: { rule: 'url.multicast', severity: 'medium' },
  broadcast: { rule: 'url.reserved', severity: 'medium' },
  reserved: { rule: 'url.reserved', severity: 'medium' },
  benchmarking: { rule: 'url.reserved', severity: 'medium' },
  documentation: { rule: 'url.reserved', severity: 'medium' },
};

/**
 * Names that mean this machine without asking DNS (RFC 6761 and the usual /etc/hosts
 * entries). `*.local` is not here: mDNS answers are judged by address like any other.
 */
const LOCAL_NAMES = new Set(['localhost', 'ip6-localhost', 'ip6-loopback', 'localhost.localdomain', 'localhost6', 'localhost6.localdomain6']);

/** Syntax only, no DNS. `literal` is set when the host is an IP address. */
export function checkUrlSyntax(raw: string, rules: NetworkRules): { decision: Decision; url?: URL; literal?: string } {
  if (!URL.canParse(raw)) {
    return { decision: deny('url.invalid', 'medium', `${quote(raw)} is not a valid absolute URL`) };
  }
  const url = new URL(raw);
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    return { decision: deny('url.scheme', 'medium', `${url.protocol} URLs are not allowed; only http and https are`), url };
  }
  if (url.username !== '' || url.password !== '') {
    // Credentials in the URL leak to logs and are the classic way to disguise the host.
    return { decision: deny('url.userinfo', 'medium', `${quote(raw)} carries a user name or password before the host`), url };
  }
  const host = url.hostname;
  if (host === '') return { decision: deny('url.invalid', 'medium', `${quote(raw)} has no host`), url };

  const literal = host.startsWith('[') ? host.slice(1, -1) : ipReadings(host).length > 0 ? host : undefined;
  if (literal !== undefined) return { decision: checkAddress(literal, rules), url, literal };

  const name = normaliseHostName(host);
  if (isLocalName(name) && !rules.allowHosts.some((allowed) => normaliseHostName(allowed) === name)) {
    return { decision: deny('url.localhost', 'high', `${host} names this machine`), url };
  }
  return { decision: allow('url.allowed', `${host} passes the URL rules; its addresses are checked once resolved`), url };
}

/** Judges one IP address, in any spelling, against the address rules. */
export function checkAddress(address: string, rules: NetworkRules): Decision {
  const readings = ipReadings(address);
  const first = readings[0];
  if (!first) return deny('url.invalid', 'medium', `${quote(address)} is not an IP address`);
  const allowedBlocks = parseAllowedBlocks(rules);
  const verdict = judge(first, allowedBlocks);
  if (!verdict.allowed) return verdict;
  for (const other of readings.slice(1)) {
    const decision = judge(other, allowedBlocks);
    if (!decision.allowed) return decision;
  }
  return verdict;
}

/** Syntax, then every address the name resolves to; refuses if any one is forbidden. */
export async function checkUrl(
  raw: string,
  rules: NetworkRules,
  resolve: Resolve,
): Promise<{ decision: Decision; url?: URL; addresses: string[] }> {
  const syntax = checkUrlSyntax(raw, rules);
  const { url } = syntax;
  if (!syntax.decision.allowed || !url) return { decision: syntax.decision, url, addresses: [] };
  if (syntax.literal !== undefined) return { decision: syntax.decision, url, addresses: canonical([syntax.literal]) };

  const host = url.hostname;
  let resolved: string[];
  try {
    resolved = await resolve(host);
  } catch (error) {
    const why = error instanceof Error ? error.message : String(error);
    return { decision: deny('url.unresolvable', 'medium', `${host} could not be resolved: ${why}`), url, addresses: [] };
  }
  if (resolved.length === 0) {
    return { decision: deny('url.unresolvable', 'medium', `${host} resolves to no address`), url, addresses: [] };
  }
  for (const address of resolved) {
    const decision = checkAddress(address, rules);
    if (!decision.allowed) {
      return { decision: { ...decision, reason: `${host} resolves to ${address}: ${decision.reason}` }, url, addresses: canonical(resolved) };
    }
  }
  const addresses = canonical(resolved);
  return { decision: allow('url.allowed', `${host} resolves only to allowed addresses (${addresses.join(', ')})`), url, addresses };
}

function judge(address: IpAddress, allowedBlocks: readonly Cidr[]): Decision {
  const found = classifyIp(address);
  if (!found) return allow('url.allowed', `${address.text} is a public address`);
  const what = found.embedded
    ? `${address.text} embeds ${found.embedded.ipv4.text} (${found.embedded.via}), which is ${found.description}`
    : `${address.text} is ${found.description}`;
  // Metadata endpoints hand out the machine's credentials; no lab network needs them,
  // so a wide allowed block (169.254.0.0/16, 0.0.0.0/0) must not open them by accident.
  if (found.range !== 'metadata') {
    const block = allowedBlocks.find(
      (candidate) => cidrContains(candidate, address) || (found.embedded !== undefined && cidrContains(candidate, found.embedded.ipv4)),
    );
    if (block) return allow('url.allowed', `${what}, but the profile allows ${block.text}`);
  }
  const { rule, severity } = RANGE_RULES[found.range];
  return deny(rule, severity, what);
}

/** Unparseable blocks exempt nothing: the profile schema and the fetch capability reject them earlier. */
function parseAllowedBlocks(rules: NetworkRules): Cidr[] {
  return rules.allowCidrs.map(parseCidr).filter((block): block is Cidr => block !== null);
}

function canonical(addresses: readonly string[]): string[] {
  const texts = addresses.map((address) => ipReadings(address)[0]?.text ?? address);
  return [...new Set(texts)];
}

function isLocalName(name: string): boolean {
  return LOCAL_NAMES.has(name) || name.endsWith('.localhost');
}

/** `LOCALHOST.` and `localhost` are the same name to DNS. */
function normaliseHostName(host: string): string {
  return host.toLowerCase().replace(/\.+$/, '');
}

function quote(text: string): string {
  return JSON.stringify(text.length > 200 ? `${text.slice(0, 200)}…` : text);
}
