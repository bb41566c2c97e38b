// Image operations, one module per concern: image-load (resolve/get for `ig run`), image-signing (sign/verify),
// image-pull / image-push (registries), image-catalog (list/tag/rm/inspect), image-archive (export/import).
// image-lookup holds what they share. This file only gathers their public API.

export { getGadgetImage, isGadgetAllowed, type GadgetImage, type GetImageOptions } from './image-load.js';
export { signImage, verifyImage } from './image-signing.js';
export { pullImage, pullSignature, type RemoteOptions } from './image-pull.js';
export { pushImage } from './image-push.js';
export { listImages, tagImage, removeImage, inspectImage, type ImageSummary, type InspectResult } from './image-catalog.js';
export { exportImages, importImages } from './image-archive.js';
export { OciStore } from './store.js';
