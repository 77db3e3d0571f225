// Where http_request may go: IP parsing and classification, and the --http-allow / --http-deny
// rules. Pure (no I/O), so it is tested exhaustively on its own; the activity applies it to the
// literal host of every hop and to every address DNS returns for it.

/** 4 bytes (IPv4) or 16 bytes (IPv6). */
export type IpBytes = readonly number[];

export type AddressKind =
  | 'public'
  | 'loopback'
  | 'unspecified'
  | 'private'
  | 'shared'
  | 'link-local'
  | 'multicast'
  | 'reserved'
  | 'metadata';

export interface AddressClass {
  kind: AddressKind;
  /** Refused whatever --http-allow says: cloud metadata, and link-local as a whole. */
  always: boolean;
  /** Set when an IPv6 address was judged by the IPv4 address embedded in it. */
  embedded?: { form: EmbeddedForm; ipv4: string };
}

export type EmbeddedForm = 'IPv4-mapped' | 'IPv4-compatible' | 'IPv4-translated' | 'NAT64' | '6to4';

const DEC_OCTET = /^(0|[1-9]\d{0,2})$/;

/** A dotted quad in its plain form only (no octal, hex or short forms: URLs normalise those). */
export function parseIPv4(text: string): IpBytes | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  const bytes: number[] = [];
  for (const p of parts) {
    if (!DEC_OCTET.test(p)) return undefined;
    const n = Number(p);
    if (n > 255) return undefined;
    bytes.push(n);
  }
  return bytes;
}

/** IPv6 text, with or without brackets and a zone id (`fe80::1%eth0`), maybe ending in a dotted quad. */
export function parseIPv6(text: string): IpBytes | undefined {
  let t = text.toLowerCase();
  if (t.startsWith('[') && t.endsWith(']')) t = t.slice(1, -1);
  const zone = t.indexOf('%');
  if (zone !== -1) t = t.slice(0, zone);
  // A trailing dotted quad (`::ffff:1.2.3.4`) is the last two groups.
  const quad = /^(.*:)(\d+\.\d+\.\d+\.\d+)$/.exec(t);
  if (quad) {
    const b = parseIPv4(quad[2] ?? '');
    if (!b) return undefined;
    t = `${quad[1] ?? ''}${(((b[0] ?? 0) << 8) | (b[1] ?? 0)).toString(16)}:${(((b[2] ?? 0) << 8) | (b[3] ?? 0)).toString(16)}`;
  }
  const halves = t.split('::');
  if (halves.length > 2) return undefined;
  const groups = (s: string): number[] | undefined => {
    if (s === '') return [];
    const out: number[] = [];
    for (const g of s.split(':')) {
      if (!/^[0-9a-f]{1,4}$/.test(g)) return undefined;
      out.push(parseInt(g, 16));
    }
    return out;
  };
  const head = groups(halves[0] ?? '');
  const rest = halves.length === 2 ? groups(halves[1] ?? '') : [];
  if (!head || !rest) return undefined;
  let all: number[];
  if (halves.length === 2) {
    const missing = 8 - head.length - rest.length;
    if (missing < 1) return undefined;
    all = [...head, ...new Array<number>(missing).fill(0), ...rest];
  } else {
    if (head.length !== 8) return undefined;
    all = head;
  }
  const bytes: number[] = [];
  for (const g of all) bytes.push(g >> 8, g & 0xff);
  return bytes;
}

/** An IP literal as URLs, DNS and the config write it; undefined for a host name. */
export function parseIP(text: string): IpBytes | undefined {
  return parseIPv4(text) ?? (text.includes(':') ? parseIPv6(text) : undefined);
}

