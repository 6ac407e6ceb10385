//! The cache's behaviour, the same on every store: memory, SQLite, PostgreSQL, Redis.

mod common;

use std::time::Duration;

use common::Harness;
use foundry_cache::CacheError;
use serde::{Deserialize, Serialize};

const MINUTE: Duration = Duration::from_secs(60);

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Post {
    id: i64,
    title: String,
}

async fn values_round_trip_typed(h: Harness) {
    let cache = &h.cache;
    assert_eq!(cache.get::<String>("missing").await.unwrap(), None);
    cache.put("name", "Ada", MINUTE).await.unwrap();
    assert_eq!(
        cache.get::<String>("name").await.unwrap().as_deref(),
        Some("Ada")
    );
    let post = Post {
        id: 7,
        title: "Hello".into(),
    };
    cache.put("post:7", &post, MINUTE).await.unwrap();
    assert_eq!(cache.get::<Post>("post:7").await.unwrap(), Some(post));
    // Overwrite.
    cache.put("name", "Grace", MINUTE).await.unwrap();
    assert_eq!(cache.get_or("name", String::new()).await.unwrap(), "Grace");
    assert_eq!(cache.get_or("nothing", 5).await.unwrap(), 5);
}

async fn a_value_of_the_wrong_type_is_a_clear_error(h: Harness) {
    h.cache.put("name", "Ada", MINUTE).await.unwrap();
    let err = h.cache.get::<u32>("name").await.unwrap_err();
    assert!(matches!(err, CacheError::WrongType { .. }), "{err:?}");
    let message = err.to_string();
    assert!(
        message.contains("`name`") && message.contains("u32"),
        "{message}"
    );
}

async fn entries_expire_with_their_ttl_and_forever_stays(h: Harness) {
    // Only `advance` moves time on the app's clock; Redis keeps its own (its TTLs are seconds,
    // its calls sub-millisecond).
    if h.driver != "redis" {
        h.clock.freeze();
    }
    let cache = &h.cache;
    cache
        .put("short", &1, Duration::from_secs(1))
        .await
        .unwrap();
    cache.forever("long", &2).await.unwrap();
    cache
        .put("zero", &3, Duration::from_secs(60))
        .await
        .unwrap();
    // A zero TTL forgets, as Laravel's `put` with seconds <= 0.
    cache.put("zero", &3, Duration::ZERO).await.unwrap();
    assert_eq!(cache.get::<i32>("zero").await.unwrap(), None);
    assert!(cache.has("short").await.unwrap());
    h.advance(Duration::from_millis(1100)).await;
    assert_eq!(cache.get::<i32>("short").await.unwrap(), None);
    assert!(!cache.has("short").await.unwrap());
    assert_eq!(cache.get::<i32>("long").await.unwrap(), Some(2));
    // An expired key can be added again.
    assert!(cache.add("short", &4, MINUTE).await.unwrap());
}

async fn add_is_atomic(h: Harness) {
    assert!(h.cache.add("once", &1, MINUTE).await.unwrap());
    assert!(!h.cache.add("once", &2, MINUTE).await.unwrap());
    assert_eq!(h.cache.get::<i32>("once").await.unwrap(), Some(1));
    let tasks: Vec<_> = (0..16)
        .map(|i| {
            let cache = h.cache.clone();
            tokio::spawn(async move { cache.add("race", &i, MINUTE).await.unwrap() })
        })
        .collect();
    let mut winners = 0;
    for task in tasks {
        winners += usize::from(task.await.unwrap());
    }
    assert_eq!(winners, 1);
}

