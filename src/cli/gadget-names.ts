// Gadget names from the local store: for "did you mean" on a mistyped gadget and for shell completion.
import { listImages } from '../oci/image-catalog.js';
import { normalizeReference } from '../oci/reference.js';
import { OciStore } from '../oci/store.js';
import { closest } from '../gadget/suggest.js';
import type { Logger } from '../gadget/logger.js';
import { UsageError } from './errors.js';

/** Names as a user types them: "trace_open", "trace_open:v1", "localhost:5000/x/y:tag"; `sorted: false`: unordered. */
export async function localGadgetNames(sorted = true): Promise<{ name: string; reference: string }[]> {
  let images;
  try {
    images = await listImages({ sorted });
  } catch {
    // No store yet (or not readable): there is nothing local to suggest or complete.
    return [];
  }
  return images.filter((i) => i.reference).map((i) => ({ name: i.tag === 'latest' ? i.repository : `${i.repository}:${i.tag}`, reference: i.reference }));
}

/**
 * A short name that is not in the local store but is a few keystrokes from one that is, is a typo: say so
 * instead of trying a registry that will not have it either. Full references (with a registry or a path)
 * are left to the pull.
 */
export async function checkGadgetName(ref: string, log: Logger): Promise<void> {
  if (ref.includes('/') || ref.includes('@')) return;
  let norm: string;
  try { norm = normalizeReference(ref); } catch { return; /* the resolver reports a malformed reference */ }
  // Every `ig run` of a local gadget comes here, before its first event: the store's own names answer that (no
  // parse of every reference, no ordering); only a name that is not there needs the list to suggest from.
  try {
    if ((await new OciStore().entries()).some((e) => e.ref === norm)) return;
  } catch {
    return; // no store yet (or not readable): nothing local to suggest, and the resolver says what is wrong
  }
  const local = await localGadgetNames(false);
  if (local.some((l) => l.reference === norm)) return;
  const near = closest(ref, local.map((l) => l.name));
  if (near.length === 0) {
    log.debug(`${ref} is not in the local store and no local gadget has a similar name: trying its registry`);
    return;
  }
  throw new UsageError(`unknown gadget "${ref}": not in the local store; did you mean ${near.join(' or ')}? (ig image list shows the local gadgets)`);
}