export function formatIP(bytes: IpBytes): string {
  if (bytes.length === 4) return bytes.join('.');
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i] ?? 0) << 8) | (bytes[i + 1] ?? 0));
  // The longest run of two or more zero groups becomes `::` (RFC 5952).
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) [best, bestLen] = [i, j - i];
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best === -1) return hex.join(':');
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`;
}

interface Range {
  net: IpBytes;
  prefix: number;
  kind: AddressKind;
  note?: string;
}

const v4 = (text: string, prefix: number, kind: AddressKind, note?: string): Range => ({
  net: parseIPv4(text)!,
  prefix,
  kind,
  ...(note ? { note } : {}),
});
const v6 = (text: string, prefix: number, kind: AddressKind, note?: string): Range => ({
  net: parseIPv6(text)!,
  prefix,
  kind,
  ...(note ? { note } : {}),
});

// First match wins, so the single metadata addresses come before the ranges that hold them.
const IPV4_RANGES: readonly Range[] = [
  v4('100.100.100.200', 32, 'metadata', 'Alibaba Cloud'),
  v4('192.0.0.192', 32, 'metadata', 'Oracle Cloud'),
  v4('169.254.0.0', 16, 'link-local', 'cloud metadata'),
  v4('0.0.0.0', 8, 'unspecified'),
  v4('10.0.0.0', 8, 'private'),
  v4('100.64.0.0', 10, 'shared'),
  v4('127.0.0.0', 8, 'loopback'),
  v4('172.16.0.0', 12, 'private'),
  v4('192.0.0.0', 24, 'reserved'),
  v4('192.0.2.0', 24, 'reserved'),
  v4('192.88.99.0', 24, 'reserved'),
  v4('192.168.0.0', 16, 'private'),
  v4('198.18.0.0', 15, 'reserved'),
  v4('198.51.100.0', 24, 'reserved'),
  v4('203.0.113.0', 24, 'reserved'),
  v4('224.0.0.0', 4, 'multicast'),
  v4('240.0.0.0', 4, 'reserved'), // includes 255.255.255.255
];

const IPV6_RANGES: readonly Range[] = [
  v6('::', 128, 'unspecified'),
  v6('::1', 128, 'loopback'),
  v6('fd00:ec2::254', 128, 'metadata', 'AWS'),
  v6('fe80::', 10, 'link-local', 'cloud metadata'),
  v6('fc00::', 7, 'private'),
  v6('ff00::', 8, 'multicast'),
  v6('64:ff9b:1::', 48, 'reserved'),
  v6('100::', 64, 'reserved'),
  v6('2001:db8::', 32, 'reserved'),
  v6('2001::', 23, 'reserved'), // includes Teredo 2001::/32
];

export function inPrefix(addr: IpBytes, net: IpBytes, prefix: number): boolean {
  if (addr.length !== net.length) return false;
  for (let bit = 0; bit < prefix; bit += 8) {
    const take = Math.min(8, prefix - bit);
    const mask = (0xff << (8 - take)) & 0xff;
    if (((addr[bit / 8] ?? 0) & mask) !== ((net[bit / 8] ?? 0) & mask)) return false;
  }
  return true;
}

/** The IPv4 address an IPv6 address stands for, in the forms that reach it. */
export function embeddedIPv4(bytes: IpBytes): { form: EmbeddedForm; ipv4: IpBytes } | undefined {
  if (bytes.length !== 16) return undefined;
  const zero = (from: number, to: number) => bytes.slice(from, to).every((b) => b === 0);
  const last4 = bytes.slice(12, 16);
  if (zero(0, 10) && bytes[10] === 0xff && bytes[11] === 0xff) return { form: 'IPv4-mapped', ipv4: last4 };
  if (zero(0, 8) && bytes[8] === 0xff && bytes[9] === 0xff && zero(10, 12)) return { form: 'IPv4-translated', ipv4: last4 };
  if (inPrefix(bytes, NAT64, 96)) return { form: 'NAT64', ipv4: last4 };
  if (bytes[0] === 0x20 && bytes[1] === 0x02) return { form: '6to4', ipv4: bytes.slice(2, 6) };
  // ::a.b.c.d, but :: and ::1 are themselves.
  if (zero(0, 12) && !(zero(12, 15) && (bytes[15] ?? 0) <= 1)) return { form: 'IPv4-compatible', ipv4: last4 };
  return undefined;
}
const NAT64 = parseIPv6('64:ff9b::')!;
const GLOBAL_UNICAST = parseIPv6('2000::')!;

function classifyBytes(bytes: IpBytes): Omit<AddressClass, 'embedded'> & { note?: string } {
  const ranges = bytes.length === 4 ? IPV4_RANGES : IPV6_RANGES;
  const hit = ranges.find((r) => inPrefix(bytes, r.net, r.prefix));
  if (hit) {
    const always = hit.kind === 'metadata' || hit.kind === 'link-local';
    return { kind: hit.kind, always, ...(hit.note ? { note: hit.note } : {}) };
  }
  if (bytes.length === 16 && !inPrefix(bytes, GLOBAL_UNICAST, 3)) return { kind: 'reserved', always: false };
  return { kind: 'public', always: false };
}

/** What an address is; IPv6 forms that carry an IPv4 address are judged by that address. */
export function classifyAddress(bytes: IpBytes): AddressClass & { note?: string } {
  const own = classifyBytes(bytes);
  if (own.kind !== 'public' && own.kind !== 'reserved') return own;
  const inner = embeddedIPv4(bytes);
  if (!inner) return own;
  return { ...classifyBytes(inner.ipv4), embedded: { form: inner.form, ipv4: formatIP(inner.ipv4) } };
}

// --- --http-allow / --http-deny ---

export interface Cidr {
  net: IpBytes;
  prefix: number;
  text: string;
}

export interface HttpRules {
  /** The entries as given, for messages. */
  entries: readonly string[];
  /** Host patterns: `api.example.com`, `*.corp` (lower case, no trailing dot). */
  hosts: readonly string[];
  /** IPs (as /32 or /128) and CIDRs. */
  nets: readonly Cidr[];
}

export interface HttpPolicy {
  allow: HttpRules;
  deny: HttpRules;
}

export const NO_RULES: HttpRules = { entries: [], hosts: [], nets: [] };

const LABEL = '[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?';
const HOST_PATTERN = new RegExp(`^(?:\\*\\.)?${LABEL}(?:\\.${LABEL})*$`);

/** One entry of --http-allow / --http-deny; an error text when it is not valid. */
export function parseRule(entry: string): { host: string } | { net: Cidr } | { error: string } {
  const text = entry.trim();
  if (text.includes('://')) return { error: `"${text}" is not a valid host pattern, IP or CIDR (no ports or schemes)` };
  if (text.includes('/')) {
    const [addr = '', len = '', ...extra] = text.split('/');
    const net = parseIP(addr.replace(/^\[(.*)\]$/, '$1'));
    if (!net || extra.length) return { error: `"${text}" is not a valid CIDR (e.g. 10.0.0.0/8 or fd00::/8)` };
    const max = net.length * 8;
    if (!/^\d{1,3}$/.test(len) || Number(len) > max) {
      return { error: `"${text}" is not a valid CIDR: the prefix length must be 0–${max}` };
    }
    const prefix = Number(len);
    const masked = net.map((b, i) => {
      const bits = Math.max(0, Math.min(8, prefix - i * 8));
      return b & ((0xff << (8 - bits)) & 0xff);
    });
    if (masked.some((b, i) => b !== net[i])) {
      return { error: `"${text}" has bits set beyond its /${prefix} prefix; did you mean ${formatIP(masked)}/${prefix}?` };
    }
    return { net: { net, prefix, text } };
  }
  const bare = text.replace(/^\[(.*)\]$/, '$1');
  const ip = parseIP(bare);
  if (ip) return { net: { net: ip, prefix: ip.length * 8, text } };
  if (bare.includes(':')) return { error: `"${text}" is not a valid IP address or host pattern (no ports or schemes)` };
  const host = normalizeHost(text);
  // A last label of digits is an IPv4 address to a URL parser, never a name.
  if (/(^|\.)(\d+|0x[0-9a-f]*)$/.test(host)) return { error: `"${text}" is not a valid IPv4 address (write all four parts in decimal)` };
  if (!HOST_PATTERN.test(host)) return { error: `"${text}" is not a valid host pattern (e.g. api.example.com or *.corp), IP or CIDR` };
  return { host };
}

/** Parses a comma-separated list's entries; throws an Error naming the first bad one. */
export function parseHttpRules(entries: readonly string[]): HttpRules {
  const hosts: string[] = [];
  const nets: Cidr[] = [];
  for (const entry of entries) {
    const rule = parseRule(entry);
    if ('error' in rule) throw new Error(rule.error);
    if ('host' in rule) hosts.push(rule.host);
    else nets.push(rule.net);
  }
  return { entries: [...entries], hosts, nets };
}

/** A URL host as the rules see it: lower case, no brackets, no trailing dot. */
export function normalizeHost(host: string): string {
  return host.toLowerCase().replace(/^\[(.*)\]$/, '$1').replace(/\.$/, '');
}

/** What localhost names mean here, whatever /etc/hosts says. */
export const LOCALHOST = '127.0.0.1';

/** RFC 6761: `localhost` and its subdomains are loopback and never asked of DNS. */
export function isLocalhostName(host: string): boolean {
  const h = normalizeHost(host);
  return h === 'localhost' || h.endsWith('.localhost');
}

function hostMatches(pattern: string, host: string): boolean {
  if (pattern.startsWith('*.')) return host.endsWith(pattern.slice(1)) || host === pattern.slice(2);
  return host === pattern;
}

function matchingHost(rules: HttpRules, host: string): string | undefined {
  return rules.hosts.find((p) => hostMatches(p, host));
}

/** An IP/CIDR entry that matches the address; `inner` also tries the IPv4 it carries. */
function matchingNet(rules: HttpRules, bytes: IpBytes, inner: 'mapped' | 'any'): string | undefined {
  const candidates = [bytes];
  const embedded = embeddedIPv4(bytes);
  if (embedded && (inner === 'any' || embedded.form === 'IPv4-mapped')) candidates.push(embedded.ipv4);
  return rules.nets.find((n) => candidates.some((c) => inPrefix(c, n.net, n.prefix)))?.text;
}

export const ALLOW_SETTING = '--http-allow / DURABLE_AGENT_HTTP_ALLOW';
export const DENY_SETTING = '--http-deny / DURABLE_AGENT_HTTP_DENY';

const KIND_TEXT: Record<AddressKind, string> = {
  public: 'a public address',
  loopback: 'a loopback address',
  unspecified: 'an unspecified address',
  private: 'a private address',
  shared: 'a shared (CGNAT) address',
  'link-local': 'a link-local address',
  multicast: 'a multicast address',
  reserved: 'a reserved (special-purpose) address',
  metadata: 'a cloud metadata address',
};

/**
 * Why a request to `host` (a URL host) must not be sent, or undefined when it may. With `address`
 * (the literal host, or one address DNS returned for it) the whole policy is applied; without, only
 * what the name alone decides, so a refused name is not even looked up.
 *
 * Order: metadata (always refused), then deny (wins over allow), then non-public addresses (need an
 * allow entry), then an allow list with host patterns (everything else must match it).
 */
export function checkDestination(policy: HttpPolicy, host: string, address?: string): string | undefined {
  const name = normalizeHost(host);
  if (address === undefined && isLocalhostName(name)) address = LOCALHOST;
  const literal = parseIP(name);
  const bytes = literal ?? (address === undefined ? undefined : parseIP(address));
  const what = literal ? formatIP(literal) : address === undefined ? name : `${name} (${address})`;

  const deniedName = literal ? undefined : matchingHost(policy.deny, name);
  if (deniedName) return `${what} is denied by ${DENY_SETTING} (${deniedName})`;
  const allowedName = literal ? undefined : matchingHost(policy.allow, name);

  if (!bytes) {
    if (address !== undefined) return `${what} is not an IP address`;
    // Before DNS: only a host-pattern allow list without IP entries can refuse a name here.
    if (policy.allow.hosts.length && !policy.allow.nets.length && !allowedName) return notAllowed(what, policy);
    return undefined;
  }

  const cls = classifyAddress(bytes);
  const described = describe(bytes, cls);
  if (cls.always) {
    return `${what} is ${described}; http_request refuses it always, whatever ${ALLOW_SETTING} says`;
  }
  const deniedNet = matchingNet(policy.deny, bytes, 'any');
  if (deniedNet) return `${what} is denied by ${DENY_SETTING} (${deniedNet})`;
  const allowed = allowedName ?? matchingNet(policy.allow, bytes, 'mapped');
  if (cls.kind !== 'public' && !allowed) {
    return (
      `${what} is ${described}; http_request refuses loopback, private, link-local and other non-public ` +
      `addresses unless ${ALLOW_SETTING} allows them`
    );
  }
  if (policy.allow.hosts.length && !allowed) return notAllowed(what, policy);
  return undefined;
}

function notAllowed(what: string, policy: HttpPolicy): string {
  return `${what} is not in ${ALLOW_SETTING} (${policy.allow.entries.join(', ')})`;
}

function describe(bytes: IpBytes, cls: AddressClass & { note?: string }): string {
  const kind = KIND_TEXT[cls.kind] + (cls.note ? ` (${cls.note})` : '');
  if (!cls.embedded) return kind;
  return `the ${cls.embedded.form} form of ${cls.embedded.ipv4}, ${kind}`;
}
