export { KafkaSink, type KafkaSinkStats } from './sink.js';
export {
  parseSinkOptions,
  COMPRESSIONS,
  MESSAGE_FORMATS,
  type Compression,
  type MessageFormat,
  type KafkaSinkOptions,
  type KafkaSinkConfig,
} from './sink-options.js';
export { gzipCodec, DEFAULT_GZIP_LEVEL, type GzipCodecOptions, type KafkaCodec } from './gzip.js';
export { BATCH_SCHEMA, decodeValue, type Decoded } from './wire.js';
export {
  KafkaSource,
  type KafkaSourceOptions,
  type KafkaSourceConfig,
  type KafkaSourceStats,
  type SourceHandlers,
  type EventHandler,
  type BatchHandler,
  type MessageMeta,
  type BatchMeta,
} from './source.js';
export { EVENT_FAMILIES, type EventFamily, familyOf, topicForType, topicsFor, messageKey } from './topics.js';
