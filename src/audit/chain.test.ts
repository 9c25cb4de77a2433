import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { GENESIS_HASH, canonicalJson, headIsSigned, headMac, recordHash, type ChainedContent } from './chain.js';

const key = Buffer.alloc(32, 7);
const content: ChainedContent = {
  seq: 1,
  id: 'evt_000000001AAAAAAAAAAAA',
  time: 1767225600000,
  principal: 'usr_1',
  principalKind: 'user',
  action: 'auth.login',
  resource: 'user:usr_1',
  decision: 'allowed',
  reason: null,
  args: { b: [1, { z: 'é', a: null }], a: true },
  result: null,
  requestId: 'req-1',
  ip: '127.0.0.1',
  prevHash: GENESIS_HASH,
};

describe('canonical record', () => {
  it('is pinned: the bytes hashed never change, or every stored log stops verifying', () => {
    const expected =
      '{"action":"auth.login","args":{"a":true,"b":[1,{"a":null,"z":"é"}]},"decision":"allowed","id":"evt_000000001AAAAAAAAAAAA",' +
      '"ip":"127.0.0.1","prevHash":"0000000000000000000000000000000000000000000000000000000000000000","principal":"usr_1",' +
      '"principalKind":"user","reason":null,"requestId":"req-1","resource":"user:usr_1","result":null,"seq":1,"time":1767225600000}';
    expect(canonicalJson(content)).toBe(expected);
    expect(recordHash(key, content)).toBe(createHmac('sha256', key).update(expected).digest('hex'));
  });

  it('does not depend on property order', () => {
    const shuffled = Object.fromEntries(Object.entries(content).reverse()) as unknown as ChainedContent;
    shuffled.args = { a: true, b: [1, { a: null, z: 'é' }] };
    expect(recordHash(key, shuffled)).toBe(recordHash(key, content));
  });

  it('covers every field and nothing else', () => {
    const base = recordHash(key, content);
    const changes: Partial<ChainedContent>[] = [
      { seq: 2 }, { id: 'evt_x' }, { time: 1 }, { principal: 'usr_2' }, { principalKind: 'service' }, { action: 'auth.logout' },
      { resource: '*' }, { decision: 'denied' }, { reason: '' }, { args: null }, { result: {} }, { requestId: null }, { ip: null },
      { prevHash: '1'.repeat(64) },
    ];
    for (const change of changes) expect(recordHash(key, { ...content, ...change }), JSON.stringify(change)).not.toBe(base);
    expect(recordHash(key, { ...content, hash: 'x' } as ChainedContent)).toBe(base);
    expect(recordHash(Buffer.alloc(32, 8), content)).not.toBe(base);
  });

  it('signs the head over seq and hash', () => {
    expect(headMac(key, 1, 'ab')).toBe(createHmac('sha256', key).update('audit-head:1:ab').digest('hex'));
    expect(headIsSigned(key, { seq: 0, hash: '', mac: '' })).toBe(true);
    expect(headIsSigned(key, { seq: 3, hash: 'ab', mac: headMac(key, 3, 'ab') })).toBe(true);
    expect(headIsSigned(key, { seq: 3, hash: 'ab', mac: '' })).toBe(false);
    expect(headIsSigned(key, { seq: 4, hash: 'ab', mac: headMac(key, 3, 'ab') })).toBe(false);
    expect(headIsSigned(Buffer.alloc(32, 1), { seq: 3, hash: 'ab', mac: headMac(key, 3, 'ab') })).toBe(false);
  });
});
