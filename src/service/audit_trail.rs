//! Reading the audit trail, newest first, in pages.

use chrono::{DateTime, Utc};

use crate::context::Ctx;
use crate::error::Error;

/// One recorded event.
#[derive(Debug, Clone)]
pub struct Event {
    pub id: i64,
    pub at: DateTime<Utc>,
    /// A user id, `client:ID`, `cli`, `system` or `anonymous`.
    pub actor: String,
    pub action: String,
    pub target: String,
    pub client_addr: String,
    /// `success` or `failure`.
    pub outcome: String,
}

/// What to list: events before `cursor` (an id from an earlier page), by
/// `actor`, of `action`.
pub struct Filter<'a> {
    pub cursor: Option<&'a str>,
    pub actor: Option<&'a str>,
    pub action: Option<&'a str>,
    pub limit: u32,
}

/// A page of events and the cursor of the next one, if any. What this
/// replica still holds in its buffer is written first, so it is listed.
pub async fn list(ctx: &Ctx, filter: Filter<'_>) -> Result<(Vec<Event>, Option<String>), Error> {
    let before = filter
        .cursor
        .map(str::parse::<i64>)
        .transpose()
        .map_err(|_| Error::InvalidRequest("cursor must come from an earlier page".into()))?;
    ctx.audit.flush().await?;
    let records = ctx
        .store
        .list_audit(before, filter.actor, filter.action, filter.limit)
        .await?;
    let next = (records.len() == filter.limit as usize)
        .then(|| records.last().map(|r| r.id.to_string()))
        .flatten();
    let events = records
        .into_iter()
        .map(|r| Event {
            id: r.id,
            at: r.at.0,
            actor: r.actor,
            action: r.action,
            target: r.target,
            client_addr: r.client_addr,
            outcome: r.outcome,
        })
        .collect();
    Ok((events, next))
}
