import { describe, expect, it } from 'vitest';
import { blockedAddressReason, parseTargetUrl, vetTarget, type HostResolver } from './targetPolicy.js';

const url = (text: string) => {
  const parsed = parseTargetUrl(text);
  if ('problem' in parsed) throw new Error(parsed.problem);
  return parsed.url;
};
const resolver = (addresses: string[]): HostResolver => async () => addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));

describe('notification target policy', () => {
  it.each([
    ['127.0.0.1', 'loopback'],
    ['127.255.255.254', 'loopback'],
    ['0.0.0.0', 'this network'],
    ['10.200.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['192.168.1.1', 'private'],
    ['169.254.169.254', 'link-local'],
    ['100.100.100.200', 'carrier-grade'],
    ['224.0.0.251', 'multicast'],
    ['255.255.255.255', 'reserved'],
    ['::1', 'loopback'],
    ['::', 'unspecified'],
    ['::127.0.0.1', 'IPv4-compatible'],
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:a9fe:a9fe', 'link-local'],
    ['64:ff9b::a9fe:a9fe', 'NAT64'],
    ['2002:7f00:1::', '6to4'],
    ['fe80::1', 'link-local'],
    ['fd12:3456::1', 'unique local'],
    ['ff02::1', 'multicast'],
  ])('refuses %s (%s)', (address, word) => {
    expect(blockedAddressReason(address)).toContain(word);
  });

  it.each(['93.184.216.34', '1.1.1.1', '172.32.0.1', '2606:4700:4700::1111', '::ffff:93.184.216.34'])('lets the public address %s through', (address) => {
    expect(blockedAddressReason(address)).toBeUndefined();
  });

  it('parses only absolute http(s) URLs without credentials, and drops the fragment', () => {
    expect(parseTargetUrl('https://h.example/p?q#frag')).toEqual({ url: new URL('https://h.example/p?q') });
    expect(parseTargetUrl('gopher://h.example/')).toEqual({ problem: 'must be http or https, not gopher' });
    expect(parseTargetUrl('https://u@h.example/')).toEqual({ problem: 'must not carry a user name or password' });
    expect(parseTargetUrl('h.example/hook')).toEqual({ problem: 'must be an absolute http(s) URL' });
  });

  it('vets every resolved address, with the allow-list by host, host:port or address', async () => {
    expect(await vetTarget(url('https://h.example/'), [], resolver(['93.184.216.34']))).toEqual({ ok: true, address: '93.184.216.34', family: 4 });
    const rebinding = await vetTarget(url('https://h.example/x?token=t'), [], resolver(['93.184.216.34', '127.0.0.1']));
    expect(rebinding).toMatchObject({ ok: false, code: 'TARGET_NOT_ALLOWED', message: expect.stringContaining('h.example resolves to 127.0.0.1, a loopback address') });
    expect(JSON.stringify(rebinding)).not.toContain('token');
    expect(await vetTarget(url('https://h.example/'), [{ host: 'h.example', port: 443 }], resolver(['10.0.0.1']))).toMatchObject({ ok: true, address: '10.0.0.1' });
    expect(await vetTarget(url('https://h.example/'), [{ host: 'h.example', port: 8443 }], resolver(['10.0.0.1']))).toMatchObject({ ok: false });
    expect(await vetTarget(url('http://h.example:8080/'), [{ host: '10.0.0.1', port: undefined }], resolver(['10.0.0.1']))).toMatchObject({ ok: true });
    expect(await vetTarget(url('http://[::1]:8080/'), [{ host: '::1', port: 8080 }], resolver([]))).toMatchObject({ ok: true, address: '::1', family: 6 });
    const failing: HostResolver = async () => {
      throw Object.assign(new Error('nope'), { code: 'ENOTFOUND' });
    };
    expect(await vetTarget(url('https://nowhere.example/'), [], failing)).toEqual({ ok: false, code: 'DNS_FAILED', message: 'nowhere.example does not resolve (ENOTFOUND)' });
    const silent: HostResolver = () => new Promise(() => {});
    const started = Date.now();
    expect(await vetTarget(url('https://slow.example/'), [], silent, { timeoutMs: 50 })).toEqual({
      ok: false,
      code: 'DNS_FAILED',
      message: 'slow.example does not resolve (no answer within 50 ms)',
    });
    expect(Date.now() - started).toBeLessThan(2_000);
  });
});
