/**
 * Unit tests of what http_request may reach (src/activities/addressPolicy.ts), of the credential
 * header rule (src/shared/credentials.ts) and of writes dressed as reads (src/shared/agentTools.ts).
 * Pure functions: no servers. test/httpSafety.test.ts drives the same rules through a real worker.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import {
  checkDestination,
  classifyAddress,
  formatIP,
  NO_RULES,
  parseHttpRules,
  parseIP,
  parseIPv4,
  parseIPv6,
  parseRule,
  type AddressKind,
  type HttpPolicy,
} from '../src/activities/addressPolicy.js';
import { guardedLookup, RequestRefused } from '../src/activities/httpRequest.js';
import { buildConfig, ConfigError, parseArgs } from '../src/config.js';
import { isDressedWrite, isWriteCall, summarizeCall, type HttpRequestArgs } from '../src/shared/agentTools.js';
import { isCredentialName } from '../src/shared/credentials.js';
import { cliPath } from './support/mcpStdio.js';

/** The host a URL parser makes of `host` (what the activity checks): `0x7f.1` → `127.0.0.1`. */
const urlHost = (host: string): string => new URL(`http://${host}/`).hostname;

function kindOf(text: string): ReturnType<typeof classifyAddress> {
  const bytes = parseIP(text.replace(/^\[(.*)\]$/, '$1'));
  assert.ok(bytes, `${text} parses`);
  return classifyAddress(bytes);
}

const policy = (allow: string[] = [], deny: string[] = []): HttpPolicy => ({ allow: parseHttpRules(allow), deny: parseHttpRules(deny) });
const DEFAULT = policy();

describe('IP parsing', () => {
  it('IPv4: plain dotted quads only', () => {
    assert.deepEqual(parseIPv4('127.0.0.1'), [127, 0, 0, 1]);
    assert.deepEqual(parseIPv4('255.255.255.255'), [255, 255, 255, 255]);
    for (const bad of ['256.0.0.1', '1.2.3', '1.2.3.4.5', '01.2.3.4', '0x7f.0.0.1', '1.2.3.-4', '', 'a.b.c.d', '1..2.3']) {
      assert.equal(parseIPv4(bad), undefined, bad);
    }
  });

  it('IPv6: shorthand, brackets, zone ids, embedded dotted quads', () => {
    const cases: Array<[string, string]> = [
      ['::', '::'],
      ['::1', '::1'],
      ['[::1]', '::1'],
      ['fe80::1%eth0', 'fe80::1'],
      ['[fe80::1%25eth0]', 'fe80::1'],
      ['::ffff:127.0.0.1', '::ffff:7f00:1'],
      ['::FFFF:7F00:1', '::ffff:7f00:1'],
      ['::127.0.0.1', '::7f00:1'],
      ['64:ff9b::169.254.169.254', '64:ff9b::a9fe:a9fe'],
      ['1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7:8'],
      ['1:2:3:4:5:6:1.2.3.4', '1:2:3:4:5:6:102:304'],
      ['1::', '1::'],
      ['1:0:0:1:0:0:0:1', '1:0:0:1::1'],
      ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    ];
    for (const [text, canonical] of cases) {
      const bytes = parseIPv6(text);
      assert.ok(bytes, text);
      assert.equal(bytes.length, 16);
      assert.equal(formatIP(bytes), canonical, text);
    }
    for (const bad of ['1::2::3', '1:2:3:4:5:6:7:8:9', '1:2:3:4:5:6:7', '::g', '12345::', ':1', '1:', '::1.2.3', '::256.1.1.1', '1:2:3:4:5:6:7:1.2.3.4', '1:2:3:4:5:6:7::8']) {
      assert.equal(parseIPv6(bad), undefined, bad);
    }
    assert.equal(parseIP('example.com'), undefined);
  });
});

