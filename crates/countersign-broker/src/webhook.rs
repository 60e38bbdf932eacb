//! Callback delivery: the signed envelope is POSTed to the draft's `callback_url`, retried with
//! exponential backoff a bounded number of times; each attempt is an audit row.

use countersign_core::Envelope;
use countersign_store::AuditEvent;

use crate::{now, Broker};

pub(crate) fn spawn_delivery(broker: Broker, action_id: String, url: String, envelope: Envelope) {
    let Ok(handle) = tokio::runtime::Handle::try_current() else {
        tracing::warn!(%action_id, "no async runtime: webhook not delivered (the long-poll still works)");
        return;
    };
    handle.spawn(async move {
        let attempts = broker.config().webhook_attempts.max(1);
        let mut backoff = broker.config().webhook_backoff;
        for attempt in 1..=attempts {
            let result = broker.http().post(&url).json(&envelope).send().await;
            let (ok, detail) = match &result {
                Ok(r) => (r.status().is_success(), serde_json::json!({"url": url, "attempt": attempt, "status": r.status().as_u16()})),
                Err(e) => (false, serde_json::json!({"url": url, "attempt": attempt, "error": e.to_string()})),
            };
            let store_broker = broker.clone();
            let id = action_id.clone();
            let _ = tokio::task::spawn_blocking(move || {
                store_broker.store().audit(now(), AuditEvent::Delivery, Some(&id), &detail)
            })
            .await;
            if ok {
                return;
            }
            if attempt < attempts {
                tokio::time::sleep(backoff).await;
                backoff *= 2;
            }
        }
        tracing::warn!(%action_id, %url, "webhook delivery gave up after {attempts} attempts");
    });
}
