export { DataSource, type DataSourceType, type DataSourceConfig, type FieldConfig, type Subscriber, type SubscribeOptions } from './datasource.js';
export { Batch } from './batch.js';
export { Field, FieldFlag, type FieldValue, type Getter, type Storage, type Derivation, type Invalidation, type KernelTextSource, readU64, readI64, readCString, u64Decimal, u64Mod1e9 } from './field.js';
export * from './kinds.js';
export { TEMPLATES, TYPE_TEMPLATES } from './templates.js';
export { PacketEncoder, PacketDecoder, PacketError, frameLength, PACKET_VERSION, type DecodedBatch, type PacketEncoderOptions } from './codec.js';
export { evalPredicate, compareCodePoints, literalRegexPredicate, type Predicate, type CmpOp } from './predicate.js';
