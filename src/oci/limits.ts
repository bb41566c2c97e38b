// Caps on what a registry, an archive or an image may make ig read. Sizes in descriptors and archive headers come
// from whoever made the image, so every read is bounded by these numbers and checked while streaming.

/** Manifests and indexes: 4 MiB, as upstream's registry library (oras-go) caps them. */
export const MAX_MANIFEST_BYTES = 4 << 20;
/** One blob (layer, config): gadget layers are a few MB; 1 GiB leaves room and still bounds the disk used. */
export const MAX_BLOB_BYTES = 1 << 30;
/** gadget.yaml: the largest official one is ~10 kB; 1 MiB parses in well under a second. */
export const MAX_METADATA_BYTES = 1 << 20;
/** Indexes nested in indexes: gadget images use one level; a deeper tree is refused instead of recursing. */
export const MAX_INDEX_DEPTH = 4;
/** `ig image import`: bytes read from the (decompressed) archive. */
export const MAX_IMPORT_BYTES = 2 * (1 << 30);

/** A cap for messages: "4 MiB", or bytes below 1 MiB. */
export function mib(n: number): string {
  return n < 1 << 20 ? `${n} bytes` : `${+(n / (1 << 20)).toFixed(1)} MiB`;
}
