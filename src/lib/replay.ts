// A run over a recording (`ig run --record FILE`, docs/recording.md): the same pipeline as a live run, fed by the
// recorded batches instead of the kernel. Nothing is loaded; a slow consumer pauses the feed, so nothing is lost.
import { openRecording } from '../record/index.js';
import { prepareReplay } from '../runtime/replay.js';
import type { Prepare } from './run.js';

export function replayPrepare(file: string, speed = 0): Prepare {
  return async (operators, log) => {
    const rec = openRecording(file);
    try {
      return await prepareReplay(rec, { operators, log, speed });
    } catch (e) {
      rec.close();
      throw e;
    }
  };
}
