//! The one error type of the engine and of the crates built on it.

use std::fmt;
use std::io;
use std::time::Duration;

/// What the kernel said when it refused a request: the errno, and the
/// extended-ACK message and offending attribute offset when it gave them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelError {
    /// The positive error number (`EINVAL` is 22). Some families use numbers
    /// above 4096 for their own codes (ipset does).
    pub errno: i32,
    /// The extended-ACK message (`NLMSGERR_ATTR_MSG`), if the kernel sent one.
    pub message: Option<String>,
    /// Byte offset, inside the request, of the attribute the kernel rejected
    /// (`NLMSGERR_ATTR_OFFS`), if it said.
    pub bad_attr_offset: Option<u32>,
    /// A family-specific description of `errno`, filled in by the crate that
    /// knows the family (for example ipset's own error codes).
    pub description: Option<String>,
    /// The request as the kernel echoed it back, when it echoed it whole
    /// (ipset writes the failing element's line number into it).
    pub echo: Option<Vec<u8>>,
}

impl KernelError {
    /// A kernel error with only an errno.
    pub fn from_errno(errno: i32) -> Self {
        KernelError {
            errno,
            message: None,
            bad_attr_offset: None,
            description: None,
            echo: None,
        }
    }

    /// The errno as an [`io::Error`] (family codes above 4096 included as raw
    /// numbers).
    pub fn to_io(&self) -> io::Error {
        io::Error::from_raw_os_error(self.errno)
    }
}

impl fmt::Display for KernelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.description {
            Some(d) => write!(f, "{d} (error {})", self.errno)?,
            None => write!(f, "{}", self.to_io())?,
        }
        if let Some(m) = &self.message {
            write!(f, ": {m}")?;
        }
        if let Some(o) = self.bad_attr_offset {
            write!(f, " (offending attribute at byte {o} of the request)")?;
        }
        Ok(())
    }
}

