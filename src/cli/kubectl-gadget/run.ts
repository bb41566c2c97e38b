// `kubectl gadget run IMAGE` / `attach NAME|ID`: the gadgetctl flags, run on every selected node at once, one merged
// output with a k8s.node column. A node that fails (daemon gone, pod deleted, tunnel refused) is said once on stderr
// and the others go on; `attach` keeps trying a failed node and picks it up again when its daemon is back.
import { randomBytes } from 'node:crypto';
import type { KubeConfig } from '@kubernetes/client-node';
import { Logger } from '../../gadget/logger.js';
import { ParamSet } from '../../gadget/params.js';
import { LogLevel } from '../../service/consts.js';
import type { RunHandle } from '../../service/client.js';
import type { ApiGadgetInfo, ApiGadgetInstance } from '../../service/proto.js';
import type { Batch, DataSource } from '../../datasource/index.js';
import { addParamOptions } from '../param-flags.js';
import { UsageError } from '../errors.js';
import { RemoteRenderer, remoteParams } from '../gadgetctl/render.js';
import { collect, firstArg, LEVEL_NAMES, parseOrHelp, skeleton, splitTags, timeoutMs } from '../gadgetctl/run.js';
import { listGadgetPods, type GadgetTarget } from '../../kube/gadget-pods.js';
import { NodeConn, onEveryNode } from './nodes.js';
import { StreamMerger } from './merge.js';

export interface ClusterContext {
  kc: KubeConfig;
  namespace: string;
  conns: NodeConn[];
  /** Nodes the user named (--node): only those are retried and re-discovered. */
  nodes: string[];
}

const say = (s: string) => process.stderr.write(s);

/** The instance `key` (name, ID or ID prefix) on each node that has it. */
async function findOnNodes(cc: ClusterContext, key: string): Promise<{ id: string; on: NodeConn[]; failed: { node: string; error: string }[] }> {
  const res = await onEveryNode(cc.conns, (c) => c.listInstances());
  const failed = res.filter((r) => !r.ok).map((r) => ({ node: r.node, error: (r as { error: string }).error }));
  const ids = new Set<string>();
  const on: NodeConn[] = [];
  res.forEach((r, k) => {
    if (!r.ok) return;
    const exact = r.value.filter((i) => i.id === key || i.name === key);
    const hits = exact.length > 0 ? exact : r.value.filter((i) => i.id.startsWith(key));
    for (const h of hits) ids.add(h.id);
    if (hits.length > 0) on.push(cc.conns[k]!);
  });
  if (ids.size > 1) throw new UsageError(`gadget instance name or ID "${key}" is ambiguous (${[...ids].map((i) => i.slice(0, 12)).join(', ')})`);
  if (ids.size === 0) {
    const why = failed.length ? ` (unreachable: ${failed.map((f) => `${f.node}: ${f.error}`).join('; ')})` : '';
    throw new UsageError(`gadget instance "${key}" not found on any node${why}`);
  }
  return { id: [...ids][0]!, on, failed };
}

/** GadgetInfo from the first node that answers (all nodes run the same image). */
async function gadgetInfo(cc: ClusterContext, ref: string, useInstance: boolean, conns: NodeConn[]): Promise<ApiGadgetInfo> {
  const errors: string[] = [];
  for (const conn of conns) {
    try {
      return await (await conn.client()).getGadgetInfo(ref, {}, useInstance);
    } catch (e) {
      const why = conn.explain(e);
      // A bad image or param is the same on every node: no need to ask the others.
      if (!/cannot reach|port-forward|not found in namespace|forbidden|unauthorized|Connection dropped|No connection established/i.test(why)) throw new UsageError(why);
      errors.push(`${conn.node}: ${why}`);
    }
  }
  throw new UsageError(`no node answered: ${errors.join('; ')}`);
}