describe('address classes', () => {
  it('IPv4 ranges, checked at their edges', () => {
    const cases: Array<[string, AddressKind]> = [
      ['1.1.1.1', 'public'],
      ['8.8.8.8', 'public'],
      ['0.0.0.0', 'unspecified'],
      ['0.255.255.255', 'unspecified'],
      ['9.255.255.255', 'public'],
      ['10.0.0.0', 'private'],
      ['10.255.255.255', 'private'],
      ['11.0.0.0', 'public'],
      ['100.63.255.255', 'public'],
      ['100.64.0.0', 'shared'],
      ['100.127.255.255', 'shared'],
      ['100.128.0.0', 'public'],
      ['126.255.255.255', 'public'],
      ['127.0.0.1', 'loopback'],
      ['127.0.0.2', 'loopback'],
      ['127.255.255.255', 'loopback'],
      ['169.253.255.255', 'public'],
      ['169.254.0.1', 'link-local'],
      ['169.254.169.254', 'link-local'],
      ['169.255.0.0', 'public'],
      ['172.15.255.255', 'public'],
      ['172.16.0.0', 'private'],
      ['172.31.255.255', 'private'],
      ['172.32.0.0', 'public'],
      ['192.0.0.8', 'reserved'],
      ['192.0.1.1', 'public'],
      ['192.0.2.1', 'reserved'],
      ['192.88.99.1', 'reserved'],
      ['192.167.255.255', 'public'],
      ['192.168.0.1', 'private'],
      ['192.169.0.0', 'public'],
      ['198.17.255.255', 'public'],
      ['198.18.0.0', 'reserved'],
      ['198.19.255.255', 'reserved'],
      ['198.20.0.0', 'public'],
      ['198.51.100.7', 'reserved'],
      ['203.0.113.9', 'reserved'],
      ['223.255.255.255', 'public'],
      ['224.0.0.1', 'multicast'],
      ['239.255.255.255', 'multicast'],
      ['240.0.0.1', 'reserved'],
      ['255.255.255.255', 'reserved'],
      ['100.100.100.200', 'metadata'],
      ['192.0.0.192', 'metadata'],
    ];
    for (const [text, kind] of cases) assert.equal(kindOf(text).kind, kind, text);
  });

  it('IPv6 ranges, zone ids included', () => {
    const cases: Array<[string, AddressKind]> = [
      ['::', 'unspecified'],
      ['::1', 'loopback'],
      ['fe80::1', 'link-local'],
      ['fe80::1%eth0', 'link-local'],
      ['febf:ffff::1', 'link-local'],
      ['fec0::1', 'reserved'],
      ['fc00::1', 'private'],
      ['fdff:ffff::1%lo', 'private'],
      ['fd00:ec2::254', 'metadata'],
      ['fd00:ec2::253', 'private'],
      ['ff02::1', 'multicast'],
      ['2001:db8::1', 'reserved'],
      ['2001::1', 'reserved'], // Teredo
      ['2001:0:4136:e378:8000:63bf:3fff:fdd2', 'reserved'],
      ['2001:1ff:ffff::1', 'reserved'],
      ['2001:200::1', 'public'],
      ['64:ff9b:1::1', 'reserved'],
      ['100::1', 'reserved'],
      ['100::1:0:0:1', 'reserved'],
      ['4000::1', 'reserved'],
      ['1fff:ffff::1', 'reserved'],
      ['2606:4700::1111', 'public'],
      ['2a00:1450:4001::200e', 'public'],
    ];
    for (const [text, kind] of cases) assert.equal(kindOf(text).kind, kind, text);
  });

  it('every IPv6 form that carries an IPv4 address is judged by that address', () => {
    const forms = (ipv4: string): Array<[string, string]> => {
      const [a, b, c, d] = parseIPv4(ipv4)!;
      const hex = (x: number, y: number) => ((x << 8) | y).toString(16);
      return [
        ['IPv4-mapped', `::ffff:${ipv4}`],
        ['IPv4-mapped', `::ffff:${hex(a!, b!)}:${hex(c!, d!)}`],
        ['IPv4-mapped', `0:0:0:0:0:ffff:${ipv4}`],
        ['IPv4-compatible', `::${ipv4}`],
        ['IPv4-translated', `::ffff:0:${ipv4}`],
        ['NAT64', `64:ff9b::${ipv4}`],
        ['NAT64', `64:ff9b::${hex(a!, b!)}:${hex(c!, d!)}`],
        ['6to4', `2002:${hex(a!, b!)}:${hex(c!, d!)}::1`],
      ];
    };
    const expect: Array<[string, AddressKind, boolean]> = [
      ['127.0.0.1', 'loopback', false],
      ['10.1.2.3', 'private', false],
      ['192.168.1.1', 'private', false],
      ['100.64.1.1', 'shared', false],
      ['0.0.0.0', 'unspecified', false],
      ['224.0.0.251', 'multicast', false],
      ['169.254.169.254', 'link-local', true],
      ['100.100.100.200', 'metadata', true],
      ['192.0.0.192', 'metadata', true],
      ['8.8.8.8', 'public', false],
    ];
    for (const [ipv4, kind, always] of expect) {
      for (const [form, text] of forms(ipv4)) {
        if (text === '::0.0.0.0') continue; // that is `::` itself, below
        const cls = kindOf(text);
        assert.equal(cls.kind, kind, `${text} (${form} of ${ipv4})`);
        assert.equal(cls.always, always, `${text} always`);
        assert.deepEqual(cls.embedded, { form, ipv4 }, text);
      }
    }
    assert.deepEqual(kindOf('::0.0.0.0'), { kind: 'unspecified', always: false });
    assert.deepEqual(kindOf('::0.0.0.1'), { kind: 'loopback', always: false });
    // The same forms as a URL host: the URL parser's canonical text classifies the same.
    assert.equal(kindOf(urlHost('[::ffff:169.254.169.254]')).kind, 'link-local');
    assert.equal(kindOf(urlHost('[64:ff9b::7f00:1]')).embedded?.ipv4, '127.0.0.1');
  });

  it('shorthand IPv4 in a URL is normalised before it is judged', () => {
    for (const host of ['0x7f.1', '2130706433', '017700000001', '127.1', '0177.0.0.1', '0x7f000001', '127.0.0.1.']) {
      const hostname = urlHost(host);
      assert.match(checkDestination(DEFAULT, hostname) ?? '', /^127\.0\.0\.1 is a loopback address/, host);
    }
    assert.equal(urlHost('0xa9fea9fe'), '169.254.169.254');
    assert.match(checkDestination(DEFAULT, urlHost('0xa9fea9fe')) ?? '', /refuses it always/);
  });
});

