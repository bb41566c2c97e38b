// libpcap is opened by the addon on the first pcap filter, not linked into it (native/src/pcap_compile.c): loading
// the addon, as every ig process does, maps neither libpcap nor the libraries it depends on.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';

const script = `
import { readFileSync } from 'node:fs';
const pcapMapped = () => /libpcap\\.so/.test(readFileSync('/proc/self/maps', 'utf8'));
const { native } = await import(${JSON.stringify(new URL('./native.js', import.meta.url).href)});
const { compilePcap, LINKTYPE_ETHERNET } = await import(${JSON.stringify(new URL('./pcap-filter.js', import.meta.url).href)});
void native.pcapCompile; // the proxy loads the addon
const addon = /ig_native\.node/.test(readFileSync('/proc/self/maps', 'utf8'));
const before = pcapMapped();
const code = compilePcap('tcp port 80', LINKTYPE_ETHERNET);
console.log(JSON.stringify({ addon, before, after: pcapMapped(), instructions: code.length }));
`;

test('the addon maps libpcap only once a pcap filter is compiled', () => {
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const got = JSON.parse(r.stdout) as { addon: boolean; before: boolean; after: boolean; instructions: number };
  assert.deepEqual([got.addon, got.before, got.after], [true, false, true]);
  assert.ok(got.instructions > 4, `tcp port 80 compiles to ${got.instructions} instructions`);
});
