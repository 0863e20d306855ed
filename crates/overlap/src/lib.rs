//! Interval-overlap and exposure queries over check-in stays, for contact
//! tracing at national scale.
//!
//! A *stay* is one check-in: a person at a venue during the half-open
//! interval `[t_in, t_out)`, in seconds since the Unix epoch. The *presence*
//! of a person at a venue is the union of their stays there: duplicate scans,
//! overlapping and touching stays count once.
//!
//! ```text
//!  venue V     09:00     10:00     11:00     12:00
//!  case C        [=========)                          stay, clipped to C's window
//!                [=========)~~~~)                     + linger: C's presence P_V
//!  person A   [======)  [=======)                     presence Q_A,V
//!  exposure(A) = |P_V ∩ Q_A,V|     (summed over venues)
//!  first_contact(A) = earliest instant of P_V ∩ Q_A,V
//! ```
//!
//! Queries (see `docs/semantics.md` for the full rules):
//! - [`Engine::overlaps`]: who was at a venue during a window, as maximal
//!   presence intervals (not clipped).
//! - [`Engine::contacts`] / [`Engine::contacts_many`]: people who shared a
//!   venue with a case during its infectious window, with exposure seconds.
//! - [`Engine::exposure_sites`]: where and when the cases were present.
//! - [`Engine::trace`]: F1, F2, ... hops, time-respecting.
//!
//! ```
//! use overlap::{ContactRules, Engine};
//!
//! let engine = Engine::new();
//! let t = 1_630_000_000; // 2021-08-26
//! // person 1 at venue 10 for an hour; person 2 arrives 30 minutes later.
//! engine.add_stays(&[1, 2], &[10, 10], &[t, t + 1800], &[t + 3600, t + 7200]).unwrap();
//! let c = engine.contacts(1, t, t + 86_400, ContactRules::default()).unwrap();
//! assert_eq!((c.person, c.exposure, c.first_contact), (vec![2], vec![1800], vec![t + 1800]));
//! ```
//!
//! [`Engine::open`] keeps the same engine durable in a directory: a
//! checksummed write-ahead log with group commit, and sealed partition files
//! memory-mapped on open (see `docs/storage.md`).
//!
//! Stays are partitioned by the UTC day of `t_in`; each partition is a few
//! segments of flat fixed-width columns indexing the stays by venue then time
//! and, through a permutation, by person then time: under 20 bytes per stay
//! when people make a few check-ins a day.

mod batch;
mod column;
mod engine;
mod error;
mod interval;
mod par;
mod partition;
mod query;
mod search;
mod segment;
mod store;

pub use batch::Batch;
pub use engine::{Engine, MAX_TIME, MIN_TIME};
pub use error::{Error, Result, StayProblem};
pub use query::{
    Cancel, Checkins, ContactPairs, ContactRules, Contacts, Sites, Stays, Trace, TraceRules,
};
pub use store::StoreOptions;
