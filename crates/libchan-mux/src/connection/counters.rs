//! What a session has moved so far, for monitoring.

/// Totals since the session started.
///
/// Bytes count everything on the connection: the magic, frame heads,
/// control frames and payloads. Messages count DATA frames on message
/// channels (each is one whole message), not byte-stream chunks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Counters {
    /// Bytes read from the connection and fed to the session.
    pub bytes_in: u64,
    /// Bytes the session handed over for the connection.
    pub bytes_out: u64,
    /// Messages received on message channels.
    pub messages_in: u64,
    /// Messages queued for sending on message channels.
    pub messages_out: u64,
}