describe('the default policy', () => {
  it('refuses every non-public destination, naming the setting', () => {
    assert.equal(
      checkDestination(DEFAULT, '127.0.0.1'),
      '127.0.0.1 is a loopback address; http_request refuses loopback, private, link-local and other non-public ' +
        'addresses unless --http-allow / DURABLE_AGENT_HTTP_ALLOW allows them',
    );
    for (const host of ['127.0.0.2', '0.0.0.0', '[::1]', '[::]', '10.0.0.1', '172.20.1.1', '192.168.0.10', '100.64.0.1', '[fc00::1]', '[fd12:3456::1]', '224.0.0.1', '[ff02::1]', '240.0.0.1', '255.255.255.255', '192.0.2.5', '198.18.0.1', '[2001:db8::1]', '[2001::1]', '[64:ff9b:1::1]', '[100::1]', '[::ffff:127.0.0.1]', '[::ffff:0:127.0.0.1]', '[::127.0.0.1]', '[64:ff9b::7f00:1]', '[2002:7f00:1::]', '[::ffff:10.0.0.1]']) {
      const refusal = checkDestination(DEFAULT, urlHost(host));
      assert.match(refusal ?? '', /refuses loopback, private, link-local and other non-public addresses unless --http-allow \/ DURABLE_AGENT_HTTP_ALLOW allows them$/, host);
    }
    assert.match(checkDestination(DEFAULT, '[::ffff:127.0.0.1]') ?? '', /^::ffff:7f00:1 is the IPv4-mapped form of 127\.0\.0\.1, a loopback address/);
  });

  it('metadata and link-local are refused always', () => {
    for (const host of ['169.254.169.254', '169.254.0.1', '100.100.100.200', '192.0.0.192', '[fd00:ec2::254]', '[fe80::1]', '[::ffff:169.254.169.254]', '[::ffff:100.100.100.200]', '[64:ff9b::a9fe:a9fe]', '[2002:a9fe:a9fe::]', '[::ffff:0:192.0.0.192]']) {
      assert.match(checkDestination(DEFAULT, urlHost(host)) ?? '', /refuses it always, whatever --http-allow \/ DURABLE_AGENT_HTTP_ALLOW says$/, host);
    }
  });

  it('localhost names are loopback without asking DNS; public names and addresses pass', () => {
    for (const host of ['localhost', 'localhost.', 'LOCALHOST', 'app.localhost']) {
      assert.match(checkDestination(DEFAULT, urlHost(host)) ?? '', /\(127\.0\.0\.1\) is a loopback address/, host);
    }
    assert.equal(checkDestination(DEFAULT, 'example.com'), undefined, 'a name is decided on its addresses');
    assert.equal(checkDestination(DEFAULT, 'example.com', '93.184.216.34'), undefined);
    assert.equal(checkDestination(DEFAULT, '8.8.8.8'), undefined);
    assert.equal(checkDestination(DEFAULT, '[2606:4700::1111]'), undefined);
    assert.equal(checkDestination(DEFAULT, '[::ffff:8.8.8.8]'), undefined);
    // A name resolving to a refused address (rebinding, or a name someone pointed at loopback).
    assert.match(checkDestination(DEFAULT, 'rebind.example.com', '127.0.0.1') ?? '', /^rebind\.example\.com \(127\.0\.0\.1\) is a loopback address/);
    assert.match(checkDestination(DEFAULT, 'v6.example.com', '::ffff:169.254.169.254') ?? '', /always/);
    assert.match(checkDestination(DEFAULT, 'zoned.example.com', 'fe80::1%eth0') ?? '', /always/);
  });
});

