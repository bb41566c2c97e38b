// trace_malloc: uprobes on libc. A python3 child calls malloc/calloc/posix_memalign/free through ctypes with
// known sizes whenever it reads a line; ig filters on its pid in the kernel.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { IgProcess } from '../../../test/harness/ig.js';
import { columnsOf, LineChild, PYTHON } from '../../../test/harness/activity.js';

interface MallocEvent {
  timestamp: string;
  proc: { comm: string; pid: number; tid: number; creds: { uid: number } };
  operation: string; operation_raw: number; addr: number; size: number;
}

const SCRIPT = `
import ctypes, sys
libc = ctypes.CDLL("libc.so.6")
vp, sz = ctypes.c_void_p, ctypes.c_size_t
libc.malloc.restype = vp; libc.malloc.argtypes = [sz]
libc.calloc.restype = vp; libc.calloc.argtypes = [sz, sz]
libc.free.argtypes = [vp]
libc.posix_memalign.argtypes = [ctypes.POINTER(vp), sz, sz]
print("ready", flush=True)
while sys.stdin.readline():
    p = libc.malloc(123457)
    q = libc.calloc(3, 4099)
    m = vp()
    libc.posix_memalign(ctypes.byref(m), 64, 5555)
    libc.free(p); libc.free(q); libc.free(m)
    print(p, q, m.value, flush=True)
`;

let child: LineChild;

before(async () => {
  child = new LineChild(PYTHON, ['-c', SCRIPT]);
  await child.waitLine(/^ready$/);
});

after(async () => { await child?.kill(); });

test('malloc, calloc, posix_memalign and free of a child: sizes and addresses', async () => {
  const ig = new IgProcess(['run', 'trace_malloc', '--host', '-o', 'json', '--pid', String(child.pid)]);
  try {
    const seen = () => ig.events<MallocEvent>();
    // Each poke makes one round; stop when a complete round (its addresses printed by the child) is seen.
    let round: [number, number, number] | undefined;
    await ig.waitFor<MallocEvent>(() => {
      for (const l of child.lines.filter((x) => /^\d+ \d+ \d+$/.test(x))) {
        const [p, q, m] = l.split(' ').map(Number) as [number, number, number];
        const evs = seen();
        if (evs.some((e) => e.operation === 'free' && e.addr === m) && evs.some((e) => e.operation === 'malloc' && e.addr === p)) { round = [p, q, m]; return true; }
      }
      return false;
    }, () => child.send('go'), { everyMs: 500 });
    await ig.stop();
    const [p, q, m] = round!;
    const evs = seen();
    const find = (op: string, addr: number) => evs.find((e) => e.operation === op && e.addr === addr);

    const malloc = find('malloc', p)!;
    assert.equal(malloc.size, 123457);
    assert.equal(malloc.operation_raw, 0);
    assert.equal(malloc.proc.pid, child.pid);
    assert.equal(malloc.proc.comm, 'python3');
    assert.equal(malloc.proc.creds.uid, process.getuid!());

    const calloc = find('calloc', q)!;
    assert.ok(calloc, 'calloc event');
    assert.equal(calloc.size, 3 * 4099);

    const memalign = find('posix_memalign', m)!;
    assert.ok(memalign, 'posix_memalign event (address read from the out-pointer at return)');
    assert.equal(memalign.size, 5555);
    assert.equal(m % 64, 0);

    for (const a of [p, q, m]) assert.equal(find('free', a)?.size, 0, `free of ${a}`);
    // --pid is applied in the kernel.
    assert.ok(evs.every((e) => e.proc.pid === child.pid));
  } finally {
    await ig.stop();
  }
});

test('columns: COMM PID TID UID GID OPERATION ADDR SIZE', async () => {
  const ig = new IgProcess(['run', 'trace_malloc', '--host', '--pid', String(child.pid)]);
  const { header, row } = await columnsOf(ig, /\smalloc\s+0x[0-9a-f]+\s+123457$/, () => child.send('go'));
  assert.match(header, /COMM\s+PID\s+TID\s+UID\s+GID\s+OPERATION\s+ADDR\s+SIZE/);
  assert.match(row, new RegExp(`python3\\s+${child.pid}\\s`));
});

test('--collect-ustack: ustack.addresses and ustack.symbols, upstream style; without it they are empty', async () => {
  type WithStack = MallocEvent & { ustack: { addresses: string; symbols: string; tgid_level0: number; inode: number } };
  const ig = new IgProcess(['run', 'trace_malloc', '--host', '-o', 'json', '--pid', String(child.pid), '--collect-ustack']);
  try {
    const ev = await ig.waitFor<WithStack>((e) => e.operation === 'malloc' && e.size === 123457, () => child.send('go'), { everyMs: 500 });
    assert.match(ev.ustack.addresses, /^(0x[0-9a-f]+; )+$/);
    assert.equal(ev.ustack.tgid_level0, child.pid);
    assert.ok(ev.ustack.inode > 0);
    // one entry per address: a symbol, or the address itself where the mapped file has none (libffi's
    // internal trampolines, which ctypes calls malloc through, are not in its symbol tables)
    assert.equal(ev.ustack.symbols.split('; ').length, ev.ustack.addresses.split('; ').length);
  } finally {
    await ig.stop();
  }
  const plain = new IgProcess(['run', 'trace_malloc', '--host', '-o', 'json', '--pid', String(child.pid)]);
  try {
    const ev = await plain.waitFor<WithStack>((e) => e.operation === 'malloc' && e.size === 123457, () => child.send('go'), { everyMs: 500 });
    assert.equal(ev.ustack.addresses, '');
    assert.equal(ev.ustack.inode, 0);
  } finally {
    await plain.stop();
  }
});
