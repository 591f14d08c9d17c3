//! Session limits and the settings exchanged in HELLO.
//!
//! Every limit is configuration with a safe default; each default is a named
//! constant saying why it is that number.

use std::time::Duration;

use crate::codes::SettingId;
use crate::error::{ConfigError, Violation};
use crate::frame::{Setting, HELLO_MAX_LEN, MAX_CODECS, MAX_CODEC_NAME_LEN};

/// Default largest DATA payload we accept: 4 MiB. Messages are whole frames,
/// so this is also the default largest message; 4 MiB fits typical RPC
/// payloads while one frame per stream in flight stays cheap to buffer.
pub const DEFAULT_MAX_FRAME_SIZE: u32 = 4 << 20;

/// Smallest `MAX_FRAME_SIZE` a peer may announce: 1 KiB. Before a peer's
/// HELLO arrives a sender assumes this value, so it must be allowed everywhere.
pub const MIN_MAX_FRAME_SIZE: u32 = 1024;

/// Default per-stream receive window: 1 MiB. One stream's throughput is at
/// most a window per credit round trip; on loopback with the tasks on two
/// busy cores that round trip is tens of microseconds, and 256 KiB (four
/// 64 KiB messages) held a single stream to about half the socket's speed,
/// where 1 MiB keeps it busy (docs/BENCHMARKS.md). Memory stays bounded by
/// the session window, all streams together, not by streams × window.
pub const DEFAULT_INITIAL_WINDOW: u64 = 1 << 20;

/// Smallest `INITIAL_WINDOW` a peer may announce: 1 KiB. Before a peer's
/// HELLO arrives a sender assumes this value (so optimistic sends can never
/// overrun a smaller window).
pub const MIN_INITIAL_WINDOW: u64 = 1024;

/// Largest `INITIAL_WINDOW`: 2^62, the credit ceiling, so that credit
/// arithmetic never nears `i64` overflow.
pub const MAX_INITIAL_WINDOW: u64 = crate::connection::MAX_CREDIT as u64;

/// Default most concurrently open peer-opened streams: 4096. Each open stream
/// costs a map entry and, when its receiver stalls, up to a window of
/// buffered data; 4096 covers busy RPC fan-out.
pub const DEFAULT_MAX_STREAMS: u64 = 4096;

/// Default most peer-opened nested streams not yet referenced by a decoded
/// message: as many as [`DEFAULT_MAX_STREAMS`]. Nested streams wait unclaimed
/// until the message naming them is decoded, which for a channel nobody has
/// accepted yet can be much later: a burst of requests on fresh channels,
/// each with its reply channel, must not be refused while it is within the
/// stream limit. Memory is bounded by the session window, not by this count.
pub const DEFAULT_MAX_PENDING_OPENS: u64 = DEFAULT_MAX_STREAMS;

/// Default session window: 16 MiB of DATA, all streams together, received
/// and not yet consumed by the application. With one frame of overdraft
/// this is what one connection can make us buffer inbound, however many
/// channels its peer opens and we leave unread: 16 MiB keeps dozens of busy
/// streams at full speed (each has at most a 1 MiB window) while a
/// hostile peer with thousands of unread channels costs tens of MiB, not
/// gigabytes.
pub const DEFAULT_SESSION_WINDOW: u64 = 16 << 20;

/// Smallest `SESSION_WINDOW` a peer may announce: 64 KiB. Before a peer's
/// HELLO arrives a sender assumes this value.
pub const MIN_SESSION_WINDOW: u64 = 64 << 10;

/// Default send buffer: DATA stops being queued once 1 MiB of frames wait
/// unwritten (the peer reads slower than we send, or not at all). Enough
/// for many frames per write on a fast link; a peer that stops reading
/// holds at most this plus one message of ours, whatever window it
/// announced.
pub const DEFAULT_MAX_SEND_BUFFER: usize = 1 << 20;

/// Default most passed file descriptors held unclaimed: 256, announced only
/// over a link that can carry descriptors (a unix socket; elsewhere the
/// driver announces 0). Each costs a slot in the process's descriptor table
/// (often limited to 1024) until the message naming it is decoded; a
/// message rarely carries more than a few.
pub const DEFAULT_MAX_PENDING_FDS: u64 = 256;

/// Default linger: 10 s. A graceful close waits this long for the streams
/// still open to finish before it aborts them.
pub const DEFAULT_LINGER: Duration = Duration::from_secs(10);

