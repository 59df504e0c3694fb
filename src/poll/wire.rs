//! What the poller needs of a connection and of the connector that makes them, as two small
//! traits: [`Wire`] (one command, one reply) and [`Dial`] (make a connection, notice rotated
//! TLS files). The exporter uses the client's [`Conn`] and [`Connector`]; the poller's unit
//! tests replay captured INFO text through an in-memory pair, so its decisions (backoff,
//! missed ticks, staleness, CONFIG degradation) are tested with paused time and no sockets.

use std::future::Future;

use crate::client::{CallError, Conn, Connector, Value};

/// An open connection: one command, one reply.
pub(crate) trait Wire: Send {
    /// Sends `args` and reads the reply; an error reply is an `Err`.
    fn call<'a>(
        &'a mut self,
        args: &'a [&'a [u8]],
    ) -> impl Future<Output = Result<Value, CallError>> + Send + 'a;

    /// Drops buffers held between polls.
    fn release(&mut self);
}

/// Makes connections to one target.
pub(crate) trait Dial: Send + Sync {
    type Conn: Wire;

    /// A new connection, within the target's timeout.
    fn connect(&self) -> impl Future<Output = Result<Self::Conn, CallError>> + Send;

    /// Re-reads TLS files that changed; `true` if it did.
    fn refresh(&mut self) -> bool;

    /// Why no connection can be made until the files change, if so.
    fn problem(&self) -> Option<&CallError>;
}

impl Wire for Conn {
    fn call<'a>(
        &'a mut self,
        args: &'a [&'a [u8]],
    ) -> impl Future<Output = Result<Value, CallError>> + Send + 'a {
        Conn::call(self, args)
    }

    fn release(&mut self) {
        Conn::release(self);
    }
}

impl Dial for Connector {
    type Conn = Conn;

    fn connect(&self) -> impl Future<Output = Result<Conn, CallError>> + Send {
        Connector::connect(self)
    }

    fn refresh(&mut self) -> bool {
        Connector::refresh(self)
    }

    fn problem(&self) -> Option<&CallError> {
        Connector::problem(self)
    }
}
