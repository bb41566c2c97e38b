// Numbers of the gadget-service protocol (as upstream's api package defines them).

/** Version of GadgetInfo a client expects, and of the run protocol. */
export const VERSION_GADGET_INFO = 1;
export const VERSION_GADGET_RUN_PROTOCOL = 1;

export const EventType = {
  /** One packet of a data source in upstream's protobuf form (GadgetData / GadgetDataArray): what clients get
   *  unless they ask for ig's batch form (WIRE_FORM_METADATA). */
  GadgetPayload: 0,
  GadgetResult: 1,
  GadgetDone: 2,
  GadgetJobID: 3,
  /** GadgetInfo of the running gadget: the data sources' field tables, sent once before any data. */
  GadgetInfo: 4,
  /**
   * ig's batch form: a versioned binary batch of records of one data source (src/service/wire.ts). A distinct
   * type so that a client that does not know it skips it instead of misreading it.
   */
  GadgetBatch: 0x100,
  /** Events this client lost because it read too slowly (payload: u64 LE count). */
  GadgetLost: 0x101,
} as const;

/**
 * gRPC metadata of a RunGadget call by which ig's own client asks for the batch form (GadgetBatch events). A
 * header, not a param: attach requests have no params, and upstream's daemon ignores headers it does not know,
 * so ig's gadgetctl still gets upstream's form from it.
 */
export const WIRE_FORM_METADATA = 'x-ig-wire-form';
export const WIRE_FORM_BATCH = 'batch/1';

/** Log events carry their severity in the upper 16 bits of the type (logrus levels). */
export const EVENT_LOG_SHIFT = 16;
export const LogLevel = { Panic: 0, Fatal: 1, Error: 2, Warn: 3, Info: 4, Debug: 5, Trace: 6 } as const;

/** GetGadgetInfoRequest.flags: imageName is the id of a running instance. */
export const GADGET_INFO_FLAG_USE_INSTANCE = 1;

export const DEFAULT_DAEMON_ADDRESS = 'unix:///var/run/ig/ig.socket';
export const DEFAULT_INSTANCES_DIR = '/var/lib/ig/gadgets';
/** Messages queued per client before its newest ones are dropped (upstream's default; client-stream.ts adds a byte cap). */
export const DEFAULT_EVENT_BUFFER_LENGTH = 16384;

const ID_RE = /^[a-f0-9]{32}$/;
const NAME_RE = /^[a-z0-9-_]{1,32}$/;
export function isValidInstanceId(id: string): boolean { return ID_RE.test(id); }
export function isValidInstanceName(name: string): boolean { return NAME_RE.test(name); }
