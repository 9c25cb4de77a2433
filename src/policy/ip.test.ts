import { BlockList, isIP } from 'node:net';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { cidrContains, classifyIp, embeddedIpv4, formatIp, ipReadings, parseCidr, parseIp, type IpAddress } from './ip.js';

function ip(text: string): IpAddress {
  const parsed = parseIp(text);
  if (!parsed) throw new Error(`test address ${text} does not parse`);
  return parsed;
}

describe('parseIp', () => {
  it.each([
    ['127.0.0.1', '127.0.0.1'],
    ['2130706433', '127.0.0.1'],
    ['0x7f000001', '127.0.0.1'],
    ['0177.0.0.1', '127.0.0.1'],
    ['0x7f.1', '127.0.0.1'],
    ['127.1', '127.0.0.1'],
    ['127.0.1', '127.0.0.1'],
    ['0X7F.0.0.0x1', '127.0.0.1'],
    ['00000177.0.0.01', '127.0.0.1'],
    ['127.0.0.1.', '127.0.0.1'],
    ['0', '0.0.0.0'],
    ['0x', '0.0.0.0'],
    ['10.0.0.010', '10.0.0.8'],
    ['4294967295', '255.255.255.255'],
    ['::1', '::1'],
    ['[::1]', '::1'],
    ['0:0:0:0:0:0:0:1', '::1'],
    ['0000:0000:0000:0000:0000:0000:0000:0001', '::1'],
    ['::', '::'],
    ['::ffff:127.0.0.1', '::ffff:7f00:1'],
    ['::FFFF:7F00:1', '::ffff:7f00:1'],
    ['fe80::1%eth0', 'fe80::1'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    ['2001:0:0:1:0:0:0:1', '2001:0:0:1::1'],
    ['1:2:3:4:5:6:7::', '1:2:3:4:5:6:7:0'],
    ['::1:2:3:4:5:6:7', '0:1:2:3:4:5:6:7'],
    ['64:ff9b::10.0.0.1', '64:ff9b::a00:1'],
  ])('reads %s as %s', (text, canonical) => {
    expect(parseIp(text)?.text).toBe(canonical);
  });

  it.each([
    '',
    '.',
    '1..1',
    '256.0.0.1',
    '4294967296',
    '1.2.3.4.5',
    '08.0.0.1',
    '0x1g.0.0.1',
    ' 127.0.0.1',
    '127.0.0.1 ',
    '+1.2.3.4',
    'localhost',
    '1:2:3:4:5:6:7:8:9',
    '1:2:3:4::5:6:7:8',
    '1:::2',
    ':1::',
    '12345::',
    '::ffff:01.2.3.4',
    '::1.2.3.4:5',
    'fe80::1%',
    '[::1',
  ])('refuses %j', (text) => {
    expect(parseIp(text)).toBeNull();
  });

  it('agrees with WHATWG URL on every IPv4 spelling it accepts', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^(0[xX][0-9a-fA-F]{0,9}|0[0-7]{0,12}|[1-9][0-9]{0,10})(\.(0[xX][0-9a-f]{0,3}|0[0-7]{0,4}|[1-9][0-9]{0,3})){0,3}\.?$/), (text) => {
        const ours = parseIp(text);
        const url = URL.canParse(`http://${text}/`) ? new URL(`http://${text}/`).hostname : null;
        expect(ours?.text ?? null).toBe(url);
      }),
    );
  });

  it('formats IPv6 exactly as WHATWG URL serialises it', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), fc.array(fc.nat(7), { maxLength: 6 }), (bytes, zeroGroups) => {
        for (const group of zeroGroups) bytes.fill(0, group * 2, group * 2 + 2);
        const text = formatIp(bytes);
        expect(`[${text}]`).toBe(new URL(`http://[${text}]/`).hostname);
        expect(isIP(text)).toBe(6);
        expect(parseIp(text)?.bytes).toEqual(bytes);
      }),
    );
  });
});

describe('parseCidr and cidrContains', () => {
  it('normalises the network address and matches both families', () => {
    expect(parseCidr('10.1.2.3/8')?.text).toBe('10.0.0.0/8');
    expect(parseCidr('FD00::1/8')?.text).toBe('fd00::/8');
    expect(parseCidr('0.0.0.0/0')?.text).toBe('0.0.0.0/0');
    expect(parseCidr('10.0.0.0/33')).toBeNull();
    expect(parseCidr('::/129')).toBeNull();
    expect(parseCidr('10.0.0.0')).toBeNull();
    expect(parseCidr('10.0.0.0/-1')).toBeNull();
    const v4 = parseCidr('172.16.0.0/12');
    if (!v4) throw new Error('unreachable');
    expect(cidrContains(v4, ip('172.31.255.255'))).toBe(true);
    expect(cidrContains(v4, ip('172.32.0.0'))).toBe(false);
    expect(cidrContains(v4, ip('::ffff:172.16.0.1'))).toBe(false);
  });

  it('agrees with net.BlockList for random blocks and addresses', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 4, maxLength: 4 }), fc.nat(32), fc.uint8Array({ minLength: 4, maxLength: 4 }), (net, prefix, probe) => {
        const block = parseCidr(`${formatIp(net)}/${prefix}`);
        if (!block) throw new Error('unreachable');
        const list = new BlockList();
        list.addSubnet(formatIp(net), prefix, 'ipv4');
        expect(cidrContains(block, ip(formatIp(probe)))).toBe(list.check(formatIp(probe), 'ipv4'));
      }),
    );
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), fc.nat(128), fc.uint8Array({ minLength: 16, maxLength: 16 }), (net, prefix, probe) => {
        probe.set(net.subarray(0, Math.floor(prefix / 8)));
        const block = parseCidr(`${formatIp(net)}/${prefix}`);
        if (!block) throw new Error('unreachable');
        const list = new BlockList();
        list.addSubnet(formatIp(net), prefix, 'ipv6');
        expect(cidrContains(block, ip(formatIp(probe)))).toBe(list.check(formatIp(probe), 'ipv6'));
      }),
    );
  });
});

