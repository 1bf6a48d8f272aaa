//! This replica's in-memory copies of database state, so the hot paths
//! (every token check, every session use, every client-credentials grant)
//! cost no database round trip. The database stays the truth; these are
//! kept fresh three ways:
//!
//! - this replica's own changes are applied here as soon as they commit;
//! - other replicas' changes arrive by notification (LISTEN/NOTIFY on
//!   PostgreSQL), through the listener in [`sync`];
//! - a periodic resync reloads the revocation list (and the keys), making
//!   good anything a lost notification missed; after the listener
//!   reconnects, the caches are cleared and the list reloaded at once.
//!
//! What each holds: [`keys`] the signing keys, decrypted and scheduled;
//! [`revocations`] the revoked token ids and per-user
//! watermarks (loaded whole, pruned as tokens expire), [`sessions`] a short,
//! bounded cache of sessions (never trusted past its TTL), [`clients`] the
//! registered clients used since start (dropped on any change).

pub mod clients;
pub mod keys;
pub mod revocations;
pub mod sessions;
pub mod sync;