async fn increment_and_decrement_are_atomic(h: Harness) {
    let cache = &h.cache;
    assert_eq!(cache.increment("hits", 1).await.unwrap(), 1);
    assert_eq!(cache.increment("hits", 5).await.unwrap(), 6);
    assert_eq!(cache.decrement("hits", 2).await.unwrap(), 4);
    assert_eq!(cache.get::<i64>("hits").await.unwrap(), Some(4));
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let cache = h.cache.clone();
            tokio::spawn(async move { cache.increment("hits", 1).await.unwrap() })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    assert_eq!(cache.get::<i64>("hits").await.unwrap(), Some(24));
    // An increment keeps the entry's TTL.
    cache.put("ttl", &10, Duration::from_secs(1)).await.unwrap();
    assert_eq!(cache.increment("ttl", 1).await.unwrap(), 11);
    h.advance(Duration::from_millis(1100)).await;
    assert_eq!(cache.get::<i64>("ttl").await.unwrap(), None);
    cache.put("word", "ten", MINUTE).await.unwrap();
    let err = cache.increment("word", 1).await.unwrap_err();
    assert!(matches!(err, CacheError::NotAnInteger { .. }), "{err:?}");
    assert_eq!(
        cache.get::<String>("word").await.unwrap().as_deref(),
        Some("ten")
    );
}

async fn remember_computes_once(h: Harness) {
    let calls = std::sync::atomic::AtomicUsize::new(0);
    let compute = || async {
        calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        vec![1, 2, 3]
    };
    let first: Vec<i32> = h.cache.remember("list", MINUTE, compute).await.unwrap();
    let second: Vec<i32> = h.cache.remember("list", MINUTE, compute).await.unwrap();
    assert_eq!((first, second), (vec![1, 2, 3], vec![1, 2, 3]));
    assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 1);
    let forever: String = h
        .cache
        .remember_forever("config", || async { "v1".to_owned() })
        .await
        .unwrap();
    assert_eq!(forever, "v1");
    h.advance(Duration::from_secs(1)).await;
    let again: String = h
        .cache
        .remember_forever("config", || async { "v2".to_owned() })
        .await
        .unwrap();
    assert_eq!(again, "v1");
    let failed: Result<i32, CacheError> = h
        .cache
        .try_remember("fails", MINUTE, || async {
            Err(CacheError::InvalidLimit("boom".into()))
        })
        .await;
    assert!(failed.is_err());
    assert!(!h.cache.has("fails").await.unwrap());
}

async fn many_pull_has_and_forget(h: Harness) {
    let cache = &h.cache;
    cache
        .put_many(&[("a", 1), ("b", 2), ("a", 3)], MINUTE)
        .await
        .unwrap();
    assert_eq!(
        cache.many::<i32>(&["a", "missing", "b"]).await.unwrap(),
        [Some(3), None, Some(2)]
    );
    assert_eq!(cache.pull::<i32>("a").await.unwrap(), Some(3));
    assert_eq!(cache.pull::<i32>("a").await.unwrap(), None);
    assert!(cache.has("b").await.unwrap());
    cache.forever("null", &Option::<i32>::None).await.unwrap();
    assert!(
        !cache.has("null").await.unwrap(),
        "a stored null counts as missing"
    );
    assert!(cache.forget("b").await.unwrap());
    assert!(!cache.forget("b").await.unwrap());
    assert!(!cache.has("b").await.unwrap());
}

async fn flush_empties_the_store_but_keeps_locks(h: Harness) {
    h.cache.put("x", &1, MINUTE).await.unwrap();
    h.cache.forever("y", &2).await.unwrap();
    let lock = h.cache.lock("job", MINUTE);
    assert!(lock.get().await.unwrap());
    h.cache.flush().await.unwrap();
    assert_eq!(
        h.cache.many::<i32>(&["x", "y"]).await.unwrap(),
        [None, None]
    );
    assert!(lock.is_owned().await.unwrap());
    assert!(lock.release().await.unwrap());
}

async fn locks_have_one_owner(h: Harness) {
    let first = h.cache.lock("report", MINUTE);
    let second = h.cache.lock("report", MINUTE);
    assert_ne!(first.owner(), second.owner());
    assert!(first.get().await.unwrap());
    assert!(!second.get().await.unwrap());
    // A non-owner's release is refused and changes nothing.
    assert!(!second.release().await.unwrap());
    assert!(first.is_owned().await.unwrap());
    // The owner token restores the lock elsewhere (another process, a queued job).
    let restored = h.cache.restore_lock("report", first.owner());
    assert!(restored.release().await.unwrap());
    assert!(second.get().await.unwrap());
    // Force release ignores ownership.
    first.force_release().await.unwrap();
    assert!(!second.is_owned().await.unwrap());
    let ran = first.get_then(|| async { 42 }).await.unwrap();
    assert_eq!(ran, Some(42));
    assert!(second.get().await.unwrap(), "get_then released the lock");
    assert_eq!(first.get_then(|| async { 1 }).await.unwrap(), None);
}