describe('classifyIp', () => {
  it.each([
    ['127.0.0.1', 'loopback'],
    ['127.255.255.254', 'loopback'],
    ['::1', 'loopback'],
    ['0.0.0.0', 'unspecified'],
    ['0.1.2.3', 'unspecified'],
    ['::', 'unspecified'],
    ['10.0.0.1', 'private'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['192.168.1.1', 'private'],
    ['fc00::1', 'private'],
    ['fd12:3456::1', 'private'],
    ['fec0::1', 'private'],
    ['64:ff9b:1::a00:1', 'private'],
    ['169.254.1.1', 'link-local'],
    ['fe80::1', 'link-local'],
    ['febf::1', 'link-local'],
    ['100.64.0.1', 'cgnat'],
    ['100.127.255.255', 'cgnat'],
    ['224.0.0.1', 'multicast'],
    ['239.255.255.250', 'multicast'],
    ['ff02::1', 'multicast'],
    ['255.255.255.255', 'broadcast'],
    ['240.0.0.1', 'reserved'],
    ['192.0.0.8', 'reserved'],
    ['2001::1', 'reserved'],
    ['100::1', 'reserved'],
    ['4000::1', 'reserved'],
    ['198.18.0.1', 'benchmarking'],
    ['198.19.255.255', 'benchmarking'],
    ['2001:2::1', 'benchmarking'],
    ['192.0.2.1', 'documentation'],
    ['198.51.100.1', 'documentation'],
    ['203.0.113.1', 'documentation'],
    ['2001:db8::1', 'documentation'],
    ['169.254.169.254', 'metadata'],
    ['169.254.170.2', 'metadata'],
    ['100.100.100.200', 'metadata'],
    ['fd00:ec2::254', 'metadata'],
    ['168.63.129.16', 'metadata'],
  ])('%s is %s', (text, range) => {
    expect(classifyIp(ip(text))?.range).toBe(range);
  });

  it.each([
    '8.8.8.8',
    '1.1.1.1',
    '140.82.112.3',
    '100.63.255.255',
    '100.128.0.0',
    '172.15.255.255',
    '172.32.0.0',
    '169.253.255.255',
    '198.17.255.255',
    '198.20.0.0',
    '223.255.255.255',
    '2001:4860:4860::8888',
    '2606:4700::1111',
    '::ffff:8.8.8.8',
    '64:ff9b::8.8.8.8',
    '2002:808:808::1',
  ])('%s is public', (text) => {
    expect(classifyIp(ip(text))).toBeNull();
  });

  it.each([
    ['::ffff:127.0.0.1', 'loopback', 'ipv4-mapped'],
    ['::ffff:7f00:1', 'loopback', 'ipv4-mapped'],
    ['0:0:0:0:0:ffff:a9fe:a9fe', 'metadata', 'ipv4-mapped'],
    ['::ffff:0:10.0.0.1', 'private', 'ipv4-translated'],
    ['::127.0.0.1', 'loopback', 'ipv4-compatible'],
    ['::a00:1', 'private', 'ipv4-compatible'],
    ['64:ff9b::169.254.169.254', 'metadata', 'nat64'],
    ['64:ff9b::c0a8:1', 'private', 'nat64'],
    ['2002:7f00:1::', 'loopback', '6to4'],
    ['2002:a9fe:a9fe:1234::1', 'metadata', '6to4'],
  ])('%s is judged by its embedded IPv4 (%s via %s)', (text, range, via) => {
    const found = classifyIp(ip(text));
    expect(found?.range).toBe(range);
    expect(found?.embedded?.via).toBe(via);
  });

  it('names the block and the embedded address', () => {
    expect(classifyIp(ip('10.9.8.7'))).toMatchObject({ block: '10.0.0.0/8', description: 'a private address (10.0.0.0/8)' });
    expect(embeddedIpv4(ip('::ffff:a00:1'))?.ipv4.text).toBe('10.0.0.1');
    expect(embeddedIpv4(ip('10.0.0.1'))).toBeNull();
    expect(embeddedIpv4(ip('2001:4860::1'))).toBeNull();
  });
});

describe('ipReadings', () => {
  it('keeps both readings of a dotted quad with leading zeros', () => {
    expect(ipReadings('010.0.0.1').map((a) => a.text)).toEqual(['8.0.0.1', '10.0.0.1']);
    expect(ipReadings('0177.0.0.01').map((a) => a.text)).toEqual(['127.0.0.1', '177.0.0.1']);
    expect(ipReadings('10.0.0.1').map((a) => a.text)).toEqual(['10.0.0.1']);
    expect(ipReadings('0x0a.0.0.1').map((a) => a.text)).toEqual(['10.0.0.1']);
    expect(ipReadings('example.com')).toEqual([]);
  });
});
