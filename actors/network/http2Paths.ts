/** The routes nodes post Raft messages to, and the content types they carry. */

/** The path a single batch of Raft messages may be posted to (nodes use the stream; tools and tests post here). */
export const MESSAGES_PATH = '/xraft/v1/messages';
/** The path of the long-lived stream each node writes its frames to a peer on (src/wireFrames.ts). */
export const STREAM_PATH = '/xraft/v1/stream';
/** The path snapshot chunks (`InstallSnapshot`, one per request, as raw bytes) are posted to. */
export const SNAPSHOT_CHUNK_PATH = '/xraft/v1/snapshot-chunk';

export const JSON_HEADERS = { 'content-type': 'application/json' } as const;
export const OCTET_STREAM_HEADERS = { 'content-type': 'application/octet-stream' } as const;