/// Default time to wait for the peer's HELLO: 10 s. Long enough for a TLS
/// handshake over a slow link, short enough that a silent peer (a port
/// scanner, a wrong port) does not hold a connection slot.
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Default keepalive interval: 30 s. Shorter than common NAT and load
/// balancer idle timeouts (60 s and up), so an idle session stays mapped,
/// and a dead peer is detected within two intervals.
pub const DEFAULT_KEEPALIVE: Duration = Duration::from_secs(30);

/// Session limits and offered codecs. Build with [`Limits::new`] (defaults
/// plus a codec list) and adjust fields. The `libchan` facade re-exports it
/// as `libchan::Limits`; a transport's configuration holds it as `limits`
/// (`tcp::Config::new(Json).limits.max_frame_size = ...`).
///
/// Errors and docs use these field names for the limits.
///
/// | field | default | what it bounds |
/// |---|---|---|
/// | `max_frame_size` | 4 MiB ([`DEFAULT_MAX_FRAME_SIZE`]) | the largest message we accept (a message is one frame); a larger one sent to us is refused with `LIMIT_EXCEEDED` at the sender |
/// | `initial_window` | 1 MiB ([`DEFAULT_INITIAL_WINDOW`]) | bytes of one stream received and not yet consumed |
/// | `session_window` | 16 MiB ([`DEFAULT_SESSION_WINDOW`]) | the same, all streams together |
/// | `max_streams` | 4096 ([`DEFAULT_MAX_STREAMS`]) | streams the peer may have open toward us |
/// | `max_pending_opens` | 4096 ([`DEFAULT_MAX_PENDING_OPENS`]) | nested streams the peer opened that no decoded message named yet |
/// | `max_send_buffer` | 1 MiB ([`DEFAULT_MAX_SEND_BUFFER`]) | frames waiting to be written before `send` waits |
/// | `linger` | 10 s ([`DEFAULT_LINGER`]) | how long a graceful close waits for open channels |
/// | `handshake_timeout` | 10 s ([`DEFAULT_HANDSHAKE_TIMEOUT`]) | how long to wait for the peer's HELLO |
/// | `keepalive` | 30 s ([`DEFAULT_KEEPALIVE`]) | PING interval; two silent intervals lose the connection |
///
/// `docs/RELIABILITY.md` turns these into the memory one session can be
/// made to hold. An invalid value is refused before anything is dialled
/// ([`ConfigError`], inside libchan's `SessionError::Config`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest DATA payload (= message) we accept, announced as `MAX_FRAME_SIZE`.
    /// At least [`MIN_MAX_FRAME_SIZE`].
    pub max_frame_size: u32,
    /// Credit we grant per stream we receive on, announced as `INITIAL_WINDOW`.
    /// Between [`MIN_INITIAL_WINDOW`] and [`MAX_INITIAL_WINDOW`].
    pub initial_window: u64,
    /// Most concurrently open streams we accept from the peer (`MAX_STREAMS`);
    /// OPENs beyond it are refused with RESET `REFUSED`.
    pub max_streams: u64,
    /// Most peer-opened nested streams not yet claimed (`MAX_PENDING_OPENS`);
    /// OPENs beyond it are refused with RESET `REFUSED`.
    pub max_pending_opens: u64,
    /// Credit we grant for all streams together, announced as
    /// `SESSION_WINDOW`: the most DATA we hold received and unconsumed (plus
    /// one frame). Between [`MIN_SESSION_WINDOW`] and [`MAX_INITIAL_WINDOW`].
    pub session_window: u64,
    /// Bytes of frames that may wait unwritten before sending DATA waits
    /// (at least 1; a message may start whenever fewer are waiting).
    pub max_send_buffer: usize,
    /// How long a graceful close waits for open streams to finish before it
    /// aborts them. Non-zero.
    pub linger: Duration,
    /// Most passed file descriptors we hold unclaimed (`MAX_PENDING_FDS`);
    /// 0 means we receive none. The driver announces 0 over a link that
    /// cannot carry descriptors. A peer's descriptor streams beyond it are
    /// refused with RESET `REFUSED`.
    pub max_pending_fds: u64,
    /// How long to wait for the peer's HELLO. Non-zero.
    pub handshake_timeout: Duration,
    /// Keepalive interval (non-zero), or `None` to disable keepalive.
    pub keepalive: Option<Duration>,
    /// Codec names offered, in preference order (1..=255 names of 1..=32 bytes).
    pub codecs: Vec<String>,
}