/// Every error of `nl-engine`, `ipvs-nl`, `ipset-nl` and `nftables-glue`.
///
/// Each case names the object or operation it is about (`context`, for
/// example `add service TCP 10.0.0.1:80`) and, when the kernel refused the
/// request, carries what the kernel said ([`KernelError`], with its
/// extended-ACK message).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The kernel refused with `EPERM`/`EACCES`: the caller lacks
    /// `CAP_NET_ADMIN` in the network namespace.
    #[error(
        "{context}: operation not permitted: this needs CAP_NET_ADMIN in the network namespace ({detail})"
    )]
    NotPermitted {
        /// The operation and object.
        context: String,
        /// What the kernel said.
        detail: KernelError,
    },
    /// The running kernel lacks the feature (module not loaded or not built).
    #[error("{context}: {what} is not available in this kernel: {hint}")]
    Unsupported {
        /// The operation and object.
        context: String,
        /// The missing feature, e.g. `the IPVS generic netlink family`.
        what: String,
        /// What to do about it, e.g. `load the ip_vs module (modprobe ip_vs)`.
        hint: String,
    },
    /// The object already exists (`EEXIST` or a family code meaning it).
    #[error("{context}: already exists ({detail})")]
    Exists {
        /// The operation and object.
        context: String,
        /// What the kernel said.
        detail: KernelError,
    },
    /// The object does not exist (`ENOENT`, `ESRCH` or a family code meaning it).
    #[error("{context}: not found ({detail})")]
    NotFound {
        /// The operation and object.
        context: String,
        /// What the kernel said.
        detail: KernelError,
    },
    /// The kernel rejected an argument (`EINVAL`, `ERANGE`, ...).
    #[error("{context}: invalid argument ({detail})")]
    InvalidArgument {
        /// The operation and object.
        context: String,
        /// What the kernel said, with its extended-ACK message.
        detail: KernelError,
    },
    /// The object is in use (`EBUSY`), e.g. a set referenced by a rule.
    #[error("{context}: busy, in use ({detail})")]
    Busy {
        /// The operation and object.
        context: String,
        /// What the kernel said.
        detail: KernelError,
    },
    /// The object is full (`ENOSPC`, a full hash set).
    #[error("{context}: full ({detail})")]
    Full {
        /// The operation and object.
        context: String,
        /// What the kernel said.
        detail: KernelError,
    },
    /// Any other refusal by the kernel.
    #[error("{context}: {detail}")]
    Kernel {
        /// The operation and object.
        context: String,
        /// What the kernel said.
        detail: KernelError,
    },
    /// No answer from the kernel (or peer) within the configured timeout.
    #[error("{context}: no answer within {after:?}")]
    Timeout {
        /// The operation and object.
        context: String,
        /// The timeout that elapsed.
        after: Duration,
    },
    /// A dump was interrupted by concurrent changes (`NLM_F_DUMP_INTR`) as
    /// many times as retries were allowed: its content may be inconsistent
    /// and is not returned.
    #[error(
        "{context}: dump interrupted by concurrent changes {attempts} time(s); nothing returned"
    )]
    DumpInterrupted {
        /// The operation and object.
        context: String,
        /// How many attempts were made.
        attempts: u32,
    },
    /// The socket's receive buffer overflowed (`ENOBUFS`): replies were
    /// lost, so the result of the operation is unknown.
    #[error("{context}: netlink receive buffer overrun (ENOBUFS): replies were lost")]
    Overrun {
        /// The operation and object.
        context: String,
    },
    /// A reply could not be decoded.
    #[error("{context}: undecodable reply from the kernel: {reason}")]
    Decode {
        /// The operation and object.
        context: String,
        /// Why it could not be decoded.
        reason: String,
    },
    /// A system call failed.
    #[error("{context}: {source}")]
    Io {
        /// The operation and object.
        context: String,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// The caller's input was rejected before anything was sent.
    #[error("invalid {what}: {reason}")]
    InvalidInput {
        /// What was wrong, e.g. `port "80x"`.
        what: String,
        /// Why.
        reason: String,
    },
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Classifies a kernel refusal by its errno into the case users act on.
    pub fn from_kernel(context: impl Into<String>, detail: KernelError) -> Self {
        let context = context.into();
        match detail.errno {
            libc::EPERM | libc::EACCES => Error::NotPermitted { context, detail },
            libc::EEXIST => Error::Exists { context, detail },
            libc::ENOENT | libc::ESRCH | libc::ENODEV => Error::NotFound { context, detail },
            libc::EINVAL | libc::ERANGE | libc::E2BIG | libc::EMSGSIZE => {
                Error::InvalidArgument { context, detail }
            }
            libc::EBUSY => Error::Busy { context, detail },
            libc::ENOSPC => Error::Full { context, detail },
            _ => Error::Kernel { context, detail },
        }
    }

    /// An [`Error::Io`] with context.
    pub fn io(context: impl Into<String>, source: io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }

    /// An [`Error::InvalidInput`].
    pub fn invalid_input(what: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::InvalidInput {
            what: what.into(),
            reason: reason.into(),
        }
    }

    /// What the kernel said, when this error is a kernel refusal.
    pub fn kernel_error(&self) -> Option<&KernelError> {
        match self {
            Error::NotPermitted { detail, .. }
            | Error::Exists { detail, .. }
            | Error::NotFound { detail, .. }
            | Error::InvalidArgument { detail, .. }
            | Error::Busy { detail, .. }
            | Error::Full { detail, .. }
            | Error::Kernel { detail, .. } => Some(detail),
            _ => None,
        }
    }

    /// The errno of a kernel refusal or of a failed system call.
    pub fn errno(&self) -> Option<i32> {
        match self {
            Error::Io { source, .. } => source.raw_os_error(),
            _ => self.kernel_error().map(|k| k.errno),
        }
    }

    /// The context (operation and object) this error is about, if any.
    pub fn context(&self) -> Option<&str> {
        match self {
            Error::NotPermitted { context, .. }
            | Error::Unsupported { context, .. }
            | Error::Exists { context, .. }
            | Error::NotFound { context, .. }
            | Error::InvalidArgument { context, .. }
            | Error::Busy { context, .. }
            | Error::Full { context, .. }
            | Error::Kernel { context, .. }
            | Error::Timeout { context, .. }
            | Error::DumpInterrupted { context, .. }
            | Error::Overrun { context }
            | Error::Decode { context, .. }
            | Error::Io { context, .. } => Some(context),
            Error::InvalidInput { .. } => None,
        }
    }

    /// Replaces the context of this error (used by crates that know the
    /// object better than the engine did).
    pub fn with_context(mut self, new: impl Into<String>) -> Self {
        let new = new.into();
        match &mut self {
            Error::NotPermitted { context, .. }
            | Error::Unsupported { context, .. }
            | Error::Exists { context, .. }
            | Error::NotFound { context, .. }
            | Error::InvalidArgument { context, .. }
            | Error::Busy { context, .. }
            | Error::Full { context, .. }
            | Error::Kernel { context, .. }
            | Error::Timeout { context, .. }
            | Error::DumpInterrupted { context, .. }
            | Error::Overrun { context }
            | Error::Decode { context, .. }
            | Error::Io { context, .. } => *context = new,
            Error::InvalidInput { .. } => {}
        }
        self
    }

    /// True when this error leaves the socket in an unknown state (lost or
    /// pending replies), so the connection must reopen it.
    pub(crate) fn poisons_socket(&self) -> bool {
        matches!(
            self,
            Error::Timeout { .. } | Error::Overrun { .. } | Error::Io { .. }
        )
    }
}

