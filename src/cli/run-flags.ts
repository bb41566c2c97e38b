// The flags `ig run` knows before it has read an image: its own, and those the operators give most gadgets.
// They let flags come before the image (`ig run -o json trace_open`), let `ig run --help` list what to type,
// feed shell completion, and explain why a flag that most gadgets have is not there for this one.

export interface KnownFlag {
  long: string;
  short?: string;
  /** Takes a value (`--flag VALUE`); boolean flags take none (or `--flag=false`). */
  value: boolean;
  description: string;
  /** Why a gadget may not have it ({g} is the gadget's name); undefined: always there. */
  absentReason?: string;
  /** Accepted (and ignored) where the gadget lacks it: asking for the host on a host-wide gadget is no error. */
  harmlessWhenAbsent?: string;
}

const NO_CONTAINERS = '{g} cannot select containers: its events carry no mount namespace (it sees the whole host)';
const NO_ARRAYS = '{g} has no array data source: --sort and --max-entries order and cut the rows of toppers and snapshots (e.g. top_file, snapshot_process), not a stream of events';
const NO_MAP_FETCH = '{g} reads no map periodically: --map-fetch-interval and --map-fetch-count are for toppers and profilers';
const NO_FILTER_H = "{g}'s program does not filter in the kernel by this (it does not declare the gadget/filter.h params); use --filter, e.g. --filter proc.pid==42";

/** `ig run`'s own flags, parsed before the image is read. */
export const RUN_FLAGS: KnownFlag[] = [
  { long: 'timeout', short: 't', value: true, description: 'Stop after this long: seconds (5) or a duration (500ms, 2m); 0: until Ctrl-C' },
  { long: 'verbose', short: 'v', value: false, description: 'Print what ig does (runtimes, containers, programs, output path) and error details' },
  { long: 'pull', value: true, description: 'Pull policy: always, missing or never' },
  { long: 'disallow-pulling', value: false, description: 'Never pull images from a registry' },
  { long: 'verify-image', value: false, description: 'Verify the signature of pulled images (--verify-image=false to skip)' },
  { long: 'public-keys', value: true, description: 'Comma-separated public key files (PEM) to verify image signatures with' },
  { long: 'allowed-gadgets', value: true, description: 'Comma-separated list of allowed gadget images (trailing * for prefixes)' },
  { long: 'insecure-registries', value: true, description: 'Comma-separated registries to access over plain HTTP' },
  { long: 'authfile', value: true, description: 'Path of the registry credentials file' },
  { long: 'wasm-memory-limit', value: true, description: "Largest memory the gadget's WASM module may grow to (e.g. 256MiB)" },
  { long: 'wasm-timeout', value: true, description: "Longest one call into the gadget's WASM module may run (e.g. 5s)" },
  { long: 'annotate', value: true, description: 'Add annotations to data sources or fields: ds:annotation=value or ds.field:annotation=value' },
  { long: 'record', value: true, description: 'Also write the raw records and what interprets them to this file (replay with ig replay FILE)' },
  { long: 'record-max-size', value: true, description: 'With --record: largest file (e.g. 512MiB) before it moves to FILE.1 and a new FILE begins' },
  { long: 'record-max-files', value: true, description: 'With --record-max-size: files kept in all, FILE and FILE.1 … (default 5)' },
];

