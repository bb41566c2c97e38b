/**
 * `ig list-containers [-w/--watch] [-o columns|json]`: list (and follow) the containers of every reachable
 * runtime. See docs/containers.md.
 */
import type { Command } from 'commander';
import {
  ContainerCollection, DEFAULT_CONTAINERD_NAMESPACE, containerToJSON, parseRuntimes, RUNTIME_NAMES,
  type CollectionOptions, type Container, type RuntimeName,
} from '../containers/index.js';

export interface ListContainersOptions {
  watch?: boolean;
  output?: string;
  /** comma-separated runtime list; undefined = all (absent sockets silently skipped) */
  runtimes?: string;
  containerdSocketpath?: string;
  dockerSocketpath?: string;
  podmanSocketpath?: string;
  crioSocketpath?: string;
  containerdNamespace?: string;
  /** `-c`: comma list of container names, `!name` excludes */
  containername?: string;
}

export interface ListContainersIO {
  out: (s: string) => void;
  err: (s: string) => void;
  /** ends --watch */
  signal?: AbortSignal;
  /** test hook: extra collection options (poll intervals, …) */
  collection?: Partial<CollectionOptions>;
}

/** `width`: minimum width (never narrower than the header); `fixed`: values are cut to `width` characters. */
interface Column { header: string; get: (c: Container) => string; width?: number; fixed?: boolean }

function shortImage(name: string): string {
  // like upstream: an image shown by id is truncated to 12 hex digits
  if (name.includes('sha256')) return name.replace(/^sha256:/, '').slice(0, 12);
  return name;
}

const BASE_COLUMNS: Column[] = [
  { header: 'RUNTIME.RUNTIMENAME', get: (c) => c.runtime, width: 19, fixed: true },
  { header: 'RUNTIME.CONTAINERID', get: (c) => c.id, width: 13, fixed: true },
  { header: 'RUNTIME.CONTAINERNAME', get: (c) => c.name, width: 24 },
  { header: 'RUNTIME.CONTAINERIMAGENAME', get: (c) => shortImage(c.imageName), width: 30 },
  { header: 'RUNTIME.CONTAINERPID', get: (c) => String(c.pid), width: 10 },
  { header: 'MNTNS', get: (c) => String(c.mntns), width: 10 },
  { header: 'NETNS', get: (c) => String(c.netns), width: 10 },
];

const K8S_COLUMNS: Column[] = [
  { header: 'K8S.NAMESPACE', get: (c) => c.k8s.namespace, width: 16 },
  { header: 'K8S.PODNAME', get: (c) => c.k8s.podName, width: 24 },
  { header: 'K8S.CONTAINERNAME', get: (c) => c.k8s.containerName, width: 20 },
];

function pad(s: string, w: number): string {
  if (s.length > w) return w > 1 ? s.slice(0, w - 1) + '…' : s.slice(0, w);
  return s.padEnd(w);
}

function cell(col: Column, c: Container): string {
  const v = col.get(c);
  return col.fixed && col.width !== undefined ? v.slice(0, col.width) : v;
}

function renderRow(cols: Column[], widths: number[], cells: string[]): string {
  return cols.map((_, i) => (i === cols.length - 1 ? cells[i]! : pad(cells[i]!, widths[i]!))).join(' ').trimEnd();
}

/** Compare by runtime name, then container name (upstream's sort). */
export function compareContainers(a: Container, b: Container): number {
  return a.runtime.localeCompare(b.runtime) || a.name.localeCompare(b.name) || a.id.localeCompare(b.id);
}

