// A recording opened for replay: its header, image, params and the host facts stated before the first batch are
// read at once (the operators need them while they are set up); `feed()` delivers the rest in order to the
// replaying image operator (src/gadget/recording.ts's ReplayFeed), applying facts to `facts` on the way.
import { setImmediate as yieldToLoop, setTimeout as sleep } from 'node:timers/promises';
import type { GadgetImageInfo, ImageLayer } from '../gadget/context.js';
import { HostFacts } from '../gadget/host-facts.js';
import type { ReplayFeed, ReplaySink } from '../gadget/recording.js';
import { EntryType, RecordingError, entryCut, entryOverrun, parseEntry, type Entry, type RecordingHeader } from './format.js';
import { NativeReplayLoop, ReplayStep } from '../bpf/replay-loop.js';
import { RecordingReader } from './reader.js';

const MT_EBPF = 'application/vnd.gadget.ebpf.program.v1+binary';
const MT_WASM = 'application/vnd.gadget.wasm.program.v1+binary';
/** As fast as possible still lets the event loop run (signals, stdout) this often. */
const YIELD_MS = 20;

export interface FeedOptions {
  /** 0: as fast as possible; 1: as recorded; 2: twice as fast … */
  speed?: number;
}

export interface Recording {
  readonly path: string;
  readonly header: RecordingHeader;
  /** The recorded image, as `prepareGadgetFromImage` takes it. */
  readonly image: GadgetImageInfo & { metadata: Buffer | null; layers: ImageLayer[] };
  /** The recorded run's param values that were set (full keys). */
  readonly params: Record<string, string>;
  /** Replay-mode host facts: those stated before the first batch now, the rest as the feed reaches them. */
  readonly facts: HostFacts;
  /** The rest of the recording in order (one feed per opened recording). */
  feed(opts?: FeedOptions): ReplayFeed;
  close(): void;
}

export function openRecording(path: string): Recording {
  const reader = new RecordingReader(path);
  try {
    return open(reader);
  } catch (e) {
    reader.close();
    throw e;
  }
}

function open(reader: RecordingReader): Recording {
  let it = reader.entries();
  const facts = HostFacts.replay();
  const dsNames = new Map<number, string>();
  let header: RecordingHeader | undefined;
  let metadata: Buffer | null = null;
  const layers: ImageLayer[] = [];
  let params: Record<string, string> = {};
  let first: Entry | undefined;
  for (let r = it.next(); !r.done; r = it.next()) {
    const e = r.value;
    if (e.type === EntryType.Header) header = e.header;
    else if (e.type === EntryType.Blob) {
      if (e.role === 'metadata') metadata = e.data;
      else layers.push({ mediaType: e.mediaType, digest: e.digest, data: e.data });
    } else if (e.type === EntryType.Params) params = e.params;
    else if (e.type === EntryType.DataSource) dsNames.set(e.id, e.name);
    else if (e.type === EntryType.Fact) facts.set(e.kind, e.key, e.value);
    else { first = e; break; }
  }
  if (!header) throw new RecordingError(reader.stopped ?? `recording ${reader.path}: no header entry`);
  const image = {
    reference: header.image.reference, digest: header.image.digest, annotations: header.image.annotations ?? {},
    metadata, layers,
    ebpf: layers.find((l) => l.mediaType === MT_EBPF)?.data ?? null,
    wasm: layers.find((l) => l.mediaType === MT_WASM)?.data ?? null,
  };
  let used = false;
  return {
    path: reader.path, header, image, params, facts,
    close: () => reader.close(),
    feed(opts: FeedOptions = {}): ReplayFeed {
      if (used) throw new Error(`recording ${reader.path}: already replayed (open it again)`);
      used = true;
      const speed = opts.speed ?? 0;
      const feed: ReplayFeed & { stopped?: string } = {
        stopped: undefined,
        async run(sink: ReplaySink, signal: AbortSignal): Promise<void> {
          const t0 = performance.now();
          let lastYield = t0;
          const name = (id: number) => dsNames.get(id) ?? `#${id}`;
          const handle = (e: Entry) => {
            switch (e.type) {
              case EntryType.Batch: sink.batch(name(e.ds), e.raw, e.count, e.layout); break;
              case EntryType.Fact: facts.set(e.kind, e.key, e.value); break;
              case EntryType.Lost: sink.lost(name(e.ds), e.n, e.cause); break;
              case EntryType.Rows: sink.rows?.(name(e.ds), e.table); break;
              case EntryType.DataSource: dsNames.set(e.id, e.name); break;
              default: break;
            }
          };
          // The entries of JS's reader, from `e` on.
          const viaJs = async (e: Entry | undefined) => {
            for (; e !== undefined && !signal.aborted; e = next()) {
              const hold = sink.hold?.();
              if (hold) { await hold; lastYield = performance.now(); if (signal.aborted) break; }
              if (speed > 0 && 't' in e) {
                const wait = t0 + e.t / speed - performance.now();
                if (wait > 1) { await sleep(wait, undefined, { signal }).catch(() => undefined); lastYield = performance.now(); if (signal.aborted) break; }
              } else if (performance.now() - lastYield > YIELD_MS) {
                await yieldToLoop();
                lastYield = performance.now();
                if (signal.aborted) break;
              }
              handle(e);
            }
          };
          // As fast as possible into a render plan: the native loop takes over after the chunk JS is in (the
          // header's), and hands back to JS's reader where it stops (end of file, damage, another codec).
          // IG_NATIVE_REPLAY=0 keeps every chunk on the JS path (one plan call per batch).
          const routes = speed === 0 && reader.version >= 2 && process.env['IG_NATIVE_REPLAY'] !== '0' ? sink.native : undefined;
          const viaNative = async (): Promise<boolean> => {
            const loop = new NativeReplayLoop(reader.descriptor, reader.position, reader.fileSize, reader.version, reader.chunks);
            const st = loop.state;
            const routeDs = (id: number) => { const r = routes!.route(name(id)); if (r) loop.route(id, r.plan, r.fd); };
            try {
              for (const id of dsNames.keys()) routeDs(id);
              while (!signal.aborted) {
                const hold = sink.hold?.();
                if (hold) { await hold; lastYield = performance.now(); continue; }
                const b = loop.step(Math.max(1, YIELD_MS - (performance.now() - lastYield)));
                switch (st[0] as ReplayStep) {
                  case ReplayStep.Entry: {
                    let e: Entry;
                    try { e = parseEntry(st[1]!, b!, st[2]!); } catch (err) {
                      if (!(err instanceof RecordingError)) throw err;
                      reader.damaged(st[3]!, st[4]! - 1, err.message);
                      return false;
                    }
                    handle(e);
                    if (e.type === EntryType.DataSource) routeDs(e.id);
                    if (e.type === EntryType.End) { reader.ended = true; return false; }
                    break;
                  }
                  case ReplayStep.Miss: routes!.miss(name(st[1]!), b!, st[2]!); break;
                  case ReplayStep.Refresh: routes!.refresh(name(st[1]!), b!); break;
                  case ReplayStep.Failed: routes!.failed(name(st[1]!), st[2]!); return false;
                  case ReplayStep.Damage:
                    reader.damaged(st[4]!, st[5]! - 1, st[2]! < 0 ? entryCut(st[1]!) : entryOverrun(st[1]!, st[2]!, st[3]!));
                    return false;
                  case ReplayStep.Stop: reader.resumeAt(st[1]!, st[2]!); return true;
                  default: break; // Yield
                }
                if (performance.now() - lastYield > YIELD_MS) { await yieldToLoop(); lastYield = performance.now(); }
              }
              return false;
            } finally {
              loop.close();
            }
          };
          try {
            if (routes) reader.pauseAtChunk = true;
            await viaJs(first);
            if (routes && !signal.aborted && !reader.ended && !reader.stopped && await viaNative() && !signal.aborted) {
              it = reader.entries();
              await viaJs(next());
            }
          } finally {
            feed.stopped = reader.stopped;
            reader.close();
          }
        },
      };
      const next = (): Entry | undefined => { const r = it.next(); return r.done ? undefined : r.value; };
      return feed;
    },
  };
}