async fn locks_expire_after_their_ttl(h: Harness) {
    let first = h.cache.lock("ttl", Duration::from_secs(1));
    assert!(first.get().await.unwrap());
    h.advance(Duration::from_millis(1100)).await;
    let second = h.cache.lock("ttl", MINUTE);
    assert!(second.get().await.unwrap());
    assert!(
        !first.release().await.unwrap(),
        "an expired owner no longer holds it"
    );
    assert!(second.release().await.unwrap());
}

async fn block_waits_for_the_lock_or_times_out(h: Harness) {
    let holder = h.cache.lock("busy", MINUTE);
    assert!(holder.get().await.unwrap());
    let waiter = h
        .cache
        .lock("busy", MINUTE)
        .poll_every(Duration::from_millis(10));
    let err = waiter.block(Duration::from_millis(100)).await.unwrap_err();
    assert!(matches!(err, CacheError::LockTimeout { .. }), "{err:?}");
    assert!(err.to_string().contains("`busy`"), "{err}");
    let releaser = holder.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(50)).await;
        releaser.release().await.unwrap();
    });
    let value = waiter
        .block_then(Duration::from_secs(5), || async { "done" })
        .await
        .unwrap();
    assert_eq!(value, "done");
    // Many contenders: exactly one wins.
    let tasks: Vec<_> = (0..12)
        .map(|_| {
            let lock = h.cache.lock("contended", MINUTE);
            tokio::spawn(async move { lock.get().await.unwrap() })
        })
        .collect();
    let mut winners = 0;
    for task in tasks {
        winners += usize::from(task.await.unwrap());
    }
    assert_eq!(winners, 1);
}

async fn tags_group_entries(h: Harness) {
    let people = h.cache.tags(["people"]);
    let artists = h.cache.tags(["people", "artists"]);
    if h.driver == "database" {
        let err = people.put("ada", "Ada", MINUTE).await.unwrap_err();
        assert!(matches!(err, CacheError::TagsUnsupported { .. }), "{err:?}");
        assert!(err.to_string().contains("does not support tags"), "{err}");
        return;
    }
    people.put("ada", "Ada", MINUTE).await.unwrap();
    artists.forever("frida", "Frida").await.unwrap();
    h.cache
        .tags(["authors"])
        .put("ursula", "Ursula", MINUTE)
        .await
        .unwrap();
    assert_eq!(
        people.get::<String>("ada").await.unwrap().as_deref(),
        Some("Ada")
    );
    // Reads must name the same tags.
    assert_eq!(h.cache.get::<String>("ada").await.unwrap(), None);
    assert_eq!(artists.get::<String>("ada").await.unwrap(), None);
    assert_eq!(
        artists.get::<String>("frida").await.unwrap().as_deref(),
        Some("Frida")
    );
    // Flushing a tag drops every entry carrying it, whatever its other tags.
    h.cache.tags(["people"]).flush().await.unwrap();
    assert_eq!(people.get::<String>("ada").await.unwrap(), None);
    assert_eq!(artists.get::<String>("frida").await.unwrap(), None);
    let authors = h.cache.tags(["authors"]);
    assert_eq!(
        authors.get::<String>("ursula").await.unwrap().as_deref(),
        Some("Ursula")
    );
    let n: i32 = authors.remember("n", MINUTE, || async { 5 }).await.unwrap();
    assert_eq!(n, 5);
    assert!(authors.forget("n").await.unwrap());
}

store_tests!(
    values_round_trip_typed,
    a_value_of_the_wrong_type_is_a_clear_error,
    entries_expire_with_their_ttl_and_forever_stays,
    add_is_atomic,
    increment_and_decrement_are_atomic,
    remember_computes_once,
    many_pull_has_and_forget,
    flush_empties_the_store_but_keeps_locks,
    locks_have_one_owner,
    locks_expire_after_their_ttl,
    block_waits_for_the_lock_or_times_out,
    tags_group_entries,
);
