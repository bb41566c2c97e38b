// Record and replay files (docs/recording.md): the format, the writer `ig run --record` uses, the reader and
// the replay-side view of a recording.
export { openRecording, recordingInfo, type Recording, type RecordingInfo, type FeedOptions } from './recording.js';
export { RecordingWriter, type WriterOptions, type RecordedImage } from './writer.js';
export { RecordingReader } from './reader.js';
export { RecordingError, FORMAT_VERSION, type RecordingHeader } from './format.js';
