//! The session builder: folds a session's events ([`Event`], as a live view gets them) into
//! the model while the session is open: the exchanges, credentials, anomalies so far. It replays
//! every change onto a transcript of its own ([`Transcript::apply`]), so what it builds
//! equals what the dissector kept, bounded the same way (the dissectors' test harness and
//! fuzz targets check that for every input); messages are handed back to the caller, which
//! decodes them.
//!
//! The file-mode pipeline does not record fine-grained events at all (they would only be
//! folded back into what the dissector already holds): it builds the session from the
//! dissector's transcript with [`super::mail::session`]; a test checks that a sink folding
//! the events with a `Builder` ends up with the same exchanges.

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

    /// The session so far, as the events told it.
    pub fn transcript(&self) -> &Transcript {
        &self.transcript
    }

    /// Whether the session's end was told.
    pub fn ended(&self) -> bool {
        self.ended
    }
}
