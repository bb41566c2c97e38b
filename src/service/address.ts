// Daemon addresses as upstream writes them: unix:///path/to/socket or tcp://host:port.
export interface Address {
  type: 'unix' | 'tcp';
  /** Socket path, or host:port. */
  path: string;
  /** What grpc-js binds to / dials. */
  target: string;
}

export class AddressError extends Error {}

export function parseAddress(addr: string): Address {
  const m = /^([a-z]+):\/\/(.*)$/.exec(addr);
  if (!m) throw new AddressError(`invalid address "${addr}": use unix:///path/to/socket or tcp://ADDR:PORT`);
  const [, scheme, rest] = m;
  if (scheme === 'unix') {
    if (!rest || !rest.startsWith('/')) throw new AddressError(`invalid address "${addr}": a unix socket needs an absolute path (unix:///run/ig.sock)`);
    return { type: 'unix', path: rest, target: `unix://${rest}` };
  }
  if (scheme === 'tcp') {
    const hp = /^(\[[0-9a-fA-F:.]+\]|[^:/]+):(\d{1,5})$/.exec(rest ?? '');
    if (!hp || Number(hp[2]) > 65535) throw new AddressError(`invalid tcp address "${addr}": use something like tcp://127.0.0.1:1234`);
    return { type: 'tcp', path: rest!, target: rest! };
  }
  throw new AddressError(`invalid type "${scheme}" for socket "${addr}": use unix or tcp`);
}
