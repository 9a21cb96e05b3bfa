//! Blocking use of the async handles, written once for the three crates.
//!
//! Each crate's `blocking` module (`ipvs_nl::blocking::IpvsHandle`,
//! `ipset_nl::blocking::IpsetHandle`, `nftables_glue::blocking::NftHandle`)
//! wraps its async handle together with a [`Runtime`] that every blocking
//! method runs the async method's future on, to completion, on the calling
//! thread. That suits short-lived programs (command-line tools, CNI plugins)
//! that have no runtime of their own.
//!
//! With the `tokio` feature (the default, alone or with `smol`) the
//! [`Runtime`] is a private current-thread Tokio runtime (I/O and time
//! enabled). With `smol` alone it is async-io's `block_on`, which drives
//! async-io's reactor on the calling thread: no runtime and no thread is
//! started, and no Tokio is in the build.
//!
//! With the `tokio` feature, a blocking call made on a thread where a Tokio
//! runtime is current
//! (`tokio::runtime::Handle::try_current` finds one: inside an async task,
//! inside another runtime's `block_on`, under a runtime's `enter` guard, on
//! a `spawn_blocking` thread) is refused with an [`Error::Io`] naming the
//! handle and the method, never a panic: blocking there would stall the
//! runtime. Use the async handle there.
//!
//! ```no_run
//! use nl_engine::blocking::Runtime;
//! use nl_engine::{Connection, Netns, Protocol};
//! let rt = Runtime::new("my::BlockingHandle", "my::Handle")?;
//! let conn = Connection::open(Protocol::Generic, &Netns::current())?;
//! let ipvs = rt.block_on("resolve_family", nl_engine::genl::resolve_family(&conn, "IPVS"))?;
//! println!("IPVS is family {}", ipvs.id);
//! # Ok::<(), nl_engine::Error>(())
//! ```

use std::future::Future;
#[cfg(feature = "tokio")]
use std::io;

// Without Tokio, `Error` is named by the docs only.
#[cfg_attr(not(feature = "tokio"), allow(unused_imports))]
use crate::Error;
use crate::Result;

/// What a blocking handle runs its futures on: a private current-thread
/// Tokio runtime (I/O and time enabled) with the `tokio` feature,
/// async-io's `block_on` with `smol` alone (see the [module](self)
/// documentation).
///
/// Calls from several threads share it (one drives the kernel sockets at a
/// time, the others wait their turn); for parallel requests, use one
/// blocking handle per thread, or the async handles.
///
/// Dropping it inside a runtime is allowed: it then shuts down without
/// waiting (nothing of the handles runs in the background).
#[derive(Debug)]
pub struct Runtime {
    // `None` only while being dropped.
    #[cfg(feature = "tokio")]
    rt: Option<tokio::runtime::Runtime>,
    blocking: &'static str,
    async_handle: &'static str,
}

/// The error for a blocking call made where a Tokio runtime is current.
/// `method`: the method called, `None` for a constructor.
#[cfg(feature = "tokio")]
fn inside_runtime(blocking: &str, async_handle: &str, method: Option<&str>) -> Error {
    let context = match method {
        Some(m) => format!("{blocking}::{m}"),
        None => format!("create {blocking}"),
    };
    Error::io(
        context,
        io::Error::other(format!(
            "blocking call on a thread inside a Tokio runtime (it would stall the runtime): \
             use the async {async_handle} there"
        )),
    )
}

/// True on a thread where a Tokio runtime is current.
#[cfg(feature = "tokio")]
fn in_runtime() -> bool {
    tokio::runtime::Handle::try_current().is_ok()
}

impl Runtime {
    /// Starts the runtime of the blocking handle `blocking`, which wraps the
    /// async handle `async_handle` (both as errors name them, e.g.
    /// `"ipset_nl::blocking::IpsetHandle"` and `"ipset_nl::IpsetHandle"`).
    ///
    /// With the `tokio` feature, fails with [`Error::Io`] inside a Tokio
    /// runtime (see the [module](self) documentation) or when the runtime
    /// cannot be started (no file descriptors or memory left). With `smol`
    /// alone it cannot fail.
    #[cfg(feature = "tokio")]
    pub fn new(blocking: &'static str, async_handle: &'static str) -> Result<Self> {
        if in_runtime() {
            return Err(inside_runtime(blocking, async_handle, None));
        }
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| {
                Error::io(
                    format!("{blocking}: start its current-thread Tokio runtime"),
                    e,
                )
            })?;
        Ok(Runtime {
            rt: Some(rt),
            blocking,
            async_handle,
        })
    }

    /// Runs `fut` to completion on this thread and returns its result;
    /// `method` names the call in errors.
    ///
    /// With the `tokio` feature, fails with [`Error::Io`], without polling
    /// `fut`, on a thread where a Tokio runtime is current.
    pub fn block_on<T>(&self, method: &str, fut: impl Future<Output = Result<T>>) -> Result<T> {
        self.run(method, fut)?
    }

    /// [`block_on`](Self::block_on) for a future of any output.
    #[cfg(feature = "tokio")]
    pub fn run<F: Future>(&self, method: &str, fut: F) -> Result<F::Output> {
        if in_runtime() {
            return Err(inside_runtime(
                self.blocking,
                self.async_handle,
                Some(method),
            ));
        }
        match &self.rt {
            Some(rt) => Ok(rt.block_on(fut)),
            // unreachable: `rt` is taken only in `drop`
            None => Err(Error::io(
                format!("{}::{method}", self.blocking),
                io::Error::other("its runtime is shut down"),
            )),
        }
    }
}