impl Limits {
    /// Default limits offering `codecs` in preference order.
    pub fn new<I, S>(codecs: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self {
            max_frame_size: DEFAULT_MAX_FRAME_SIZE,
            initial_window: DEFAULT_INITIAL_WINDOW,
            max_streams: DEFAULT_MAX_STREAMS,
            max_pending_opens: DEFAULT_MAX_PENDING_OPENS,
            session_window: DEFAULT_SESSION_WINDOW,
            max_send_buffer: DEFAULT_MAX_SEND_BUFFER,
            linger: DEFAULT_LINGER,
            max_pending_fds: DEFAULT_MAX_PENDING_FDS,
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
            keepalive: Some(DEFAULT_KEEPALIVE),
            codecs: codecs.into_iter().map(Into::into).collect(),
        }
    }

    /// Checks every field against the ranges documented on it.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.max_frame_size < MIN_MAX_FRAME_SIZE {
            return Err(ConfigError::MaxFrameSize(self.max_frame_size));
        }
        if !(MIN_INITIAL_WINDOW..=MAX_INITIAL_WINDOW).contains(&self.initial_window) {
            return Err(ConfigError::InitialWindow(self.initial_window));
        }
        if !(MIN_SESSION_WINDOW..=MAX_INITIAL_WINDOW).contains(&self.session_window) {
            return Err(ConfigError::SessionWindow(self.session_window));
        }
        if self.max_send_buffer == 0 {
            return Err(ConfigError::Zero("max_send_buffer"));
        }
        if self.handshake_timeout.is_zero() {
            return Err(ConfigError::ZeroDuration("handshake_timeout"));
        }
        if self.linger.is_zero() {
            return Err(ConfigError::ZeroDuration("linger"));
        }
        if self.keepalive.is_some_and(|d| d.is_zero()) {
            return Err(ConfigError::ZeroDuration("keepalive"));
        }
        if self.codecs.is_empty() || self.codecs.len() > MAX_CODECS {
            return Err(ConfigError::CodecCount(self.codecs.len()));
        }
        if let Some(bad) = self
            .codecs
            .iter()
            .find(|c| c.is_empty() || c.len() > MAX_CODEC_NAME_LEN)
        {
            return Err(ConfigError::CodecName(bad.clone()));
        }
        let codec_bytes: usize = self.codecs.iter().map(|c| 1 + c.len()).sum();
        let hello_len = 2 + 1 + 1 + codec_bytes + 1 + self.settings().len() * 10;
        if hello_len > HELLO_MAX_LEN as usize {
            return Err(ConfigError::HelloTooLarge(hello_len));
        }
        Ok(())
    }

    /// The settings our HELLO announces, in id order.
    #[must_use]
    pub fn settings(&self) -> Vec<Setting> {
        vec![
            Setting {
                id: SettingId::MAX_FRAME_SIZE,
                value: u64::from(self.max_frame_size),
            },
            Setting {
                id: SettingId::INITIAL_WINDOW,
                value: self.initial_window,
            },
            Setting {
                id: SettingId::MAX_STREAMS,
                value: self.max_streams,
            },
            Setting {
                id: SettingId::MAX_PENDING_OPENS,
                value: self.max_pending_opens,
            },
            Setting {
                id: SettingId::SESSION_WINDOW,
                value: self.session_window,
            },
            Setting {
                id: SettingId::MAX_PENDING_FDS,
                value: self.max_pending_fds,
            },
        ]
    }
}

/// The limits the peer announced in its HELLO (defaults for settings it
/// left out). These bound what *we* send.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PeerSettings {
    /// Largest DATA payload the peer accepts.
    pub max_frame_size: u32,
    /// Credit the peer grants per stream on which we send.
    pub initial_window: u64,
    /// Most concurrently open streams the peer accepts from us.
    pub max_streams: u64,
    /// Most unclaimed nested streams the peer accepts from us.
    pub max_pending_opens: u64,
    /// Credit the peer grants for all streams together.
    pub session_window: u64,
    /// Most passed file descriptors the peer holds unclaimed (0: it cannot
    /// receive any).
    pub max_pending_fds: u64,
}

impl PeerSettings {
    /// What a sender assumes before the peer's HELLO has arrived: the
    /// smallest frame size and window any peer may announce, so frames sent
    /// optimistically can never break the peer's limits. Stream counts are
    /// not assumed: the peer refuses excess OPENs with RESET `REFUSED`.
    pub const ASSUMED: Self = Self {
        max_frame_size: MIN_MAX_FRAME_SIZE,
        initial_window: MIN_INITIAL_WINDOW,
        max_streams: u64::MAX,
        max_pending_opens: u64::MAX,
        session_window: MIN_SESSION_WINDOW,
        max_pending_fds: 0,
    };