export async function runCluster(cc: ClusterContext, args: string[], mode: 'run' | 'attach'): Promise<number> {
  const verbose = args.includes('-v') || args.includes('--verbose');
  const log = new Logger(verbose ? 'debug' : 'warn');
  const target = firstArg(args);
  const wantsHelp = args.includes('-h') || args.includes('--help');
  if (!target) {
    if (wantsHelp) { process.stdout.write(skeleton(mode, mode === 'run' ? 'IMAGE [flags]' : 'NAME|ID [flags]').helpInformation()); return 0; }
    throw new UsageError(mode === 'run' ? 'kubectl gadget run needs a gadget image, e.g. kubectl gadget run trace_exec' : 'kubectl gadget attach needs the name or ID of a gadget instance');
  }
  if (args.includes('-f') || args.includes('--file') || args.some((a) => a.startsWith('--file='))) throw new UsageError('kubectl gadget run -f is not supported: run each gadget with its image and flags');
  let id: string | undefined;
  let conns = cc.conns;
  if (mode === 'attach') {
    const found = await findOnNodes(cc, target);
    id = found.id;
    for (const f of found.failed) say(`WARN: node ${f.node}: ${f.error}\n`);
    conns = found.on;
  }
  const info = await gadgetInfo(cc, id ?? target, mode === 'attach', conns);
  const { server, client: clientParams } = await remoteParams(info, log);
  const cmd = skeleton(mode, `${target} [flags]`).description(`${mode === 'run' ? 'Run' : 'Attach to'} ${info.name} on every node (--node to choose)`);
  const all = mode === 'run' ? [...server, ...clientParams] : clientParams;
  const byAttr = addParamOptions(cmd, all, log);
  if (!parseOrHelp(cmd, args)) return 0;
  if (cmd.args.length > 1) throw new UsageError(`unexpected argument "${cmd.args[1]}" after ${mode === 'run' ? 'the image' : 'the instance'}`);
  const check = new ParamSet();
  for (const p of all) check.add(p);
  const values = collect(cmd, byAttr, check);
  const o = cmd.opts();
  const tmo = timeoutMs(String(o['timeout']));
  if (mode === 'run' && o['detach']) {
    // One ID on every node, so that attach, list and delete see one instance of the cluster.
    const instId = (o['id'] as string | undefined) ?? randomBytes(16).toString('hex');
    const res = await onEveryNode(cc.conns, (c) => c.createInstance({
      id: instId, name: (o['name'] as string | undefined) ?? '', tags: splitTags(o['tags'] as string | undefined), nodes: [],
      gadgetConfig: { imageName: target, paramValues: values.server, version: 1, timeout: String(BigInt(Math.round(tmo)) * 1000000n) },
    }));
    const bad = res.filter((r) => !r.ok);
    for (const r of bad) say(`ERROR: node ${r.node}: ${(r as { error: string }).error}\n`);
    if (bad.length === res.length) return 1;
    process.stdout.write(`${instId}\n`);
    return bad.length ? 1 : 0;
  }
  for (const k of ['name', 'tags', 'id']) if (o[k] !== undefined) throw new UsageError(`--${k} needs --detach`);
  const req = id ? { attachId: id } : { imageName: target, paramValues: values.server, timeoutMs: tmo, logLevel: verbose ? LogLevel.Debug : LogLevel.Warn };
  return streamCluster(cc, conns, req, values, log, { retry: mode === 'attach', instanceKey: id, timeoutMs: mode === 'attach' ? tmo : 0, info });
}

interface StreamOptions {
  /** Keep trying failed nodes (attach): a node whose daemon is back is attached again. */
  retry: boolean;
  instanceKey?: string;
  /** Client-side end (attach has no server-side timeout). */
  timeoutMs: number;
  info: ApiGadgetInfo;
}

const RETRY_MS = 1000;

