// gadgetctl's whole client path, daemon left out (issue 14 item 5, client side): the real `gadgetctl run trace_open
// -o json > /dev/null` process receiving a real storm's batches over a unix socket, from a replay server in this
// process that sends them as fast as the client reads, grouped into messages of a chosen number of events.
//
//   node dist/bench/gadgetctl-stream.bench.js [--events N] [--rounds R] [--sizes 64,1024,8192] [--modes json]
//                                             [--transports raw,grpc-js] [--save FILE | --load FILE]
//                                             [--cpu-prof DIR] [--json PATH] [--base-env K=V,K=V]
//
// --transports: the RunGadget stream on gadgetctl's raw HTTP/2 path (src/service/h2-call.ts, the default) and/or
// through grpc-js (IG_GRPC_RAW=0), each setup run with each.
// --base-env: each setup also run as "base" with these variables set in gadgetctl's environment (an earlier path
// kept behind a switch, e.g. IG_CTL_PIECES=0), interleaved with the current one.
//
// Capture (bench/lib/daemon-capture.ts): an `ig daemon`, `loadgen storm`, the batch frames as the daemon sends
// them. Replay: the frames repeated until N events, concatenated into GadgetEvent payloads of at least S events each
// (what a daemon batching more per message sends), streamed with gRPC flow control to a gadgetctl started for the
// setup. Measured: gadgetctl's utime+stime from the moment it is attached (info and field tables received, modules
// loaded) until it is idle after the last message, per event; the server's CPU is not counted. Setups (size x mode)
// are interleaved per round; `json-file` (the largest size, output to a /dev/shm file) checks that every event was
// printed. Nothing else on the machine is stopped: compare setups within one run.
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { once } from 'node:events';
import * as grpc from '@grpc/grpc-js';
import { start, stop, stopAll, sleep, waitExit } from './lib/child.js';
import { drainCpu, processCpuSeconds } from './lib/proc.js';
import { fix, int, markdownTable, median } from './lib/table.js';
import { capture, fromFile, toFile, type Capture } from './lib/daemon-capture.js';
import { serviceOf, encodeMessage, decodeMessage, type ApiGadgetEvent } from '../src/service/proto.js';
import { EventType } from '../src/service/consts.js';
import { FrameType, frameLength } from '../src/datasource/codec.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const CTL_BUNDLE = join(ROOT, 'dist', 'src', 'bundle', 'gadgetctl.mjs');
const RECEIVE_ONLY = join(ROOT, 'dist', 'bench', 'lib', 'receive-only.js');

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : def;
}

interface Frames { tables: Buffer; batches: { frame: Buffer; records: number }[] }

/** The captured messages' frames: field tables apart, batch frames with their record counts. */
function framesOf(cap: Capture): Frames {
  const tables: Buffer[] = [];
  const batches: Frames['batches'] = [];
  for (const m of cap.messages) {
    const ev = decodeMessage<ApiGadgetEvent>('GadgetEvent', m);
    const p = ev.payload;
    for (let pos = 0; pos < p.length;) {
      const len = frameLength(p, pos)!;
      const frame = p.subarray(pos, pos + len);
      if (p[pos + 3] === FrameType.FieldTable) tables.push(frame);
      else {
        // body: uvar data source number, uvar record count (both < 128 here or LEB128 read in full)
        let at = pos + 8;
        while (p[at]! & 0x80) at++;
        at++;
        let n = 0;
        for (let mul = 1; ; mul *= 128) { const b = p[at++]!; n += (b & 0x7f) * mul; if (!(b & 0x80)) break; }
        batches.push({ frame, records: n });
      }
      pos += len;
    }
  }
  return { tables: Buffer.concat(tables), batches };
}

/** Payloads of at least `per` events each, the batch frames repeated until `total` events. */
function payloadsOf(f: Frames, per: number, total: number): { payloads: Buffer[]; events: number } {
  const payloads: Buffer[] = [];
  let events = 0;
  let parts: Buffer[] = [];
  let inPart = 0;
  for (let k = 0; events < total; k = (k + 1) % f.batches.length) {
    const b = f.batches[k]!;
    parts.push(b.frame);
    inPart += b.records;
    events += b.records;
    if (inPart >= per || events >= total) { payloads.push(Buffer.concat(parts)); parts = []; inPart = 0; }
  }
  return { payloads, events };
}

type Mode = 'json' | 'columns' | 'receive';
type Transport = 'raw' | 'grpc-js';
interface Setup { size: number; mode: Mode; file: boolean; transport: Transport; base: boolean }
interface Result { setup: string; round: number; cpuS: number; events: number; messages: number; wallS: number; lines?: number }

function nameOf(s: Setup): string { return `${s.mode}${s.file ? '-file' : ''} ${s.size}/msg ${s.transport}${s.base ? ' base' : ''}`; }