export interface RecordingInfo {
  path: string;
  header: RecordingHeader;
  bytes: number;
  chunks: number;
  /** ms from the first to the last entry. */
  durationMs: number;
  dataSources: { name: string; batches: number; records: number; lost: number }[];
  containers: { name: string; id: string; runtime: string }[];
  facts: Record<string, number>;
  params: Record<string, string>;
  /** The end reason, when the recording was closed. */
  end?: string;
  stopped?: string;
}

/** Reads a whole recording for `ig replay --info`. */
export function recordingInfo(path: string): RecordingInfo {
  const reader = new RecordingReader(path);
  try {
    let header: RecordingHeader | undefined;
    const names = new Map<number, string>();
    const per = new Map<string, { name: string; batches: number; records: number; lost: number }>();
    const ds = (id: number) => {
      const n = names.get(id) ?? `#${id}`;
      let x = per.get(n);
      if (!x) { x = { name: n, batches: 0, records: 0, lost: 0 }; per.set(n, x); }
      return x;
    };
    const containers = new Map<string, { name: string; id: string; runtime: string }>();
    const facts: Record<string, number> = {};
    let params: Record<string, string> = {};
    let last = 0;
    let end: string | undefined;
    for (const e of reader.entries()) {
      if ('t' in e) last = Math.max(last, e.t);
      switch (e.type) {
        case EntryType.Header: header ??= e.header; break;
        case EntryType.Params: params = e.params; break;
        case EntryType.DataSource: names.set(e.id, e.name); break;
        case EntryType.Batch: { const x = ds(e.ds); x.batches++; x.records += e.count; break; }
        case EntryType.Rows: { const x = ds(e.ds); x.batches++; x.records += e.table.rows.length; break; }
        case EntryType.Lost: ds(e.ds).lost += e.n; break;
        case EntryType.End: end = e.reason; break;
        case EntryType.Fact: {
          facts[e.kind] = (facts[e.kind] ?? 0) + 1;
          const c = e.value as { name?: string; id?: string; runtime?: string } | null;
          if (c && typeof c === 'object' && typeof c.id === 'string' && c.id && (e.kind.startsWith('container'))) {
            containers.set(`${c.runtime}/${c.id}`, { name: String(c.name ?? ''), id: c.id, runtime: String(c.runtime ?? '') });
          }
          break;
        }
        default: break;
      }
    }
    if (!header) throw new RecordingError(reader.stopped ?? `recording ${path}: no header entry`);
    return {
      path, header, bytes: reader.fileSize, chunks: reader.chunks, durationMs: last, dataSources: [...per.values()],
      containers: [...containers.values()], facts, params, end, stopped: reader.stopped,
    };
  } finally {
    reader.close();
  }
}
