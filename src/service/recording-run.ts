// Recordings served by the daemon: `ig daemon --recordings-dir DIR` lets clients run `replay:NAME` (a file under
// DIR written by `ig run --record`) like an image: `gadgetctl run replay:incident.igrec -o json` renders the
// recorded events on the client exactly as `gadgetctl run IMAGE` renders live ones. The daemon reads only files
// under that directory, and only recordings (their header is checked before anything else).
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import type { GadgetContext } from '../gadget/context.js';
import type { Logger } from '../gadget/logger.js';
import type { DataOperator } from '../gadget/operator.js';
import { openRecording, type Recording } from '../record/recording.js';
import { RecordingError } from '../record/format.js';
import { prepareReplay } from '../runtime/replay.js';
import { ServiceError } from './errors.js';

export const REPLAY_PREFIX = 'replay:';

export function isReplayName(imageName: string): boolean {
  return imageName.startsWith(REPLAY_PREFIX);
}

/** The file a `replay:NAME` names under `dir`; a clear error when none may be served. */
export function recordingPath(imageName: string, dir: string | undefined): string {
  const name = imageName.slice(REPLAY_PREFIX.length);
  if (!dir) throw new ServiceError(grpc.status.FAILED_PRECONDITION, `${imageName}: this daemon serves no recordings (start it with --recordings-dir DIR)`);
  if (!name || path.isAbsolute(name) || name.split(/[\\/]/).includes('..')) {
    throw new ServiceError(grpc.status.INVALID_ARGUMENT, `${imageName}: expected replay:NAME with NAME a file under the daemon's recordings directory`);
  }
  return path.join(dir, name);
}

export async function prepareRecordingRun(imageName: string, dir: string | undefined, opts: { log: Logger; operators: DataOperator[] }): Promise<{ ctx: GadgetContext; recording: Recording }> {
  const file = recordingPath(imageName, dir);
  let rec: Recording;
  try {
    rec = openRecording(file);
  } catch (e) {
    if (e instanceof RecordingError) throw new ServiceError(grpc.status.NOT_FOUND, `${imageName}: ${e.message}`);
    throw e;
  }
  try {
    return { ctx: await prepareReplay(rec, { operators: opts.operators, log: opts.log }), recording: rec };
  } catch (e) {
    rec.close();
    throw e;
  }
}
