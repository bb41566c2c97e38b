// pcap filters compiled to eBPF and spliced into gadget_pf_<name>(): for every expression and packet below the
// loaded program's verdict (BPF_PROG_TEST_RUN on the frame) equals libpcap's own interpreter's
// (pcap_offline_filter) on the same frame. The expressions cover every classic BPF instruction class libpcap
// emits: absolute/indirect/MSH loads of 1, 2 and 4 bytes, packet length, scratch memory, ALU by K and X
// (division by zero included), all conditional jumps, and loads past the end of short frames.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { Btf } from './btf/btf.js';
import { native } from './native.js';
import { BpfObject } from './object.js';
import { cbpfToEbpf, compilePcap, LINKTYPE_ETHERNET, PacketFilterError, PCAP_FILTER_SNAPLEN, pcapToEbpf } from './pcap-filter.js';
import { compileBpf, removeBuildDir, setupKernel, skipReason } from './testutil.js';

const MAC_A = [0x02, 0, 0, 0, 0, 0x01];
const MAC_B = [0x02, 0, 0, 0, 0, 0x02];

function eth(type: number, payload: Buffer, vlan?: number, src = MAC_A): Buffer {
  const head = Buffer.from([...MAC_B, ...src]);
  const parts = [head];
  if (vlan !== undefined) parts.push(Buffer.from([0x81, 0x00, vlan >> 8, vlan & 0xff]));
  const t = Buffer.alloc(2);
  t.writeUInt16BE(type);
  return Buffer.concat([...parts, t, payload]);
}

function ipv4(proto: number, src: number[], dst: number[], l4: Buffer, opts: { ttl?: number; options?: number; frag?: number } = {}): Buffer {
  const optLen = (opts.options ?? 0) * 4;
  const h = Buffer.alloc(20 + optLen);
  h[0] = 0x40 | (5 + (opts.options ?? 0));
  h.writeUInt16BE(h.length + l4.length, 2);
  h.writeUInt16BE(opts.frag ?? 0x4000, 6);
  h[8] = opts.ttl ?? 64;
  h[9] = proto;
  Buffer.from(src).copy(h, 12);
  Buffer.from(dst).copy(h, 16);
  return Buffer.concat([h, l4]);
}

function udp(sport: number, dport: number, data: Buffer): Buffer {
  const h = Buffer.alloc(8);
  h.writeUInt16BE(sport, 0);
  h.writeUInt16BE(dport, 2);
  h.writeUInt16BE(8 + data.length, 4);
  return Buffer.concat([h, data]);
}

function tcp(sport: number, dport: number, flags: number): Buffer {
  const h = Buffer.alloc(20);
  h.writeUInt16BE(sport, 0);
  h.writeUInt16BE(dport, 2);
  h[12] = 5 << 4;
  h[13] = flags;
  return h;
}

function ipv6udp(dport: number): Buffer {
  const h = Buffer.alloc(40);
  h[0] = 0x60;
  const l4 = udp(40000, dport, Buffer.from('six'));
  h.writeUInt16BE(l4.length, 4);
  h[6] = 17;
  h[7] = 64;
  h[23] = 1;
  h[39] = 1;
  return Buffer.concat([h, l4]);
}

const LOCAL = [10, 1, 2, 3];
const OTHER = [192, 168, 7, 9];
const PACKETS: Record<string, Buffer> = {
  udpDns: eth(0x0800, ipv4(17, LOCAL, OTHER, udp(40000, 53, Buffer.from('hello dns query')))),
  udpBig: eth(0x0800, ipv4(17, OTHER, LOCAL, udp(1234, 9999, Buffer.alloc(300, 0x68)))),
  tcpSyn: eth(0x0800, ipv4(6, LOCAL, OTHER, tcp(40001, 443, 0x02))),
  tcpAck: eth(0x0800, ipv4(6, OTHER, LOCAL, tcp(80, 40002, 0x10))),
  ipOptions: eth(0x0800, ipv4(17, LOCAL, OTHER, udp(5000, 55, Buffer.from('opts')), { options: 2 })),
  fragment: eth(0x0800, ipv4(17, LOCAL, OTHER, udp(5000, 53, Buffer.from('frag')), { frag: 0x2010 })),
  ttlZero: eth(0x0800, ipv4(1, LOCAL, OTHER, Buffer.from([8, 0, 0, 0, 0, 0, 0, 0]), { ttl: 0 })),
  icmp: eth(0x0800, ipv4(1, OTHER, LOCAL, Buffer.from([8, 0, 0, 0, 0, 1, 0, 1]))),
  ipv6: eth(0x86dd, ipv6udp(53)),
  arp: eth(0x0806, Buffer.alloc(28, 1), undefined, [0x02, 0, 0, 0, 0, 0x09]),
  vlanUdp: eth(0x0800, ipv4(17, LOCAL, OTHER, udp(40000, 53, Buffer.from('vlan'))), 42),
  // an IPv4 header cut short behind a VLAN tag (the kernel's test run refuses untagged IPv4 frames shorter than an
  // IP header): loads past the end make classic BPF return 0
  truncated: eth(0x0800, Buffer.from([0x45, 0, 0, 40, 0, 0]), 42),
};