#[cfg(not(feature = "tokio"))]
impl Runtime {
    /// Names the blocking handle `blocking`, which wraps the async handle
    /// `async_handle` (both as errors name them, e.g.
    /// `"ipset_nl::blocking::IpsetHandle"` and `"ipset_nl::IpsetHandle"`).
    /// With `smol` alone nothing is started and it cannot fail.
    pub fn new(blocking: &'static str, async_handle: &'static str) -> Result<Self> {
        Ok(Runtime {
            blocking,
            async_handle,
        })
    }

    /// [`block_on`](Self::block_on) for a future of any output: async-io's
    /// `block_on` on the calling thread (never an error with `smol` alone).
    pub fn run<F: Future>(&self, method: &str, fut: F) -> Result<F::Output> {
        let _ = (method, self.blocking, self.async_handle);
        Ok(async_io::block_on(fut))
    }
}

#[cfg(feature = "tokio")]
impl Drop for Runtime {
    fn drop(&mut self) {
        // Tokio panics when a runtime is dropped where blocking is not
        // allowed (a handle moved into an async task and dropped there);
        // shutting down in the background never blocks. Nothing of ours
        // runs in the background: every future ran to completion in
        // `block_on`.
        if let Some(rt) = self.rt.take() {
            if in_runtime() {
                rt.shutdown_background();
            }
        }
    }
}

/// Writes the methods of a blocking handle: each one runs the async
/// handle's method of the same name and arguments on the handle's
/// [`Runtime`](crate::blocking::Runtime).
///
/// Used inside `impl` of a struct with the fields `handle` (the async
/// handle) and `runtime` ([`Runtime`](crate::blocking::Runtime)). The first
/// line names the async handle's type (re-exported at the crate root); then
/// each method, with its docs (required), as
///
/// - `async fn name(&self, arg: Type, ...) -> Ret;`: blocks on the async
///   method;
/// - `fn name(&self, arg: Type, ...) -> Ret;`: calls the (non-async) method.
///
/// A line linking to the async method is added to each method's docs.
#[doc(hidden)]
#[macro_export]
macro_rules! blocking_methods {
    (handle $async:ident; $($rest:tt)*) => {
        $crate::blocking_methods! { @methods $async; $($rest)* }
    };
    (@methods $async:ident;) => {};
    (@methods $async:ident;
        $(#[$meta:meta])+
        async fn $name:ident $(<$($g:ident: $bound:path),+>)?
            (&self $(, $arg:ident: $ty:ty)* $(,)?) -> $ret:ty;
        $($rest:tt)*
    ) => {
        $(#[$meta])+
        #[doc = ""]
        #[doc = concat!(
            "Blocks on [`", stringify!($async), "::", stringify!($name), "`](crate::",
            stringify!($async), "::", stringify!($name), ")."
        )]
        pub fn $name $(<$($g: $bound),+>)? (&self $(, $arg: $ty)*) -> $ret {
            self.runtime
                .block_on(stringify!($name), self.handle.$name($($arg),*))
        }
        $crate::blocking_methods! { @methods $async; $($rest)* }
    };
    (@methods $async:ident;
        $(#[$meta:meta])+
        fn $name:ident $(<$($g:ident: $bound:path),+>)?
            (&self $(, $arg:ident: $ty:ty)* $(,)?) -> $ret:ty;
        $($rest:tt)*
    ) => {
        $(#[$meta])+
        #[doc = ""]
        #[doc = concat!(
            "Calls [`", stringify!($async), "::", stringify!($name), "`](crate::",
            stringify!($async), "::", stringify!($name), ")."
        )]
        pub fn $name $(<$($g: $bound),+>)? (&self $(, $arg: $ty)*) -> $ret {
            self.handle.$name($($arg),*)
        }
        $crate::blocking_methods! { @methods $async; $($rest)* }
    };
}