describe('--http-allow and --http-deny', () => {
  it('an IP or CIDR in --http-allow opens that address and keeps public hosts reachable', () => {
    const lo = policy(['127.0.0.1']);
    assert.equal(checkDestination(lo, '127.0.0.1'), undefined);
    assert.equal(checkDestination(lo, '[::ffff:127.0.0.1]'), undefined, 'the IPv4-mapped form is the same socket');
    assert.equal(checkDestination(lo, 'localhost.'), undefined, 'localhost means 127.0.0.1');
    assert.match(checkDestination(lo, '127.0.0.2') ?? '', /loopback/);
    assert.match(checkDestination(lo, '[::1]') ?? '', /loopback/);
    assert.match(checkDestination(lo, '[64:ff9b::7f00:1]') ?? '', /NAT64/, 'a NAT64 gateway is not this machine');
    assert.equal(checkDestination(lo, 'example.com', '93.184.216.34'), undefined, 'public hosts stay reachable');
    assert.equal(checkDestination(lo, '8.8.8.8'), undefined);

    const net = policy(['127.0.0.0/8', 'fd00::/8', '10.1.0.0/16']);
    assert.equal(checkDestination(net, '127.9.9.9'), undefined);
    assert.equal(checkDestination(net, '[fd12::1]'), undefined);
    assert.match(checkDestination(net, '[fc00::1]') ?? '', /private/);
    assert.equal(checkDestination(net, 'db.internal', '10.1.200.3'), undefined);
    assert.match(checkDestination(net, 'db.internal', '10.2.0.1') ?? '', /private/);
    assert.match(checkDestination(net, '192.168.1.1') ?? '', /private/);

    assert.equal(checkDestination(policy(['0.0.0.0/0', '::/0']), '[fc00::1]'), undefined, '/0 allows every non-metadata address');
  });

  it('a host pattern in --http-allow opens its names, whatever they resolve to, and limits requests to the list', () => {
    const corp = policy(['*.corp', 'API.Example.com.']);
    assert.equal(checkDestination(corp, 'db.corp', '10.0.0.5'), undefined, 'a host pattern on the name');
    assert.equal(checkDestination(corp, 'corp', '10.0.0.5'), undefined);
    assert.equal(checkDestination(corp, 'api.example.com.', '93.184.216.34'), undefined, 'case and trailing dot do not matter');
    assert.match(checkDestination(corp, 'example.org') ?? '', /^example\.org is not in --http-allow \/ DURABLE_AGENT_HTTP_ALLOW \(\*\.corp, API\.Example\.com\.\)$/);
    assert.match(checkDestination(corp, '8.8.8.8') ?? '', /is not in --http-allow/);
    assert.match(checkDestination(corp, 'notcorp', '10.0.0.5') ?? '', /private/);

    const mixed = policy(['api.example.com', '10.0.0.0/8']);
    assert.equal(checkDestination(mixed, 'example.org'), undefined, 'an IP entry may still match: decided on the addresses');
    assert.equal(checkDestination(mixed, 'example.org', '10.9.9.9'), undefined);
    assert.match(checkDestination(mixed, 'example.org', '8.8.8.8') ?? '', /is not in --http-allow/);
  });

  it('metadata stays refused whatever --http-allow says', () => {
    const wide = policy(['169.254.0.0/16', '0.0.0.0/0', '::/0', 'fd00:ec2::254', '100.100.100.200', 'metadata.internal', '*.localhost']);
    for (const host of ['169.254.169.254', '100.100.100.200', '192.0.0.192', '[fd00:ec2::254]', '[fe80::1]', '[::ffff:169.254.169.254]']) {
      assert.match(checkDestination(wide, host) ?? '', /refuses it always/, host);
    }
    assert.match(checkDestination(wide, 'metadata.internal', '169.254.169.254') ?? '', /refuses it always/);
  });

  it('--http-deny wins over --http-allow, on names, addresses and embedded forms', () => {
    const both = policy(['10.0.0.0/8', '*.example.com'], ['10.0.0.0/16', 'secret.example.com', '8.8.8.8']);
    assert.equal(checkDestination(both, '10.1.0.1'), undefined);
    assert.equal(
      checkDestination(both, '10.0.3.4'),
      '10.0.3.4 is denied by --http-deny / DURABLE_AGENT_HTTP_DENY (10.0.0.0/16)',
    );
    assert.match(checkDestination(both, 'secret.example.com') ?? '', /^secret\.example\.com is denied by --http-deny \/ DURABLE_AGENT_HTTP_DENY \(secret\.example\.com\)$/, 'before DNS');
    assert.equal(checkDestination(both, 'www.example.com', '93.184.216.34'), undefined);
    assert.match(checkDestination(both, 'www.example.com', '10.0.0.9') ?? '', /denied by --http-deny/);
    const deny = policy([], ['8.8.8.8', '*.ads.example']);
    for (const host of ['8.8.8.8', '[::ffff:8.8.8.8]', '[64:ff9b::808:808]', '[2002:808:808::1]', 'x.ads.example', 'ads.example.']) {
      assert.match(checkDestination(deny, host) ?? '', /denied by --http-deny/, host);
    }
    assert.equal(checkDestination(deny, '8.8.4.4'), undefined);
  });
});

