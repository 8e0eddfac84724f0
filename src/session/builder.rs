//! The session builder: folds a dissector's events ([`Event`]) into the model while the
//! session is open, and makes the [`Session`] when it ends. It replays every change onto a
//! transcript of its own ([`Transcript::apply`]), so what it builds equals what the dissector
//! saw, bounded the same way; messages are handed back to the caller, which decodes them.

use super::mail::{self, MessageInfo, Session};
use crate::flow::ConnSummary;
use crate::proto::Bounds;
use crate::proto::event::Event;
use crate::proto::transcript::{Message, Transcript};
use crate::types::Protocol;

#[derive(Debug)]
pub struct Builder {
    protocol: Protocol,
    transcript: Transcript,
    ended: bool,
}

impl Builder {
    pub fn new(protocol: Protocol, bounds: Bounds) -> Builder {
        Builder {
            protocol,
            transcript: Transcript::replica(bounds),
            ended: false,
        }
    }

    pub fn protocol(&self) -> Protocol {
        self.protocol
    }

    /// Folds one event in. A finished message is handed back: its bytes are for decoding,
    /// and its record comes back, decoded, to [`Builder::finish`].
    pub fn apply(&mut self, event: Event) -> Option<Message> {
        match event {
            Event::Message(m) => Some(m),
            Event::End => {
                self.ended = true;
                self.transcript.apply(Event::End);
                None
            }
            e => {
                self.transcript.apply(e);
                None
            }
        }
    }

    /// What the ClientHello told about the TLS the session switched to (read by the
    /// pipeline's TLS watch, not by the dissector).
    pub fn tls_hello(&mut self, hello: &crate::transform::Hello) {
        if let Some(mut tls) = self.transcript.tls().cloned() {
            tls.sni = tls.sni.or_else(|| hello.sni.clone());
            tls.version = tls.version.or_else(|| hello.version.clone());
            self.transcript.apply(Event::Tls(tls));
        }
    }

    /// The session, from the connection's summary and its messages (decoded, in order).
    pub fn finish(
        mut self,
        summary: &ConnSummary,
        messages: Vec<MessageInfo>,
        show_secrets: bool,
    ) -> Session {
        if !self.ended {
            self.transcript.apply(Event::End);
        }
        mail::session(
            summary,
            self.protocol,
            self.transcript,
            messages,
            show_secrets,
        )
    }
}