/** A gadget service that answers GetGadgetInfo with the capture's and streams whatever `feed` gives a run. */
async function replayServer(sock: string, cap: Capture, feed: (call: grpc.ServerDuplexStream<unknown, ApiGadgetEvent>) => void): Promise<grpc.Server> {
  const server = new grpc.Server({ 'grpc.max_send_message_length': 64 << 20 });
  server.addService(serviceOf('GadgetManager').service, {
    GetGadgetInfo: (_call: unknown, cb: grpc.sendUnaryData<unknown>) => cb(null, { gadgetInfo: cap.info }),
    RunGadget: (call: grpc.ServerDuplexStream<unknown, ApiGadgetEvent>) => {
      call.once('data', () => feed(call));
      call.on('error', () => undefined); // the client went away: the feed sees the cancel
    },
  });
  await new Promise<void>((resolve, reject) => server.bindAsync(`unix://${sock}`, grpc.ServerCredentials.createInsecure(), (e) => (e ? reject(e) : resolve())));
  return server;
}

async function main(): Promise<void> {
  const total = Number(arg('events', '500000'));
  const rounds = Number(arg('rounds', '3'));
  const sizes = arg('sizes', '64,1024,8192').split(',').map(Number);
  const modes = arg('modes', 'json').split(',') as Mode[];
  const transports = arg('transports', 'raw').split(',') as Transport[];
  for (const t of transports) if (t !== 'raw' && t !== 'grpc-js') throw new Error(`--transports: "${t}" is neither raw nor grpc-js`);
  const prof = arg('cpu-prof', '');
  const perfOut = arg('perf', '');
  const load = arg('load', '');
  const cap: Capture = load ? fromFile(load) : await capture(Number(arg('capture-events', '100000')));
  const save = arg('save', '');
  if (save) toFile(save, cap);
  const frames = framesOf(cap);
  const setups: Setup[] = [];
  const baseEnv: Record<string, string> = {};
  for (const kv of arg('base-env', '').split(',').filter(Boolean)) {
    const eq = kv.indexOf('=');
    if (eq <= 0) throw new Error(`--base-env: "${kv}" is not K=V`);
    baseEnv[kv.slice(0, eq)] = kv.slice(eq + 1);
  }
  const bases = Object.keys(baseEnv).length ? [false, true] : [false];
  for (const mode of modes) for (const size of sizes) for (const transport of transports) for (const base of bases) setups.push({ size, mode, file: false, transport, base: base && mode !== 'receive' });
  if (modes[0] !== 'receive') setups.push({ size: Math.max(...sizes), mode: modes[0]!, file: true, transport: transports[0]!, base: false });
  // (receive does not render: its base setup would repeat it)
  for (let k = setups.length - 1; k > 0; k--) if (setups.slice(0, k).some((x) => nameOf(x) === nameOf(setups[k]!))) setups.splice(k, 1);
  const payloads = new Map<number, { payloads: Buffer[]; events: number }>();
  for (const s of sizes) payloads.set(s, payloadsOf(frames, s, total));
  process.stderr.write(`captured ${int(cap.events)} events in ${frames.batches.length} batch frames; replaying ${int(total)} per setup\n`);
  const tmp = mkdtempSync(join(tmpdir(), 'ig-bench-ctlstream-'));
  const sock = join(tmp, 'replay.sock');
  let feed: ((call: grpc.ServerDuplexStream<unknown, ApiGadgetEvent>) => void) | undefined;
  const server = await replayServer(sock, cap, (call) => feed?.(call));
  const infoPayload = encodeMessage('GadgetInfo', cap.info);
  const results: Result[] = [];
  try {
    if (bases.length > 1) process.stderr.write(`base: ${JSON.stringify(baseEnv)}\n`);
    for (let round = 1; round <= rounds; round++) {
      for (const s of setups) {
        const r = await runOne(s, round);
        results.push(r);
        process.stderr.write(`round ${round} ${r.setup}: ${fix((r.cpuS * 1e6) / r.events, 3)} µs/event, ${int(r.events / r.wallS)} events/s${r.lines !== undefined ? `, ${int(r.lines)} lines` : ''}\n`);
      }
    }
  } finally {
    server.forceShutdown();
    await stopAll();
    rmSync(tmp, { recursive: true, force: true });
  }
  report(results);

  async function runOne(s: Setup, round: number): Promise<Result> {
    const { payloads: ps, events } = payloads.get(s.size)!;
    const outFile = join('/dev/shm', `ig-bench-ctlstream-${process.pid}.out`);
    const out = openSync(s.file ? outFile : '/dev/null', 'w');
    const errFile = join(tmp, `err-${round}`);
    const err = openSync(errFile, 'w');
    let attached!: (call: grpc.ServerDuplexStream<unknown, ApiGadgetEvent>) => void;
    const attachedP = new Promise<grpc.ServerDuplexStream<unknown, ApiGadgetEvent>>((r) => { attached = r; });
    feed = (call) => {
      call.write({ type: EventType.GadgetInfo, seq: 0, payload: infoPayload, dataSourceID: 0 });
      call.write({ type: EventType.GadgetBatch, seq: 0, payload: frames.tables, dataSourceID: 0 });
      attached(call);
    };
    const nodeArgs = prof ? ['--cpu-prof', '--cpu-prof-dir', prof] : [];
    const ctlArgs = s.mode === 'receive' ? [...nodeArgs, RECEIVE_ONLY, `unix://${sock}`] : [...nodeArgs, CTL_BUNDLE, 'run', 'trace_open', '-o', s.mode, '--remote-address', `unix://${sock}`];
    const c = start('gadgetctl', process.execPath, ctlArgs, { stdout: out, stderr: err, env: { ...process.env, IG_GRPC_RAW: s.transport === 'raw' ? '1' : '0', ...(s.base ? baseEnv : {}) } });
    closeSync(out); closeSync(err);
    const call = await Promise.race([attachedP, c.exited.then(() => { throw new Error(`gadgetctl ended before its run: ${readFileSync(errFile, 'utf8')}`); })]);
    let cancelled = false;
    call.on('cancelled', () => { cancelled = true; });
    await sleep(500); // its output set up (modules loaded, plan compiled)
    // --perf FILE: `perf record` of the client over the measured window only (FILE.<round>.<setup>)
    const perf = perfOut ? start('perf', 'perf', ['record', '-q', '-F', '4000', '-g', '-p', String(c.pid), '-o', `${perfOut}.${round}.${nameOf(s).replace(/[^a-z0-9]+/g, '-')}`], { stdout: 'ignore', stderr: 'inherit' }) : undefined;
    if (perf) await sleep(300);
    const cpu0 = processCpuSeconds(c.pid) ?? 0;
    const t0 = performance.now();
    let seq = 0;
    for (const payload of ps) {
      if (cancelled) throw new Error(`gadgetctl cancelled the run: ${readFileSync(errFile, 'utf8')}`);
      if (!call.write({ type: EventType.GadgetBatch, seq: ++seq, payload, dataSourceID: 0 })) await once(call, 'drain');
    }
    const cpuS = await drainCpu(c.pid, cpu0);
    if (perf) await stop(perf, 'SIGINT');
    const wallS = (performance.now() - t0) / 1000 - 0.5; // drainCpu waits 500 ms of quiet
    call.end();
    if (!(await waitExit(c, 15000))) await stop(c, 'SIGKILL');
    const errText = readFileSync(errFile, 'utf8');
    if (errText.trim()) process.stderr.write(`gadgetctl: ${errText.trim()}\n`);
    let lines: number | undefined;
    if (s.file) {
      const text = readFileSync(outFile);
      lines = 0;
      for (let k = text.indexOf(10); k >= 0; k = text.indexOf(10, k + 1)) lines++;
      rmSync(outFile, { force: true });
      if (lines !== events) throw new Error(`${nameOf(s)}: ${lines} lines for ${events} events`);
    }
    return { setup: nameOf(s), round, cpuS, events, messages: ps.length, wallS, lines };
  }

  function report(rs: Result[]): void {
    const names = [...new Set(rs.map((r) => r.setup))];
    const rows = names.map((n) => {
      const mine = rs.filter((r) => r.setup === n);
      const us = mine.map((r) => (r.cpuS * 1e6) / r.events);
      return [n, int(mine[0]!.messages), fix(median(us), 3), us.map((x) => fix(x, 3)).join(', '), int(median(mine.map((r) => r.events / r.wallS)))];
    });
    const text = `${markdownTable(['setup (events per message)', 'messages', 'gadgetctl CPU µs/event (median)', 'per round', 'events/s'], rows)}\n\n`
      + `${int(total)} trace_open events per setup, ${rounds} rounds; ${cpus().length} CPUs; load average at the end ${loadavg().map((x) => fix(x, 1)).join(' ')}\n`;
    process.stdout.write(text);
    const json = arg('json', join(ROOT, 'bench', 'results', `gadgetctl-stream-${new Date().toISOString().slice(0, 10)}.json`));
    mkdirSync(dirname(json), { recursive: true });
    writeFileSync(json, JSON.stringify({ events: total, rounds, results: rs, loadavg: loadavg() }, null, 2) + '\n');
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`bench: ${(e as Error).stack ?? String(e)}\n`);
  void stopAll().then(() => process.exit(1));
});
