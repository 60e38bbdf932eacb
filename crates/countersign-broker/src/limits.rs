//! Token buckets of the agent API: one per authenticated agent, and for requests without a
//! valid token one global and one per source address (see [`crate::http::ApiConfig`]).

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::http::ApiConfig;

/// A spent budget of requests without a valid token: whose, its limits, and the wait.
#[derive(Debug)]
pub(crate) struct Limited {
    /// `from ADDRESS` or `from all sources`.
    pub scope: String,
    /// The bucket's limits.
    pub rate: Rate,
    /// Until the bucket holds a token again.
    pub wait: Duration,
}

/// Token buckets, one per authenticated agent (so the map grows with agents, not requests).
#[derive(Debug, Default)]
pub(crate) struct RateLimiter {
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
}

/// A bucket's capacity and refill rate.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Rate {
    /// Capacity.
    pub burst: u32,
    /// Refill per second.
    pub per_second: f64,
}

impl RateLimiter {
    /// Refills `key`'s bucket and returns how long until it holds one token (zero: it does
    /// now); takes that token when `take` and there is one.
    fn check(&self, key: &str, rate: Rate, take: bool) -> Result<(), Duration> {
        let now = Instant::now();
        let burst = f64::from(rate.burst.max(1));
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        let (tokens, at) = buckets.entry(key.to_owned()).or_insert((burst, now));
        *tokens = (*tokens + now.duration_since(*at).as_secs_f64() * rate.per_second).min(burst);
        *at = now;
        if *tokens >= 1.0 {
            if take {
                *tokens -= 1.0;
            }
            Ok(())
        } else if rate.per_second > 0.0 {
            Err(Duration::from_secs_f64((1.0 - *tokens) / rate.per_second))
        } else {
            Err(Duration::MAX)
        }
    }

    /// Takes one token from `key`'s bucket; `Err` with the wait until the next one.
    pub(crate) fn take(&self, key: &str, rate: Rate) -> Result<(), Duration> {
        self.check(key, rate, true)
    }

    /// Whether `key`'s bucket holds a token, without taking it; `Err` with the wait.
    fn peek(&self, key: &str, rate: Rate) -> Result<(), Duration> {
        self.check(key, rate, false)
    }

    /// Takes a token from `key`'s bucket if it has one (a failure is counted, never refused).
    fn charge(&self, key: &str, rate: Rate) {
        let _ = self.check(key, rate, true);
    }
}

/// Limits on requests without a valid token: a global bucket and one per source, and the
/// hashes of tokens that authenticated (so known agents bypass them; the store still checks
/// every request, so a revoked token is refused and forgotten).
#[derive(Debug, Default)]
pub(crate) struct Unauthenticated {
    buckets: RateLimiter,
    known: Mutex<HashSet<[u8; 32]>>,
}

/// The bucket key of all failures together (a source key is an address, never this).
const ALL_SOURCES: &str = "*";

impl ApiConfig {
    pub(crate) fn agent_rate(&self) -> Rate {
        Rate {
            burst: self.burst,
            per_second: self.per_second,
        }
    }
    fn global_rate(&self) -> Rate {
        Rate {
            burst: self.unauthenticated_burst,
            per_second: self.unauthenticated_per_second,
        }
    }
    fn source_rate(&self) -> Rate {
        Rate {
            burst: self.per_source_burst,
            per_second: self.per_source_per_second,
        }
    }
}

impl Unauthenticated {
    pub(crate) fn is_known(&self, hash: &[u8; 32]) -> bool {
        self.known
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(hash)
    }

    pub(crate) fn remember(&self, hash: [u8; 32], valid: bool) {
        let mut known = self.known.lock().unwrap_or_else(|p| p.into_inner());
        if valid {
            known.insert(hash);
        } else {
            known.remove(&hash);
        }
    }

    /// Refuses when this source's or everyone's budget of failed requests is spent.
    pub(crate) fn admit(&self, source: &str, config: &ApiConfig) -> Result<(), Limited> {
        let limited = |scope: String, rate: Rate, wait: Duration| Limited { scope, rate, wait };
        self.buckets
            .peek(source, config.source_rate())
            .map_err(|w| limited(format!("from {source}"), config.source_rate(), w))?;
        self.buckets
            .peek(ALL_SOURCES, config.global_rate())
            .map_err(|w| limited("from all sources".into(), config.global_rate(), w))
    }

    /// Counts one failed request against this source and everyone.
    pub(crate) fn charge(&self, source: &str, config: &ApiConfig) {
        self.buckets.charge(source, config.source_rate());
        self.buckets.charge(ALL_SOURCES, config.global_rate());
    }
}
