//! The rate limiter's behaviour for every algorithm, the same in memory, on Redis and on a
//! database store (SQLite, PostgreSQL).

mod common;

use std::time::Duration;

use common::Harness;
use foundry_cache::{Algorithm, Limit};

const MINUTE: Duration = Duration::from_secs(60);

async fn every_algorithm_allows_exactly_the_limit_then_denies(h: Harness) {
    for algorithm in Algorithm::ALL {
        let key = format!("burst:{}", algorithm.name());
        let limit = Limit::per_minute(5).algorithm(algorithm);
        let mut remaining = Vec::new();
        for _ in 0..5 {
            let decision = h.limiter.acquire(&key, &limit).await.unwrap();
            assert!(decision.allowed, "{algorithm:?}");
            assert_eq!(decision.limit, 5);
            remaining.push(decision.remaining);
        }
        assert_eq!(remaining, [4, 3, 2, 1, 0], "{algorithm:?}");
        let denied = h.limiter.acquire(&key, &limit).await.unwrap();
        assert!(!denied.allowed, "{algorithm:?}");
        assert_eq!(denied.remaining, 0);
        assert!(denied.retry_after > Duration::ZERO, "{algorithm:?}");
        assert!(
            denied.retry_after <= Duration::from_secs(120),
            "{algorithm:?}: {denied:?}"
        );
        // Peeking does not count.
        let peek = h.limiter.peek(&key, &limit).await.unwrap();
        assert!(!peek.allowed && peek.remaining == 0, "{algorithm:?}");
        // Another key has its own count.
        assert!(
            h.limiter
                .acquire(&format!("{key}:other"), &limit)
                .await
                .unwrap()
                .allowed
        );
        h.limiter.clear(&key).await.unwrap();
        let fresh = h.limiter.acquire(&key, &limit).await.unwrap();
        assert!(
            fresh.allowed && fresh.remaining == 4,
            "{algorithm:?} after clear: {fresh:?}"
        );
    }
}

async fn denied_requests_may_retry_after_the_time_given(h: Harness) {
    // Time stands still between the three requests: on the app's clock it is frozen; Redis
    // keeps its own, so the period there is long enough that no stall refills a token.
    let period = if h.driver == "redis" {
        Duration::from_secs(2)
    } else {
        h.clock.freeze();
        Duration::from_millis(600)
    };
    for algorithm in Algorithm::ALL {
        let key = format!("retry:{}", algorithm.name());
        let limit = Limit::new(2, period).algorithm(algorithm);
        h.limiter.acquire(&key, &limit).await.unwrap();
        h.limiter.acquire(&key, &limit).await.unwrap();
        let denied = h.limiter.acquire(&key, &limit).await.unwrap();
        assert!(!denied.allowed, "{algorithm:?}");
        h.advance(denied.retry_after).await;
        let again = h.limiter.acquire(&key, &limit).await.unwrap();
        assert!(
            again.allowed,
            "{algorithm:?}: waited {:?}, then {again:?}",
            denied.retry_after
        );
    }
}

async fn concurrent_requests_get_exactly_the_limit(h: Harness) {
    for algorithm in Algorithm::ALL {
        let key = format!("race:{}", algorithm.name());
        let limit = Limit::per_minute(10).algorithm(algorithm);
        let tasks: Vec<_> = (0..30)
            .map(|_| {
                let limiter = h.limiter.clone();
                let (key, limit) = (key.clone(), limit.clone());
                tokio::spawn(async move { limiter.acquire(&key, &limit).await.unwrap().allowed })
            })
            .collect();
        let mut allowed = 0;
        for task in tasks {
            allowed += usize::from(task.await.unwrap());
        }
        assert_eq!(allowed, 10, "{algorithm:?}");
    }
}

async fn laravels_api_counts_a_fixed_window(h: Harness) {
    // Only `advance` moves time on the app's clock; Redis keeps its own (its TTLs are seconds,
    // its calls sub-millisecond).
    if h.driver != "redis" {
        h.clock.freeze();
    }
    let limiter = &h.limiter;
    assert!(!limiter.too_many_attempts("login", 3).await.unwrap());
    assert_eq!(limiter.available_in("login").await.unwrap(), Duration::ZERO);
    assert_eq!(
        limiter.hit("login", Duration::from_secs(1)).await.unwrap(),
        1
    );
    assert_eq!(
        limiter
            .increment("login", Duration::from_secs(1), 2)
            .await
            .unwrap(),
        3
    );
    assert_eq!(limiter.attempts("login").await.unwrap(), 3);
    assert!(limiter.too_many_attempts("login", 3).await.unwrap());
    assert_eq!(limiter.remaining("login", 5).await.unwrap(), 2);
    let wait = limiter.available_in("login").await.unwrap();
    assert!(
        wait > Duration::ZERO && wait <= Duration::from_secs(1),
        "{wait:?}"
    );
    // `hit` counts past any maximum, as Laravel's does.
    assert_eq!(
        limiter.hit("login", Duration::from_secs(1)).await.unwrap(),
        4
    );
    h.advance(Duration::from_millis(1100)).await;
    assert_eq!(limiter.attempts("login").await.unwrap(), 0);
    assert!(!limiter.too_many_attempts("login", 3).await.unwrap());

    let mut ran = 0;
    for _ in 0..3 {
        if limiter
            .attempt("send", 2, MINUTE, || async { ran += 1 })
            .await
            .unwrap()
            .is_some()
        {
            continue;
        }
    }
    assert_eq!(ran, 2);
    limiter.clear("send").await.unwrap();
    assert_eq!(limiter.attempts("send").await.unwrap(), 0);
}

async fn unlimited_and_invalid_limits(h: Harness) {
    for _ in 0..100 {
        assert!(
            h.limiter
                .acquire("free", &Limit::none())
                .await
                .unwrap()
                .allowed
        );
    }
    let err = h
        .limiter
        .acquire("bad", &Limit::new(5, Duration::ZERO))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("period"), "{err}");
}

store_tests!(
    every_algorithm_allows_exactly_the_limit_then_denies,
    denied_requests_may_retry_after_the_time_given,
    concurrent_requests_get_exactly_the_limit,
    laravels_api_counts_a_fixed_window,
    unlimited_and_invalid_limits,
);