    /// Reads the peer's HELLO settings. Unknown ids are ignored; a known
    /// setting outside its range is a protocol violation. A `MAX_FRAME_SIZE`
    /// above `u32::MAX` means "no limit" and is clamped.
    pub fn from_hello(settings: &[Setting]) -> Result<Self, Violation> {
        let mut peer = Self {
            max_frame_size: DEFAULT_MAX_FRAME_SIZE,
            initial_window: DEFAULT_INITIAL_WINDOW,
            max_streams: DEFAULT_MAX_STREAMS,
            max_pending_opens: DEFAULT_MAX_PENDING_OPENS,
            session_window: DEFAULT_SESSION_WINDOW,
            // A peer that does not say it accepts descriptors does not.
            max_pending_fds: 0,
        };
        for &Setting { id, value } in settings {
            let bad = Violation::InvalidSetting { id, value };
            match id {
                SettingId::MAX_FRAME_SIZE => {
                    if value < u64::from(MIN_MAX_FRAME_SIZE) {
                        return Err(bad);
                    }
                    peer.max_frame_size = u32::try_from(value).unwrap_or(u32::MAX);
                }
                SettingId::INITIAL_WINDOW => {
                    if !(MIN_INITIAL_WINDOW..=MAX_INITIAL_WINDOW).contains(&value) {
                        return Err(bad);
                    }
                    peer.initial_window = value;
                }
                SettingId::MAX_STREAMS => peer.max_streams = value,
                SettingId::MAX_PENDING_OPENS => peer.max_pending_opens = value,
                SettingId::SESSION_WINDOW => {
                    if !(MIN_SESSION_WINDOW..=MAX_INITIAL_WINDOW).contains(&value) {
                        return Err(bad);
                    }
                    peer.session_window = value;
                }
                SettingId::MAX_PENDING_FDS => peer.max_pending_fds = value,
                _ => tracing::trace!(%id, value, "ignoring unknown setting"),
            }
        }
        Ok(peer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_validate() {
        assert_eq!(Limits::new(["json"]).validate(), Ok(()));
    }

    #[test]
    fn validate_rejects_out_of_range_fields() {
        let base = Limits::new(["json"]);
        let cases: Vec<(Limits, ConfigError)> = vec![
            (
                Limits {
                    max_frame_size: 1023,
                    ..base.clone()
                },
                ConfigError::MaxFrameSize(1023),
            ),
            (
                Limits {
                    initial_window: 10,
                    ..base.clone()
                },
                ConfigError::InitialWindow(10),
            ),
            (
                Limits {
                    keepalive: Some(Duration::ZERO),
                    ..base.clone()
                },
                ConfigError::ZeroDuration("keepalive"),
            ),
            (
                Limits::new(Vec::<String>::new()),
                ConfigError::CodecCount(0),
            ),
            (Limits::new([""]), ConfigError::CodecName(String::new())),
            (
                Limits::new(["x".repeat(33)]),
                ConfigError::CodecName("x".repeat(33)),
            ),
            (
                Limits::new((0..200).map(|i| format!("codec-number-{i:012}"))),
                ConfigError::HelloTooLarge(4 + 200 * 26 + 1 + 60),
            ),
        ];
        for (config, want) in cases {
            assert_eq!(config.validate(), Err(want));
        }
    }

    #[test]
    fn peer_settings_default_missing_ignore_unknown_and_check_ranges() {
        let peer = PeerSettings::from_hello(&[
            Setting {
                id: SettingId(99),
                value: 0,
            },
            Setting {
                id: SettingId::MAX_FRAME_SIZE,
                value: u64::MAX,
            },
        ])
        .expect("valid");
        assert_eq!(peer.max_frame_size, u32::MAX);
        assert_eq!(peer.initial_window, DEFAULT_INITIAL_WINDOW);
        let small = Setting {
            id: SettingId::MAX_FRAME_SIZE,
            value: 1023,
        };
        assert_eq!(
            PeerSettings::from_hello(&[small]),
            Err(Violation::InvalidSetting {
                id: SettingId::MAX_FRAME_SIZE,
                value: 1023
            })
        );
        let huge_window = Setting {
            id: SettingId::INITIAL_WINDOW,
            value: MAX_INITIAL_WINDOW + 1,
        };
        assert!(PeerSettings::from_hello(&[huge_window]).is_err());
    }
}