const EXPRESSIONS = [
  'udp', 'tcp', 'ip6', 'arp', 'icmp', 'not ip',
  'port 53', 'udp and dst port 53', 'src port 40000 or dst port 9999', 'portrange 50-60',
  'host 10.1.2.3', 'src net 192.168.0.0/16', 'dst host 10.1.2.3 and udp',
  'ether host 02:00:00:00:00:09', 'ether dst 02:00:00:00:00:02 and not arp',
  'tcp[tcpflags] & tcp-syn != 0', 'tcp[13] = 0x10', 'udp[8] = 0x68', 'udp[8:2] = 0x6865',
  'len > 100', 'len <= 60', 'greater 200', 'less 70',
  'ip[8] = 64', 'ip[6:2] & 0x1fff = 0', 'ip[0] & 0xf > 5', 'ip[2:2] > 50 and ip[2:2] < 400',
  'ip[2:2] / 4 > 10', 'ip[2:2] % 7 = 5', 'ip[2:2] - 20 > 100', 'ip[2:2] * 2 > 100', '(ip[2:2] >> 2) > 5', '(ip[9] << 1) = 34',
  'ip[1] | 1 = 1', 'ip[2:2] ^ 1 != 0', 'ip[2:2] & ip[8] != 0', 'ip[2:2] / ip[8] > 0', 'ip[2:2] % ip[8] = 40',
  'ip[2:2] + ip[8] > 100', 'ip[8] - ip[9] > 40', 'ip[8] * ip[9] > 1000',
  'vlan and udp', 'vlan 42', 'ip6 and udp port 53', 'icmp[icmptype] = icmp-echo',
  'ip[2:2] = len - 14', 'udp and ip[2:2] > ip[8] * 4', 'ip[100] = 0x68', 'vlan and ip[9] = 17',
];
/** Expressions no packet above matches (a load past 64 KiB ends every run with 0). */
const NEVER = new Set(['ether[70000] = 0 or udp']);
EXPRESSIONS.push(...NEVER);

describe('pcap filters spliced into gadget_pf_', { skip: skipReason }, () => {
  let objPath = '';
  before(() => {
    setupKernel();
    objPath = compileBpf('pf');
  });
  after(() => removeBuildDir());

  /** Load the test object with these filters; f(obj) runs with it, then it is closed. */
  function withFilters(filters: { name: string; expr: string }[], f: (obj: BpfObject) => void): void {
    const obj = BpfObject.open(objPath, 'pf');
    try {
      obj.setPacketFilters(filters.map((x) => ({ name: x.name, insns: pcapToEbpf(x.expr) })));
      obj.load();
      f(obj);
    } finally {
      obj.close();
    }
  }

  it('the object declares the unnamed and the named filter', () => {
    const btf = Btf.fromElf(readFileSync(objPath));
    assert.deepEqual(btf.funcNamesWithPrefix('gadget_pf_').sort(), ['gadget_pf_', 'gadget_pf_second']);
  });

  it('without a filter every non-empty packet matches', () => {
    const obj = BpfObject.open(objPath, 'pf');
    try {
      obj.load();
      for (const p of Object.values(PACKETS)) assert.equal(obj.testRunData('pf_main', p), 1);
    } finally {
      obj.close();
    }
  });

  for (const expr of EXPRESSIONS) {
    it(`"${expr}" decides as libpcap does`, () => {
      withFilters([{ name: '', expr }], (obj) => {
        let matched = 0;
        for (const [name, p] of Object.entries(PACKETS)) {
          const want = native.pcapMatch(expr, LINKTYPE_ETHERNET, PCAP_FILTER_SNAPLEN, p);
          const got = obj.testRunData('pf_main', p);
          assert.equal(got, want ? 1 : 2, `packet ${name}: libpcap says ${want ? 'match' : 'no match'}`);
          if (want) matched++;
        }
        // every expression is checked against both outcomes, not only "never matches"
        if (NEVER.has(expr)) assert.equal(matched, 0);
        else assert.ok(matched > 0 && matched < Object.keys(PACKETS).length, `${expr}: ${matched} of ${Object.keys(PACKETS).length} packets match`);
      });
    });
  }

  it('two filters in one program (unnamed and pf-second) both apply', () => {
    withFilters([{ name: '', expr: 'udp' }, { name: 'second', expr: 'port 53' }], (obj) => {
      for (const [name, p] of Object.entries(PACKETS)) {
        const want = native.pcapMatch('udp', LINKTYPE_ETHERNET, PCAP_FILTER_SNAPLEN, p) && native.pcapMatch('port 53', LINKTYPE_ETHERNET, PCAP_FILTER_SNAPLEN, p);
        assert.equal(obj.testRunData('pf_both', p), want ? 1 : 2, `packet ${name}`);
      }
      // the program with only the unnamed filter is spliced too
      assert.equal(obj.testRunData('pf_main', PACKETS.tcpSyn!), 2);
      assert.equal(obj.testRunData('pf_main', PACKETS.udpBig!), 1);
    });
  });

  it('a bad expression is a PacketFilterError with libpcap\'s reason', () => {
    assert.throws(() => compilePcap('udp and prot 53'), (e: unknown) => e instanceof PacketFilterError && /syntax error/.test((e as Error).message));
    assert.throws(() => compilePcap('ip proto nosuchproto'), PacketFilterError);
  });

  it('refuses classic BPF it does not know, naming the instruction', () => {
    assert.throws(() => cbpfToEbpf([{ code: 0x20 | 0x18, jt: 0, jf: 0, k: 0 }]), /instruction 0 \(code 0x38\) is not supported/);
    assert.throws(() => cbpfToEbpf([]), PacketFilterError);
  });
});