describe('the lookup every connection uses', () => {
  type Answer = Array<{ address: string; family: 4 | 6 }>;
  /** Runs the guard over a resolver that answers `answer` (what DNS, or a rebinding attacker, says). */
  function lookUp(p: HttpPolicy, host: string, answer: Answer, all: boolean): Promise<{ err: Error | null; result: unknown }> {
    const lookup = guardedLookup(p, (_name, _opts, cb) => cb(null, answer));
    return new Promise((resolve) => {
      lookup(host, { all }, (err: Error | null, address: unknown, family?: number) =>
        resolve({ err, result: all ? address : { address, family } }));
    });
  }

  it('refuses a name if any address it resolves to is refused (mixed answers, rebinding)', async () => {
    for (const all of [true, false]) {
      const mixed = await lookUp(DEFAULT, 'evil.example.com', [{ address: '93.184.216.34', family: 4 }, { address: '127.0.0.1', family: 4 }], all);
      assert.ok(mixed.err instanceof RequestRefused, `all=${all}`);
      assert.match(mixed.err.message, /^evil\.example\.com \(127\.0\.0\.1\) is a loopback address/);
      const v6 = await lookUp(DEFAULT, 'evil.example.com', [{ address: '::ffff:169.254.169.254', family: 6 }], all);
      assert.match(v6.err?.message ?? '', /refuses it always/);
      const fine = await lookUp(DEFAULT, 'example.com', [{ address: '93.184.216.34', family: 4 }, { address: '2606:2800:220:1::1', family: 6 }], all);
      assert.equal(fine.err, null);
      assert.deepEqual(fine.result, all ? [{ address: '93.184.216.34', family: 4 }, { address: '2606:2800:220:1::1', family: 6 }] : { address: '93.184.216.34', family: 4 });
    }
    const allowed = await lookUp(policy(['*.corp']), 'db.corp', [{ address: '10.0.0.5', family: 4 }], true);
    assert.equal(allowed.err, null, 'a host pattern opens what its names resolve to');
  });

  it('localhost names are answered 127.0.0.1 without asking DNS', async () => {
    const lookup = guardedLookup(policy(['127.0.0.1']), () => assert.fail('DNS was asked'));
    const result = await new Promise<unknown>((resolve, reject) =>
      lookup('localhost.', { all: true }, (err: Error | null, addresses: unknown) => (err ? reject(err) : resolve(addresses))));
    assert.deepEqual(result, [{ address: '127.0.0.1', family: 4 }]);
  });
});

