// gadgetctl's client side alone (issue 14 item 5): what it costs to take a received trace_open batch from the
// gRPC message to lines on /dev/null, replayed from batches captured from a real `ig daemon`.
//
//   node dist/bench/gadgetctl-render.bench.js [--events N] [--rounds R] [--json PATH] [--save FILE | --load FILE]
//                                             [--only setup,setup]
//
// Capture: an `ig daemon` on a unix socket in a temp dir, `loadgen storm` opening files, a GadgetClient run of
// trace_open (--comm igb_storm) that re-encodes every received batch with the packet codec into GadgetEvent
// messages (the bytes the daemon sends). Replay, interleaved per round, CPU of this process per event:
// - grpc-decode: the GadgetEvent deserializer grpc-js calls per message (payloads, no rendering);
// - js-<mode>: deserializer, PacketDecoder to Batch objects, the cli's JS renderer (what gadgetctl did before);
// - native-<mode>: deserializer, frame split, FrameRenderer (native render plan on the frame bytes).
// Modes: json and columns, lines written to /dev/null. Nothing here runs during a replay but this process.
import { closeSync, mkdirSync, openSync, writeFileSync, writeSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stopAll } from './lib/child.js';
import { fix, int, markdownTable, median } from './lib/table.js';
import { capture, fromFile, toFile, type Capture } from './lib/daemon-capture.js';
import { serviceOf, type ApiGadgetEvent } from '../src/service/proto.js';
import { PacketDecoder } from '../src/datasource/codec.js';
import { RemoteRenderer } from '../src/cli/gadgetctl/render.js';
import { Logger } from '../src/gadget/logger.js';
import type { Sink } from '../src/operators/cli/operator.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : def;
}

type Setup = 'grpc-decode' | 'js-json' | 'native-json' | 'js-columns' | 'native-columns';
const SETUPS: Setup[] = ['grpc-decode', 'js-json', 'native-json', 'js-columns', 'native-columns'];

/** One replay of every message; returns CPU seconds of this process. */
async function replay(cap: Capture, setup: Setup, nullFd: number): Promise<{ cpuS: number; native: number; js: number }> {
  const deser = serviceOf('GadgetManager').service['RunGadget']!.responseDeserialize as (b: Buffer) => ApiGadgetEvent;
  const sink: Sink = { write: (s) => { writeSync(nullFd, typeof s === 'string' ? Buffer.from(s) : s); }, isTTY: false };
  const mode = setup.endsWith('columns') ? 'columns' : 'json';
  const r = new RemoteRenderer(new Map([['operator.cli.output', mode]]), new Logger('warn'), sink, setup.startsWith('native'));
  const dec = new PacketDecoder({ onDataSource: (ds) => { pendingSetup = r.setup(cap.info, [ds]); } });
  let pendingSetup: Promise<void> | undefined;
  // The first message carries the field table: set up (async) before timing the rest.
  const first = deser(cap.messages[0]!);
  for (const d of dec.decode(first.payload)) { await pendingSetup; r.onBatch(d.ds, d.batch); }
  await pendingSetup;
  const raw = setup.startsWith('native') ? r.onFrame.bind(r) : undefined;
  const t0 = process.cpuUsage();
  for (let k = 1; k < cap.messages.length; k++) {
    const ev = deser(cap.messages[k]!);
    if (setup === 'grpc-decode') continue;
    for (const d of dec.decode(ev.payload, raw)) r.onBatch(d.ds, d.batch);
  }
  const t = process.cpuUsage(t0);
  const { native, js } = r.frameStats;
  await r.stop();
  return { cpuS: (t.user + t.system) / 1e6, native, js };
}

async function main(): Promise<void> {
  const events = Number(arg('events', '200000'));
  const rounds = Number(arg('rounds', '5'));
  // --save FILE keeps the capture, --load FILE replays one (same batches for A/B runs and profiles).
  const load = arg('load', '');
  const cap: Capture = load ? fromFile(load) : await capture(events);
  const save = arg('save', '');
  if (save) toFile(save, cap);
  const only = arg('only', '');
  const setups = only ? SETUPS.filter((s) => only.split(',').includes(s)) : SETUPS;
  const perMsg = cap.events / cap.messages.length;
  process.stderr.write(`captured ${int(cap.events)} events in ${cap.messages.length} messages (${fix(perMsg, 1)} per message)\n`);
  const nullFd = openSync('/dev/null', 'w');
  const us: Record<Setup, number[]> = { 'grpc-decode': [], 'js-json': [], 'native-json': [], 'js-columns': [], 'native-columns': [] };
  const firstEvents = cap.events - (cap.messages.length ? cap.events / cap.messages.length : 0);
  try {
    for (let round = 1; round <= rounds; round++) {
      for (const s of setups) {
        const r = await replay(cap, s, nullFd);
        if (s.startsWith('native') && r.native === 0) throw new Error(`${s}: nothing was rendered natively`);
        if (round === 1 && s.startsWith('native')) process.stderr.write(`${s}: ${int(r.native)} records rendered natively, ${int(r.js)} handed to JS\n`);
        us[s].push((r.cpuS * 1e6) / firstEvents);
      }
      process.stderr.write(`round ${round}: ${setups.map((s) => `${s} ${fix(us[s].at(-1)!, 3)}`).join(', ')} µs/event\n`);
    }
  } finally { closeSync(nullFd); }
  const rows = setups.map((s) => [s, fix(median(us[s]), 3), s === 'grpc-decode' || !us[s.replace('native', 'js') as Setup].length ? '-' : `${fix(median(us[s.replace('native', 'js') as Setup]) / median(us[s]), 1)}x`]);
  const text = `${markdownTable(['client path', 'CPU µs/event (median)', 'vs JS path'], rows)}\n\n`
    + `${int(cap.events)} trace_open events in ${cap.messages.length} messages (${fix(perMsg, 1)} events/message), ${rounds} rounds; `
    + `${cpus().length} CPUs; load average at the end ${loadavg().map((x) => fix(x, 1)).join(' ')}\n`;
  process.stdout.write(text);
  const json = arg('json', join(ROOT, 'bench', 'results', `gadgetctl-render-${new Date().toISOString().slice(0, 10)}.json`));
  mkdirSync(dirname(json), { recursive: true });
  writeFileSync(json, JSON.stringify({ events: cap.events, messages: cap.messages.length, rounds, us, loadavg: loadavg() }, null, 2) + '\n');
}

main().catch((e: unknown) => {
  process.stderr.write(`bench: ${(e as Error).stack ?? String(e)}\n`);
  void stopAll().then(() => process.exit(1));
});
