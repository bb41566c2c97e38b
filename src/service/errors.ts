// One clear gRPC status per failure: the code says what kind of problem, the details are one line for people.
import { status } from '@grpc/grpc-js';

export class ServiceError extends Error {
  constructor(readonly code: number, message: string) { super(message); }
}

export function statusOf(e: unknown): { code: number; details: string } {
  if (e instanceof ServiceError) return { code: e.code, details: firstLine(e.message) };
  const err = e as Error & { code?: unknown };
  const msg = firstLine(err?.message ?? String(e));
  const name = err?.constructor?.name ?? '';
  if (/not found|no such image|does not exist|unknown image/i.test(msg)) return { code: status.NOT_FOUND, details: msg };
  if (name === 'ParamError' || /invalid value|unknown param|missing required|invalid --|invalid reference/i.test(msg)) return { code: status.INVALID_ARGUMENT, details: msg };
  if (name === 'GadgetError' || name === 'MetadataError') return { code: status.FAILED_PRECONDITION, details: msg };
  return { code: status.UNKNOWN, details: msg };
}

function firstLine(s: string): string {
  return s.split('\n')[0]!.replace(/^Error:\s*/i, '');
}