/// A message or attribute that could not be decoded: why, and the object
/// or attribute it was about when the decoder knew it.
///
/// The `parse`/`decode` functions of every crate built on the engine return
/// it; the handles turn it into [`Error::Decode`] with the operation's
/// context ([`DecodeError::into_error`]). It is this project's own type, so
/// a new netlink-packet-core release does not change these signatures.
///
/// ```
/// use nl_engine::DecodeError;
/// let e = DecodeError::new("expected 4 bytes, got 3").in_object("service port");
/// assert_eq!(e.to_string(), "service port: expected 4 bytes, got 3");
/// assert_eq!(e.reason(), "expected 4 bytes, got 3");
/// let e = e.into_error("list services");
/// assert!(matches!(e, nl_engine::Error::Decode { .. }));
/// assert!(e.to_string().starts_with("list services: undecodable reply"), "{e}");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{reason}", object.as_deref().map(|o| format!("{o}: ")).unwrap_or_default())]
pub struct DecodeError {
    object: Option<String>,
    reason: String,
}

impl DecodeError {
    /// A decoding failure for `reason`, not yet tied to an object.
    pub fn new(reason: impl Into<String>) -> Self {
        DecodeError {
            object: None,
            reason: reason.into(),
        }
    }

    /// Names the object or attribute being decoded (an outer one goes
    /// before an inner one already named: `service: destination`).
    pub fn in_object(mut self, object: impl Into<String>) -> Self {
        let object = object.into();
        self.object = Some(match self.object.take() {
            Some(inner) => format!("{object}: {inner}"),
            None => object,
        });
        self
    }

    /// Why decoding failed.
    pub fn reason(&self) -> &str {
        &self.reason
    }

    /// The object or attribute being decoded, when known.
    pub fn object(&self) -> Option<&str> {
        self.object.as_deref()
    }

    /// The [`Error::Decode`] of the operation `context` (the object named
    /// by this error, if any, stays in its reason).
    pub fn into_error(self, context: impl Into<String>) -> Error {
        Error::Decode {
            context: context.into(),
            reason: self.to_string(),
        }
    }
}

impl From<String> for DecodeError {
    fn from(reason: String) -> Self {
        DecodeError::new(reason)
    }
}

impl From<&str> for DecodeError {
    fn from(reason: &str) -> Self {
        DecodeError::new(reason)
    }
}

/// For `?` inside decoders that use netlink-packet-core's parsers.
impl From<netlink_packet_core::DecodeError> for DecodeError {
    fn from(e: netlink_packet_core::DecodeError) -> Self {
        DecodeError::new(e.to_string())
    }
}

/// For the netlink-packet-core trait impls (`ParseableParametrized`,
/// `Parseable`) that must return that crate's error.
impl From<DecodeError> for netlink_packet_core::DecodeError {
    fn from(e: DecodeError) -> Self {
        netlink_packet_core::DecodeError::from(e.to_string())
    }
}

/// `?` on a decoder inside an operation: an [`Error::Decode`] whose context
/// is the object the decoder named (or `decode` when it named none). Prefer
/// [`DecodeError::into_error`] with the operation's context.
impl From<DecodeError> for Error {
    fn from(e: DecodeError) -> Self {
        let context = e.object.clone().unwrap_or_else(|| "decode".to_owned());
        Error::Decode {
            context,
            reason: e.reason,
        }
    }
}

/// `?` on a `std::io` call: an [`Error::Io`] whose context is only `I/O
/// error`. Prefer [`Error::io`] where the object is known, so the error
/// names it.
impl From<io::Error> for Error {
    fn from(source: io::Error) -> Self {
        Error::io("I/O error", source)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_io_error() {
        fn open() -> Result<std::fs::File> {
            Ok(std::fs::File::open("/nonexistent/nl-engine-test")?)
        }
        let e = open().unwrap_err();
        assert!(matches!(e, Error::Io { .. }), "{e:?}");
        assert_eq!(e.errno(), Some(libc::ENOENT));
        assert_eq!(e.context(), Some("I/O error"));
        assert!(e.to_string().starts_with("I/O error: "), "{e}");
    }

    #[test]
    fn classifies_errnos() {
        let e = Error::from_kernel("add service", KernelError::from_errno(libc::EEXIST));
        assert!(matches!(e, Error::Exists { .. }));
        let e = Error::from_kernel("x", KernelError::from_errno(libc::EPERM));
        assert!(e.to_string().contains("CAP_NET_ADMIN"), "{e}");
        let e = Error::from_kernel("x", KernelError::from_errno(libc::ESRCH));
        assert!(matches!(e, Error::NotFound { .. }));
        let e = Error::from_kernel("x", KernelError::from_errno(libc::EOPNOTSUPP));
        assert!(matches!(e, Error::Kernel { .. }));
        assert_eq!(e.errno(), Some(libc::EOPNOTSUPP));
    }

    #[test]
    fn display_carries_extack() {
        let d = KernelError {
            errno: libc::EINVAL,
            message: Some("Unknown scheduler".into()),
            bad_attr_offset: Some(24),
            description: None,
            echo: None,
        };
        let e = Error::from_kernel("add service TCP 10.0.0.1:80", d);
        let s = e.to_string();
        assert!(
            s.starts_with("add service TCP 10.0.0.1:80: invalid argument"),
            "{s}"
        );
        assert!(s.contains("Unknown scheduler"), "{s}");
        assert!(s.contains("byte 24"), "{s}");
    }
}
