// Media types and annotation keys of gadget images, as upstream Inspektor Gadget writes them.

export const MT_INDEX = 'application/vnd.oci.image.index.v1+json';
export const MT_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const MT_DOCKER_MANIFEST_LIST = 'application/vnd.docker.distribution.manifest.list.v2+json';
export const MT_DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
export const ARTIFACT_TYPE_GADGET = 'application/vnd.gadget.v1+binary';
export const MT_GADGET_CONFIG = 'application/vnd.gadget.config.v1+yaml';
export const MT_EMPTY = 'application/vnd.oci.empty.v1+json';
export const MT_EBPF = 'application/vnd.gadget.ebpf.program.v1+binary';
export const MT_WASM = 'application/vnd.gadget.wasm.program.v1+binary';
export const MT_BTFGEN = 'application/vnd.gadget.btfgen.v1+binary';

// cosign legacy ("tag") signatures
export const MT_COSIGN_SIMPLESIGNING = 'application/vnd.dev.cosign.simplesigning.v1+json';
export const MT_OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
export const ANN_COSIGN_SIGNATURE = 'dev.cosignproject.cosign/signature';

// OCI 1.1 referrers (artifacts whose manifest names the image in `subject`): cosign's simple-signing manifests
// (`--registry-referrers-mode=oci-1-1`) and sigstore bundles (`--new-bundle-format`), as upstream ig accepts them.
export const MT_COSIGN_ARTIFACT_SIG = 'application/vnd.dev.cosign.artifact.sig.v1+json';
export const MT_SIGSTORE_BUNDLE_V03 = 'application/vnd.dev.sigstore.bundle.v0.3+json';
export const SIGNING_ARTIFACT_TYPES: readonly string[] = [MT_COSIGN_ARTIFACT_SIG, MT_SIGSTORE_BUNDLE_V03];

export const ANN_REF_NAME = 'org.opencontainers.image.ref.name';
export const ANN_TITLE = 'org.opencontainers.image.title';
export const ANN_DESCRIPTION = 'org.opencontainers.image.description';
export const ANN_URL = 'org.opencontainers.image.url';
export const ANN_DOCUMENTATION = 'org.opencontainers.image.documentation';
export const ANN_SOURCE = 'org.opencontainers.image.source';
export const ANN_CREATED = 'org.opencontainers.image.created';
export const ANN_BUILDER_VERSION = 'io.inspektor-gadget.builder.version';

/** Our own store-local annotation (index.json entries only, never exported): how the image got here. */
export const ANN_ORIGIN = 'io.ig-ts.image.origin';

/** The two bytes of the OCI empty config `{}` and their digest. */
export const EMPTY_JSON = Buffer.from('{}');
export const EMPTY_DIGEST = 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a';

export const MANIFEST_ACCEPT = [MT_INDEX, MT_MANIFEST, MT_DOCKER_MANIFEST_LIST, MT_DOCKER_MANIFEST].join(', ');

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  urls?: string[];
  annotations?: Record<string, string>;
  data?: string;
  platform?: { architecture: string; os: string; variant?: string; 'os.version'?: string; 'os.features'?: string[] };
  artifactType?: string;
}

export interface Manifest {
  schemaVersion: number;
  mediaType?: string;
  artifactType?: string;
  config: Descriptor;
  layers: Descriptor[];
  subject?: Descriptor;
  annotations?: Record<string, string>;
}

export interface ImageIndex {
  schemaVersion: number;
  mediaType?: string;
  artifactType?: string;
  manifests: Descriptor[];
  subject?: Descriptor;
  annotations?: Record<string, string>;
}

export function isIndexType(mt: string | undefined): boolean {
  return mt === MT_INDEX || mt === MT_DOCKER_MANIFEST_LIST;
}
export function isManifestType(mt: string | undefined): boolean {
  return mt === MT_MANIFEST || mt === MT_DOCKER_MANIFEST;
}

/** Node's arch name to the OCI/Go one. */
export function goArch(arch: string = process.arch): string {
  if (arch === 'x64') return 'amd64';
  if (arch === 'arm64') return 'arm64';
  return arch;
}
