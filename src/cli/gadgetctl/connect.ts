// Flags every gadgetctl command takes (anywhere on the line): where the daemon is and how to reach it.
import { GadgetClient } from '../../service/client.js';
import { DEFAULT_DAEMON_ADDRESS } from '../../service/consts.js';
import { UsageError } from '../errors.js';
import { Config, ConfigError } from '../../config/config.js';

export interface RemoteFlags {
  address: string;
  tlsKey?: string;
  tlsCert?: string;
  tlsServerCa?: string;
  tlsServerName?: string;
  connectTimeoutSec: number;
}

/** The config file's key of each connection flag (upstream keeps them under runtime.*). */
const CONFIG_KEY: Record<string, string> = {
  address: 'runtime.remote-address', tlsKey: 'runtime.tls-key-file', tlsCert: 'runtime.tls-cert-file',
  tlsServerCa: 'runtime.tls-server-ca-file', tlsServerName: 'runtime.tls-server-name', connectTimeoutSec: 'runtime.connection-timeout',
};

const VALUE: Record<string, keyof RemoteFlags> = {
  '--remote-address': 'address', '--tls-key-file': 'tlsKey', '--tls-cert-file': 'tlsCert',
  '--tls-server-ca-file': 'tlsServerCa', '--tls-server-name': 'tlsServerName', '--connection-timeout': 'connectTimeoutSec',
};

export const REMOTE_HELP = `Connection flags (any command; also runtime.<flag> in the config file):
      --remote-address string       Daemon address: unix:///path or tcp://ADDR:PORT (default "${DEFAULT_DAEMON_ADDRESS}")
      --tls-key-file string         TLS client key (mutual TLS)
      --tls-cert-file string        TLS client certificate (mutual TLS)
      --tls-server-ca-file string   CA certificate the daemon's certificate is signed by
      --tls-server-name string      Expected name in the daemon's certificate (default: the address's host)
      --connection-timeout int      Seconds to wait for the daemon (default 30)
      --config string               Config file (default ~/.ig/config.yaml)
`;

/** --config PATH (or --config=PATH), taken out of the arguments. */
export function extractConfigFlag(args: string[]): { path?: string; rest: string[] } {
  const rest: string[] = [];
  let path: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--') { rest.push(...args.slice(i)); break; }
    if (a === '--config') {
      path = args[++i];
      if (path === undefined) throw new UsageError('flag --config needs a value');
    } else if (a.startsWith('--config=')) path = a.slice(9);
    else rest.push(a);
  }
  return { path, rest };
}

/** Take the connection flags out of the arguments (`--flag value` or `--flag=value`). */
export function extractRemoteFlags(args: string[], cfg: Config = Config.empty()): { flags: RemoteFlags; rest: string[] } {
  const flags: RemoteFlags = { address: DEFAULT_DAEMON_ADDRESS, connectTimeoutSec: 30 };
  // Flag > env (INSPEKTOR_GADGET_RUNTIME_REMOTE_ADDRESS) > config file (runtime.remote-address) > default.
  for (const [k, key] of Object.entries(CONFIG_KEY)) {
    const v = cfg.get(key);
    if (!v) continue;
    if (k === 'connectTimeoutSec') {
      const n = Number(v.value);
      if (!Number.isFinite(n) || n <= 0) throw new ConfigError(`${key} = "${v.value}" (${v.source === 'env' ? 'environment' : cfg.path}): expected a positive number of seconds`);
      flags.connectTimeoutSec = n;
    } else {
      (flags as unknown as Record<string, string>)[k] = v.value;
    }
  }
  const rest: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--') { rest.push(...args.slice(i)); break; }
    const eq = a.indexOf('=');
    const name = eq > 0 ? a.slice(0, eq) : a;
    const key = VALUE[name];
    if (!key) { rest.push(a); continue; }
    let v: string | undefined;
    if (eq > 0) v = a.slice(eq + 1);
    else { v = args[i + 1]; i++; }
    if (v === undefined) throw new UsageError(`flag ${name} needs a value`);
    if (key === 'connectTimeoutSec') {
      const n = Number(v);
      if (!Number.isFinite(n) || n <= 0) throw new UsageError(`invalid value "${v}" for --connection-timeout: expected a positive number of seconds`);
      flags.connectTimeoutSec = n;
    } else {
      (flags as unknown as Record<string, string>)[key] = v;
    }
  }
  return { flags, rest };
}

export function connect(f: RemoteFlags): GadgetClient {
  return new GadgetClient({
    address: f.address,
    connectTimeoutSec: f.connectTimeoutSec,
    tls: { key: f.tlsKey, cert: f.tlsCert, serverCa: f.tlsServerCa, serverName: f.tlsServerName },
  });
}