describe('rule parsing and start-up validation', () => {
  it('parses host patterns, IPs and CIDRs; rejects what is not one', () => {
    assert.deepEqual(parseRule('Api.Example.com.'), { host: 'api.example.com' });
    assert.deepEqual(parseRule('*.corp'), { host: '*.corp' });
    assert.deepEqual(parseRule('127.0.0.1'), { net: { net: [127, 0, 0, 1], prefix: 32, text: '127.0.0.1' } });
    assert.equal((parseRule('[::1]') as { net: { prefix: number } }).net.prefix, 128);
    assert.equal((parseRule('fd00::/8') as { net: { prefix: number } }).net.prefix, 8);
    const bad: Array<[string, RegExp]> = [
      ['10.0.0.0/33', /prefix length must be 0–32/],
      ['fd00::/129', /prefix length must be 0–128/],
      ['10.0.0.1/8', /did you mean 10\.0\.0\.0\/8/],
      ['1.2.3.4/x', /prefix length/],
      ['nothing/8', /not a valid CIDR/],
      ['10.0.0.0/8/8', /not a valid CIDR/],
      ['256.1.1.1', /not a valid IPv4 address/],
      ['10.0.0', /not a valid IPv4 address/],
      ['api.example.com:443', /no ports or schemes/],
      ['http://api.example.com', /no ports or schemes/],
      ['*', /not a valid host pattern/],
      ['a..b', /not a valid host pattern/],
      ['*.*.corp', /not a valid host pattern/],
    ];
    for (const [entry, why] of bad) {
      const rule = parseRule(entry);
      assert.ok('error' in rule, entry);
      assert.match(rule.error, why, entry);
    }
    assert.throws(() => parseHttpRules(['ok.example.com', '10.0.0.0/33']), /10\.0\.0\.0\/33/);
    assert.deepEqual(NO_RULES, parseHttpRules([]));
  });

  it('the config parses the lists once and refuses a bad entry naming the flag and its variable', () => {
    const config = buildConfig(parseArgs(['--http-allow', '127.0.0.1, *.corp,fd00::/8']), { DURABLE_AGENT_HTTP_DENY: '10.0.0.0/8' });
    assert.deepEqual(config.httpAllow.hosts, ['*.corp']);
    assert.deepEqual(config.httpAllow.nets.map((n) => n.text), ['127.0.0.1', 'fd00::/8']);
    assert.deepEqual(config.httpDeny.nets.map((n) => n.text), ['10.0.0.0/8']);
    assert.deepEqual(buildConfig(parseArgs([]), {}).httpAllow, NO_RULES);
    assert.throws(
      () => buildConfig(parseArgs(['--http-allow', '10.0.0.0/33']), {}),
      (err: unknown) => err instanceof ConfigError && /^invalid --http-allow \/ DURABLE_AGENT_HTTP_ALLOW: "10\.0\.0\.0\/33"/.test(err.message),
    );
    assert.throws(
      () => buildConfig(parseArgs([]), { DURABLE_AGENT_HTTP_DENY: 'fd00::/200' }),
      (err: unknown) => err instanceof ConfigError && /^invalid --http-deny \/ DURABLE_AGENT_HTTP_DENY: /.test(err.message),
    );
  });

  it('the CLI exits 2 with one stderr line on a bad CIDR, before serving', () => {
    for (const [args, env] of [
      [['--http-allow', '127.0.0.0/33'], {}],
      [[], { DURABLE_AGENT_HTTP_DENY: '10.0.0.1/8' }],
    ] as Array<[string[], Record<string, string>]>) {
      const res = spawnSync(process.execPath, [cliPath, ...args], {
        encoding: 'utf8',
        env: { ...process.env, TEMPORAL_ADDRESS: '127.0.0.1:1', ...env },
        input: '',
        timeout: 20_000,
      });
      assert.equal(res.status, 2, `exit ${res.status}; stderr ${res.stderr}`);
      assert.equal(res.stdout, '');
      const lines = res.stderr.trim().split('\n');
      assert.equal(lines.length, 1, res.stderr);
      assert.match(lines[0]!, /--http-(allow|deny) \/ DURABLE_AGENT_HTTP_(ALLOW|DENY)/);
    }
  });
});

