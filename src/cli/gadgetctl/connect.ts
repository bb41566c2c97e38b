// Flags every gadgetctl command takes (anywhere on the line): where the daemon is and how to reach it.
import { GadgetClient } from '../../service/client.js';
import { DEFAULT_DAEMON_ADDRESS } from '../../service/consts.js';
import { connectionTimeoutSeconds, takeValueFlags } from '../value-flags.js';
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
  let path: string | undefined;
  const rest = takeValueFlags(args, { '--config': 'config' }, (_k, v) => { path = v; }, { allowEmpty: true });
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
  const rest = takeValueFlags(args, VALUE, (key, v) => {
    if (key === 'connectTimeoutSec') flags.connectTimeoutSec = connectionTimeoutSeconds(v);
    else (flags as unknown as Record<string, string>)[key] = v;
  }, { allowEmpty: true });
  return { flags, rest };
}

export function connect(f: RemoteFlags): GadgetClient {
  return new GadgetClient({
    address: f.address,
    connectTimeoutSec: f.connectTimeoutSec,
    tls: { key: f.tlsKey, cert: f.tlsCert, serverCa: f.tlsServerCa, serverName: f.tlsServerName },
  });
}