/** Flags that operators give most gadgets (the gadget's own params come on top). */
export const COMMON_FLAGS: KnownFlag[] = [
  { long: 'output', short: 'o', value: true, description: 'Output mode: columns, json, jsonpretty, yaml, none (ds:mode,ds2:mode per data source)' },
  { long: 'fields', value: true, description: 'Fields to show: a,b,c replaces the default columns; +a,-b adds and removes' },
  { long: 'filter', short: 'F', value: true, description: 'Show only events matching field==value, !=, <, >, <=, >=, ~ (regex), !~; commas mean and' },
  { long: 'filter-expr', short: 'E', value: true, description: "Show only events for which this expression is true (expr-lang: proc.comm in ['cat','ls'] and proc.pid > 1)" },
  { long: 'containername', short: 'c', value: true, description: 'Show only data from containers with these names (comma list, ! to exclude)', absentReason: NO_CONTAINERS },
  { long: 'host', value: false, description: 'Show data from both the host and containers', harmlessWhenAbsent: '--host: {g} has no container filter, it always shows the whole host' },
  { long: 'k8s-namespace', value: true, description: 'Show only data from pods in these Kubernetes namespaces', absentReason: NO_CONTAINERS },
  { long: 'k8s-podname', value: true, description: 'Show only data from these Kubernetes pods', absentReason: NO_CONTAINERS },
  { long: 'k8s-containername', value: true, description: 'Show only data from these Kubernetes containers', absentReason: NO_CONTAINERS },
  { long: 'k8s-selector', short: 'l', value: true, description: 'Show only data from pods with these labels (key=value,...; !key=value, key=!value exclude)', absentReason: NO_CONTAINERS },
  { long: 'runtimes', short: 'r', value: true, description: 'Container runtimes to follow (containerd, podman, docker, cri-o)', absentReason: NO_CONTAINERS },
  { long: 'containerd-namespace', value: true, description: 'containerd namespace to follow (default k8s.io)', absentReason: NO_CONTAINERS },
  { long: 'containerd-socketpath', value: true, description: 'containerd unix socket', absentReason: NO_CONTAINERS },
  { long: 'podman-socketpath', value: true, description: 'Podman API unix socket', absentReason: NO_CONTAINERS },
  { long: 'docker-socketpath', value: true, description: 'Docker Engine API unix socket', absentReason: NO_CONTAINERS },
  { long: 'crio-socketpath', value: true, description: 'CRI-O unix socket', absentReason: NO_CONTAINERS },
  { long: 'pid', value: true, description: 'Show only events of this process id (filtered in the kernel)', absentReason: NO_FILTER_H },
  { long: 'tid', value: true, description: 'Show only events of this thread id (filtered in the kernel)', absentReason: NO_FILTER_H },
  { long: 'uid', value: true, description: 'Show only events of this user id (filtered in the kernel)', absentReason: NO_FILTER_H },
  { long: 'gid', value: true, description: 'Show only events of this group id (filtered in the kernel)', absentReason: NO_FILTER_H },
  { long: 'comm', value: true, description: 'Show only events of this command name (filtered in the kernel)', absentReason: NO_FILTER_H },
  { long: 'sort', value: true, description: 'Toppers and snapshots: sort rows by f1,-f2 (- for descending)', absentReason: NO_ARRAYS },
  { long: 'max-entries', value: true, description: 'Toppers and snapshots: keep the first N rows (-1: all)', absentReason: NO_ARRAYS },
  { long: 'map-fetch-interval', value: true, description: 'Toppers and profilers: time between map reads (500ms, 2s; a bare number is seconds; 0: once, at the end)', absentReason: NO_MAP_FETCH },
  { long: 'map-fetch-count', value: true, description: 'Toppers and profilers: stop after this many map reads (0: no limit)', absentReason: NO_MAP_FETCH },
];

export const ALL_KNOWN = [...RUN_FLAGS, ...COMMON_FLAGS];

export function knownFlag(arg: string): KnownFlag | undefined {
  if (arg.startsWith('--')) {
    const name = arg.slice(2).split('=')[0];
    return ALL_KNOWN.find((f) => f.long === name);
  }
  if (/^-[A-Za-z]$/.test(arg)) return ALL_KNOWN.find((f) => f.short === arg.slice(1));
  return undefined;
}

/** `-x, --long <value>` as help shows it. */
export function flagSynopsis(f: KnownFlag): string {
  return `${f.short ? `-${f.short}, ` : '    '}--${f.long}${f.value ? ' <value>' : ''}`;
}