describe('credential headers', () => {
  it('isCredentialName covers the usual header, field and parameter names and anything named like a token, secret or session', () => {
    for (const name of [
      'Authorization', 'proxy-authorization', 'Cookie', 'X-API-Key', 'api-key', 'x-auth-token', 'X-Access-Token',
      'x-csrf-token', 'X-Client-Secret', 'x-session-id', 'x-goog-api-key', 'x-apikey', 'apikey', 'x-api_key',
      'private-token', 'x-amz-security-token', 'x-password', 'X-Credentials', 'x-auth', 'Set-Cookie', ' authorization ',
      // fields and query parameters, as redaction meets them
      'api_key', 'apiKey', 'accessToken', 'client_secret', 'password', 'passwd', 'sig', 'X-Amz-Signature', 'refresh_token',
    ]) {
      assert.equal(isCredentialName(name), true, name);
    }
    for (const name of ['content-type', 'accept', 'user-agent', 'idempotency-key', 'x-request-id', 'host', 'cache-control', 'x-author', 'location', 'page', 'task', 'signal', 'design']) {
      assert.equal(isCredentialName(name), false, name);
    }
  });
});

describe('writes dressed as reads', () => {
  const req = (method: string, extra: Partial<HttpRequestArgs> = {}): HttpRequestArgs => ({ method, url: 'https://api.example.com/x', ...extra });

  it('a GET/HEAD with a body or a method-override header is a write; a plain one is a read', () => {
    const writes = [
      req('POST'),
      req('DELETE'),
      req('GET', { body: '{"delete":true}' }),
      req('HEAD', { body: 'x' }),
      req('GET', { headers: { 'X-HTTP-Method-Override': 'DELETE' } }),
      req('GET', { headers: { 'x-http-method': 'PUT' } }),
      req('HEAD', { headers: { 'X-Method-Override': 'PATCH' } }),
      req('GET', { headers: { 'x-HTTP-method-OVERRIDE': 'POST' } }),
    ];
    for (const args of writes) assert.equal(isWriteCall('http_request', args), true, JSON.stringify(args));
    for (const args of [req('GET'), req('HEAD'), req('GET', { body: '' }), req('GET', { headers: { accept: 'application/json' } })]) {
      assert.equal(isWriteCall('http_request', args), false, JSON.stringify(args));
    }
    assert.equal(isDressedWrite(req('GET', { body: 'x' })), true);
    assert.equal(isDressedWrite(req('POST', { body: 'x' })), false, 'a POST is a write, not a dressed one');
    assert.equal(isDressedWrite(req('GET')), false);
  });

  it('the approval summary says what the override asks for', () => {
    assert.match(summarizeCall('http_request', req('GET', { headers: { 'X-HTTP-Method-Override': 'DELETE' } })), /GET https:\/\/api\.example\.com\/x as DELETE \(X-HTTP-Method-Override\)/);
    assert.match(summarizeCall('http_request', req('GET', { body: 'abc' })), /with a 3-char body/);
  });
});