/// Declares a crate's blocking handle: the struct (the async handle
/// `$async` of the calling crate, and the [`Runtime`] it runs on, dropped
/// in that order) with the parts every blocking handle shares, written
/// once here: `new()` (the caller's namespace, through the crate's own
/// `in_netns`), `handle()` and `block_on(..)`; the constant `NAME` and
/// `ASYNC` (the two names the runtime's refusal inside Tokio gives) for the
/// crate's own constructors. With `; sync constructors` after the names, the
/// constructors too (`in_netns`, `with_connection`, `with_timeout`), for
/// handles whose async constructors need no exchange with the kernel.
#[doc(hidden)]
#[macro_export]
// `crate::` on purpose: the async handle is the calling crate's own.
#[allow(clippy::crate_in_macro_def)]
macro_rules! blocking_handle {
    // The three constructors of a handle whose async constructors need no
    // kernel exchange (`in_netns`, `with_connection`: nfnetlink handles),
    // and `with_timeout`, after the parts every handle has.
    ($(#[$meta:meta])+ $name:ident => $async:ident, $crate_name:literal; sync constructors) => {
        $crate::blocking_handle! { $(#[$meta])+ $name => $async, $crate_name }

        impl $name {
            #[doc = concat!(
                "A handle on another network namespace (the calling thread does not move); see [`",
                stringify!($async), "::in_netns`](crate::", stringify!($async), "::in_netns)."
            )]
            pub fn in_netns(netns: &$crate::Netns) -> $crate::Result<Self> {
                let runtime = $crate::blocking::Runtime::new(NAME, ASYNC)?;
                let handle = crate::$async::in_netns(netns)?;
                Ok($name { handle, runtime })
            }

            #[doc = concat!(
                "A handle over an already opened connection; see [`",
                stringify!($async), "::with_connection`](crate::", stringify!($async),
                "::with_connection)."
            )]
            pub fn with_connection(conn: $crate::Connection) -> $crate::Result<Self> {
                let runtime = $crate::blocking::Runtime::new(NAME, ASYNC)?;
                let handle = crate::$async::with_connection(conn)?;
                Ok($name { handle, runtime })
            }

            #[doc = concat!(
                "This handle with another timeout for each wait on the kernel; see [`",
                stringify!($async), "::with_timeout`](crate::", stringify!($async),
                "::with_timeout)."
            )]
            pub fn with_timeout(mut self, timeout: ::std::time::Duration) -> Self {
                self.handle = self.handle.with_timeout(timeout);
                self
            }
        }
    };
    ($(#[$meta:meta])+ $name:ident => $async:ident, $crate_name:literal) => {
        $(#[$meta])+
        #[derive(Debug)]
        pub struct $name {
            // dropped before the runtime its sockets are registered with
            handle: crate::$async,
            runtime: $crate::blocking::Runtime,
        }

        const NAME: &str = concat!($crate_name, "::blocking::", stringify!($name));
        const ASYNC: &str = concat!($crate_name, "::", stringify!($async));

        impl $name {
            /// A handle on the caller's own network namespace: `in_netns`
            /// of [`Netns::current`]($crate::Netns::current).
            pub fn new() -> $crate::Result<Self> {
                Self::in_netns(&$crate::Netns::current())
            }

            #[doc = concat!(
                "The async handle inside ([`", stringify!($async), "`](crate::",
                stringify!($async), ")); it may be cloned and used in any runtime."
            )]
            pub fn handle(&self) -> &crate::$async {
                &self.handle
            }

            /// Runs any future to completion on this handle's runtime,
            /// typically one borrowing [`handle`](Self::handle); the same
            /// refusal inside a Tokio runtime as every method.
            pub fn block_on<T>(
                &self,
                fut: impl ::std::future::Future<Output = $crate::Result<T>>,
            ) -> $crate::Result<T> {
                self.runtime.block_on("block_on", fut)
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn runtime_is_send_and_sync() {
        assert_send_sync::<Runtime>();
    }

    #[test]
    fn runs_a_future_outside_a_runtime() {
        let rt = Runtime::new("test::Blocking", "test::Async").unwrap();
        assert_eq!(rt.block_on("m", async { Ok(7) }).unwrap(), 7);
        assert_eq!(rt.run("m", async { 8 }).unwrap(), 8);
        // an error of the future is returned as is
        let e = rt
            .block_on::<()>("m", async { Err(Error::invalid_input("x", "y")) })
            .unwrap_err();
        assert!(matches!(e, Error::InvalidInput { .. }), "{e:?}");
    }

    #[cfg(feature = "tokio")]
    #[test]
    fn refuses_inside_a_runtime_without_panicking() {
        let rt = Runtime::new("test::Blocking", "test::Async").unwrap();
        let outer = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        outer.block_on(async {
            let e = rt.block_on("list", async { Ok(1) }).unwrap_err();
            let s = e.to_string();
            assert!(matches!(e, Error::Io { .. }), "{e:?}");
            assert!(s.starts_with("test::Blocking::list: "), "{s}");
            assert!(s.contains("inside a Tokio runtime"), "{s}");
            assert!(s.contains("use the async test::Async"), "{s}");
            let e = Runtime::new("test::Blocking", "test::Async").unwrap_err();
            assert!(e.to_string().starts_with("create test::Blocking: "), "{e}");
        });
        // under an `enter` guard too
        let guard = outer.enter();
        assert!(rt.run("m", async {}).is_err());
        drop(guard);
        // and usable again once outside
        assert_eq!(rt.block_on("m", async { Ok(2) }).unwrap(), 2);
        // dropped inside a runtime: no panic
        outer.block_on(async move { drop(rt) });
    }
}
