// A real trace_open storm through a real `ig daemon`, captured as the GadgetEvent messages of the batch form (the
// bytes gadgetctl receives), for the client-side benchmarks (gadgetctl-render, gadgetctl-stream): the client's
// cost measured on real batches without the daemon in the loop. Save/load keep one capture for A/B runs.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { start, stop, stopAll, waitLine, sleep } from './child.js';
import { GadgetClient } from '../../src/service/client.js';
import { encodeMessage, type ApiGadgetEvent, type ApiGadgetInfo } from '../../src/service/proto.js';
import { EventType } from '../../src/service/consts.js';
import { PacketEncoder } from '../../src/datasource/codec.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const IG_MAIN = join(ROOT, 'dist', 'src', 'cli', 'main.js');
const LOADGEN_C = join(ROOT, 'bench', 'loadgen.c');

export interface Capture { info: ApiGadgetInfo; messages: Buffer[]; events: number }

/** Batches of a real trace_open storm through a real daemon, as the GadgetEvent messages of the batch form. */
export async function capture(events: number): Promise<Capture> {
  const tmp = mkdtempSync(join(tmpdir(), 'ig-bench-ctlrender-'));
  const loadgen = join(tmp, 'loadgen');
  execFileSync('gcc', ['-O2', '-o', loadgen, LOADGEN_C], { stdio: 'inherit' });
  const sock = join(tmp, 'ig.sock');
  const daemon = start('ig daemon', process.execPath, [IG_MAIN, 'daemon', '-H', `unix://${sock}`, '--instances-dir', join(tmp, 'gadgets')], { stdout: 'ignore', stderr: 'inherit' });
  const client = new GadgetClient({ address: `unix://${sock}` });
  try {
    for (let t = 0; !existsSync(sock); t++) { if (t > 400 || daemon.exit) throw new Error('ig daemon did not start'); await sleep(50); }
    const info0 = await client.getGadgetInfo('trace_open');
    const key = (k: string) => { const p = info0.params.find((x) => x.key === k)!; return `${p.prefix}${p.key}`; };
    const go = join(tmp, 'go');
    const gen = start('loadgen', loadgen, ['storm', String(events), go], { stdout: 'pipe', stderr: 'inherit' });
    await waitLine(gen, /^ready/, 10000);
    const enc = new PacketEncoder();
    const messages: Buffer[] = [];
    let info: ApiGadgetInfo | undefined;
    let got = 0;
    let seq = 0;
    const h = client.run({ imageName: 'trace_open', paramValues: { [key('host')]: 'true', [key('comm')]: 'igb_storm' } }, {
      onInfo: (i) => { info = i; writeFileSync(go, ''); },
      onDataSources: () => undefined,
      onBatch: (_ds, b) => {
        got += b.liveCount;
        const ev: ApiGadgetEvent = { type: EventType.GadgetBatch, seq: ++seq, payload: enc.encode(b), dataSourceID: 0 };
        messages.push(encodeMessage('GadgetEvent', ev));
      },
      onLog: () => undefined,
      onLost: () => undefined,
    });
    const deadline = Date.now() + 120000;
    while (got < events * 0.9 && Date.now() < deadline) await sleep(100);
    h.stop();
    await h.done.catch(() => undefined); // stopped on purpose
    if (!info) throw new Error('no gadget information received');
    return { info, messages, events: got };
  } finally {
    client.close();
    await stop(daemon, 'SIGTERM');
    await stopAll();
    rmSync(tmp, { recursive: true, force: true });
  }
}

export function fromFile(file: string): Capture {
  const j = JSON.parse(readFileSync(file, 'utf8')) as { info: ApiGadgetInfo; events: number; messages: string[] };
  // Buffers inside the info (metadata) come back from JSON as {type, data}.
  const meta = j.info.metadata as unknown as { data?: number[] };
  if (meta && Array.isArray(meta.data)) j.info.metadata = Buffer.from(meta.data);
  return { info: j.info, events: j.events, messages: j.messages.map((m) => Buffer.from(m, 'base64')) };
}

/** Keep a capture (--save) for later runs (--load). */
export function toFile(file: string, cap: Capture): void {
  writeFileSync(file, JSON.stringify({ info: cap.info, events: cap.events, messages: cap.messages.map((m) => m.toString('base64')) }));
}