async function streamCluster(cc: ClusterContext, conns: NodeConn[], req: Parameters<import('../../service/client.js').GadgetClient['run']>[0], values: { server: Record<string, string>; client: Map<string, string> }, log: Logger, so: StreamOptions): Promise<number> {
  const renderer = new RemoteRenderer(values.client, log);
  const live = new Set<string>();
  const handles = new Map<string, RunHandle>();
  const retryTimers = new Set<NodeJS.Timeout>();
  let pending: Promise<void> = Promise.resolve();
  let ready = false;
  let info: ApiGadgetInfo = so.info;
  let stopping = false;
  let succeeded = 0;
  let lostTotal = 0;
  const merger = new StreamMerger({
    sort: values.server['operator.sort.sort'],
    maxEntries: values.server['operator.limiter.max-entries'],
    liveNodes: () => live,
    emit: (ds, b) => ds.emit(b),
    warn: (m) => say(`WARN: ${m}\n`),
  });
  const onBatch = (node: string, ds: DataSource, b: Batch) => {
    if (ready) merger.push(node, ds, b);
    else pending = pending.then(() => merger.push(node, ds, b));
  };
  let finish!: () => void;
  const allDone = new Promise<void>((r) => { finish = r; });
  const settle = () => { if (live.size === 0 && (retryTimers.size === 0 || stopping)) finish(); };

  const start = async (conn: NodeConn, again: boolean): Promise<void> => {
    const node = conn.node;
    let client;
    try { client = await conn.client(); } catch (e) { fail(conn, conn.explain(e), again); return; }
    live.add(node);
    const h = client.run(req, {
      onInfo: (i) => { info = i; },
      onDataSources: (dss) => {
        if (!merger.announce(node, dss)) return;
        ready = false;
        pending = pending.then(() => renderer.setup(info, merger.dataSources())).then(() => { ready = true; }, (e) => { log.error((e as Error).message); stopAll(); });
      },
      onBatch: (ds, b) => onBatch(node, ds, b),
      onLog: (level, msg) => { if (level <= LogLevel.Warn || log.enabled(level >= LogLevel.Debug ? 'debug' : 'info')) say(`${LEVEL_NAMES[level] ?? 'INFO'}: node ${node}: ${msg}\n`); },
      onLost: (n) => { lostTotal += n; say(`WARN: node ${node}: lost ${n} events (this client read too slowly; ${lostTotal} in total)\n`); },
    });
    handles.set(node, h);
    if (again) say(`INFO: node ${node}: attached again\n`);
    // Batches still queued behind the output's setup go first; then the node leaves the rounds it was awaited in.
    const gone = () => { pending = pending.then(() => merger.nodeGone()); };
    h.done.then(() => {
      handles.delete(node);
      live.delete(node);
      gone();
      succeeded++;
      settle();
    }, (e: unknown) => {
      handles.delete(node);
      live.delete(node);
      gone();
      fail(conn, conn.explain(e), false);
    });
  };

  /** Said once per loss: a node that keeps failing while being retried is not said again until it was back. */
  const fail = (conn: NodeConn, why: string, retrying: boolean) => {
    if (!retrying) { say(`ERROR: node ${conn.node}: ${why}${so.retry && !stopping ? ' (will attach again when it is back)' : ''}\n`); }
    if (so.retry && !stopping) scheduleRetry(conn);
    else settle();
  };

  const scheduleRetry = (conn: NodeConn) => {
    const t = setTimeout(async () => {
      retryTimers.delete(t);
      if (stopping) { settle(); return; }
      try {
        // The node's gadget pod may have been replaced (new name): look it up again.
        const pods = await listGadgetPods(cc.kc, cc.namespace);
        const p: GadgetTarget | undefined = pods.find((x) => x.node === conn.node);
        if (p && p.pod !== conn.target.pod) await conn.retarget(p);
        else await conn.close();
        if (!p) { scheduleRetry(conn); return; }
        const c = await conn.client();
        const insts: ApiGadgetInstance[] = await c.listInstances();
        if (!insts.some((i) => i.id === so.instanceKey)) { scheduleRetry(conn); return; }
        if (stopping) { settle(); return; }
        await start(conn, true);
      } catch {
        // Still gone (tunnel refused, daemon not listening yet): try again after the next pause.
        if (!stopping) scheduleRetry(conn); else settle();
      }
    }, RETRY_MS);
    retryTimers.add(t);
  };

  const stopAll = () => {
    if (stopping) return;
    stopping = true;
    for (const t of retryTimers) clearTimeout(t);
    retryTimers.clear();
    for (const h of handles.values()) h.stop();
    settle();
  };
  process.on('SIGINT', stopAll);
  process.on('SIGTERM', stopAll);
  process.stdout.on('error', (e: NodeJS.ErrnoException) => { if (e.code === 'EPIPE') stopAll(); });
  const timer = so.timeoutMs > 0 ? setTimeout(stopAll, so.timeoutMs) : undefined;
  try {
    await Promise.all(conns.map((c) => start(c, false)));
    settle();
    await allDone;
    await pending;
    merger.drain();
  } finally {
    if (timer) clearTimeout(timer);
    process.off('SIGINT', stopAll);
    process.off('SIGTERM', stopAll);
    for (const t of retryTimers) clearTimeout(t);
    await renderer.stop();
  }
  // Some node streamed to its end: the run happened (the failures were said). None did: it failed.
  return succeeded > 0 ? 0 : 1;
}