/** `-c` matcher: positive names (any of) and `!`-negated names (none of). */
function nameFilter(spec: string | undefined): (c: Container) => boolean {
  const parts = (spec ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  if (parts.length === 0) return () => true;
  const include = parts.filter((p) => !p.startsWith('!'));
  const exclude = parts.filter((p) => p.startsWith('!')).map((p) => p.slice(1));
  return (c) => (include.length === 0 || include.includes(c.name)) && !exclude.includes(c.name);
}

/** Format containers as an aligned table (widths fitted to the content). */
export function formatTable(containers: Container[]): string {
  const cols = [...BASE_COLUMNS, ...(containers.some((c) => c.k8s.namespace || c.k8s.podName) ? K8S_COLUMNS : [])];
  const rows = containers.map((c) => cols.map((col) => cell(col, c)));
  const widths = cols.map((col, i) => Math.max(col.header.length, col.fixed ? col.width! : 0, ...rows.map((r) => r[i]!.length)));
  const lines = [renderRow(cols, widths, cols.map((c) => c.header)), ...rows.map((r) => renderRow(cols, widths, r))];
  return lines.join('\n') + '\n';
}

function collectionOptions(opts: ListContainersOptions, io: ListContainersIO): CollectionOptions {
  const runtimes = opts.runtimes === undefined ? undefined : parseRuntimes([opts.runtimes]);
  if (runtimes && runtimes.length === 0) throw new Error('--runtimes: no runtime given');
  return {
    runtimes,
    explicitRuntimes: opts.runtimes !== undefined,
    containerdSocket: opts.containerdSocketpath,
    dockerSocket: opts.dockerSocketpath,
    podmanSocket: opts.podmanSocketpath,
    crioSocket: opts.crioSocketpath,
    containerdNamespace: opts.containerdNamespace || DEFAULT_CONTAINERD_NAMESPACE,
    warn: (m) => io.err(`WARN: ${m}\n`),
    ...io.collection,
  };
}

/** "Runtimes reached: containerd (namespace k8s.io), podman; not reached: docker, cri-o (no socket or no answer)" */
export function reachedLine(col: ContainerCollection, asked: readonly RuntimeName[]): string {
  const connected = col.connectedRuntimes();
  const reached = [...asked.filter((r) => connected.includes(r)), ...connected.filter((r) => !asked.includes(r))];
  const name = (r: RuntimeName) => (r === 'containerd' ? `containerd (namespace ${col.containerdNamespace})` : r);
  const missed = asked.filter((r) => !reached.includes(r));
  return `Runtimes reached: ${reached.length ? reached.map(name).join(', ') : 'none'}${missed.length ? `; not reached: ${missed.join(', ')} (no socket or no answer)` : ''}`;
}

/** Run the command; resolves with the process exit code. Errors are reported as one line on `io.err`. */
export async function runListContainers(opts: ListContainersOptions, io: ListContainersIO): Promise<number> {
  let col: ContainerCollection | undefined;
  try {
    const output = opts.output ?? 'columns';
    if (output !== 'columns' && output !== 'json') throw new Error(`--output: unsupported mode "${output}" (use columns or json)`);
    const match = nameFilter(opts.containername);
    const copts = collectionOptions(opts, io);
    col = await ContainerCollection.start(copts);
    const current = col.list().filter(match).sort(compareContainers);
    // Columns are for people: say which runtimes were asked and reached (an empty table must not look broken).
    if (output === 'columns') io.err(reachedLine(col, parseRuntimes(copts.runtimes)) + '\n');

    if (!opts.watch) {
      if (output === 'json') io.out(JSON.stringify(current.map(containerToJSON), null, 2) + '\n');
      else io.out(formatTable(current));
      return 0;
    }

    // --watch: the current containers as CREATED events, then every add/remove as it comes
    const cols = [{ header: 'EVENT', get: () => '', width: 8, fixed: true } as Column, ...BASE_COLUMNS, ...K8S_COLUMNS];
    const widths = cols.map((c) => Math.max(c.width ?? 0, c.header.length));
    const print = (event: 'CREATED' | 'DELETED', c: Container) => {
      if (output === 'json') {
        io.out(JSON.stringify({ timestamp: new Date().toISOString(), event, container: containerToJSON(c) }) + '\n');
      } else {
        io.out(renderRow(cols, widths, [event, ...cols.slice(1).map((col) => cell(col, c))]) + '\n');
      }
    };
    if (output === 'columns') io.out(renderRow(cols, widths, cols.map((c) => c.header)) + '\n');
    for (const c of current) print('CREATED', c);
    col.on('add', (c: Container) => { if (match(c)) print('CREATED', c); });
    col.on('remove', (c: Container) => { if (match(c)) print('DELETED', c); });
    await new Promise<void>((resolve) => {
      if (!io.signal) return; // runs until the process is interrupted
      if (io.signal.aborted) { resolve(); return; }
      io.signal.addEventListener('abort', () => resolve(), { once: true });
    });
    return 0;
  } catch (e) {
    io.err(`Error: ${(e as Error)?.message ?? String(e)}\n`);
    return 1;
  } finally {
    await col?.stop();
  }
}

/** Register `list-containers` on the ig program. */
export function registerListContainers(program: Command): Command {
  return program
    .command('list-containers')
    .description('List all containers')
    .option('-w, --watch', 'After listing the containers, watch for new containers')
    .option('-o, --output <mode>', 'Output mode: columns or json', 'columns')
    .option('-c, --containername <names>', 'Show only containers with these runtime-assigned names (comma list, !name excludes)')
    .option('-r, --runtimes <list>', `Comma-separated list of container runtimes. Supported values are: ${RUNTIME_NAMES.join(', ')} (default: all)`)
    .option('--containerd-socketpath <path>', 'containerd CRI Unix socket path', '/run/containerd/containerd.sock')
    .option('--docker-socketpath <path>', 'Docker Engine API Unix socket path', '/run/docker.sock')
    .option('--podman-socketpath <path>', 'Podman Unix socket path', '/run/podman/podman.sock')
    .option('--crio-socketpath <path>', 'CRI-O CRI Unix socket path', '/run/crio/crio.sock')
    .option('--containerd-namespace <ns>', 'Namespace used by containerd', DEFAULT_CONTAINERD_NAMESPACE)
    .action(async (opts: ListContainersOptions, cmd: Command) => {
      // a socket path counts as "explicit" (warn when absent) only when given on the command line
      const fromCli = (k: string) => cmd.getOptionValueSource(k) === 'cli';
      const ac = new AbortController();
      const onSig = () => ac.abort();
      process.once('SIGINT', onSig);
      process.once('SIGTERM', onSig);
      try {
        process.exitCode = await runListContainers({
          ...opts,
          containerdSocketpath: fromCli('containerdSocketpath') ? opts.containerdSocketpath : undefined,
          dockerSocketpath: fromCli('dockerSocketpath') ? opts.dockerSocketpath : undefined,
          podmanSocketpath: fromCli('podmanSocketpath') ? opts.podmanSocketpath : undefined,
          crioSocketpath: fromCli('crioSocketpath') ? opts.crioSocketpath : undefined,
        }, {
          out: (s) => { process.stdout.write(s); },
          err: (s) => { process.stderr.write(s); },
          signal: ac.signal,
        });
      } finally {
        process.off('SIGINT', onSig);
        process.off('SIGTERM', onSig);
      }
    });
}
