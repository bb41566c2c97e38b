// Public face of the OCI layer: references, the local store, build, registries, signatures.

export { OciError, errorMessage, reportError, cliAction, oneLine } from './errors.js';
export { normalizeReference, parseReference, displayRepository, signatureTag, type ParsedReference } from './reference.js';
export { defaultStorePath, OciStore, type ImageOrigin } from './store.js';
export {
  getGadgetImage, pullImage, pushImage, listImages, inspectImage, tagImage, removeImage, exportImages, importImages,
  signImage, verifyImage, isGadgetAllowed,
  type GadgetImage, type GetImageOptions, type RemoteOptions, type ImageSummary, type InspectResult,
} from './images.js';
export { buildImage, sourceRoot, builderVersion, type BuildOptions } from './build.js';
export { defaultAuthFile, getCredentials, saveCredentials, removeCredentials } from './auth.js';
export { RegistryClient, type RegistryOptions } from './registry.js';
export * as mediaTypes from './mediatypes.js';
