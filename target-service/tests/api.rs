//! Every route and every error path, in-process, on SQLite and PostgreSQL.

mod common;

use axum::{body::Body, http::Method, http::Request};
use common::{API_KEY_A, API_KEY_B, Backend, Harness, STANDARD_KEY, small_config};
use serde_json::{Value, json};
use target_service::Config;

on_both_backends!(
    health_and_ready,
    keys_are_required_and_checked,
    list_paginates_filters_and_counts,
    list_rejects_bad_pages,
    create_validates_and_answers_201_with_location,
    malformed_and_oversized_bodies_keep_the_error_shape,
    get_patch_delete_one_server,
    tenants_never_see_each_other,
    reads_see_writes_at_once,
    metrics_read_filter_and_ingest,
    config_is_public_settings,
    rate_limits_answer_429_with_headers,
    unknown_routes_are_404_in_the_error_shape,
    control_characters_and_long_searches_are_422s,
    a_metric_type_named_all_has_a_series_of_its_own,
    unknown_keys_are_remembered_and_failures_limited_per_address,
    prometheus_counts_requests_and_cache_layers,
    openapi_documents_every_route,
);

async fn harness(backend: Backend) -> Harness {
    Harness::start(backend, small_config()).await
}

/// The ids of `key`'s servers, via the API.
async fn server_ids(h: &Harness, key: &str) -> Vec<i64> {
    let page = h.get("/api/v1/servers", Some(key)).await;
    page.expect(200).json()["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_i64().unwrap())
        .collect()
}

async fn health_and_ready(backend: Backend) {
    let h = harness(backend).await;
    let health = h.get("/health", None).await;
    assert_eq!(health.expect(200).json(), json!({"status": "ok"}));
    assert_eq!(health.header("cache-control"), Some("no-store"));
    let ready = h.get("/ready", None).await;
    assert_eq!(
        ready.expect(200).json(),
        json!({"status": "ready", "database": "up", "redis": "not configured"})
    );
    h.finish().await;
}

async fn keys_are_required_and_checked(backend: Backend) {
    let h = harness(backend).await;
    for path in ["/api/v1/servers", "/api/v1/metrics", "/api/v1/config"] {
        h.get(path, None).await.expect_error(401, "unauthorized");
        h.get(path, Some("no-such-key"))
            .await
            .expect_error(401, "unauthorized");
    }
    let wrong_scheme = Request::get("/api/v1/servers")
        .header("authorization", API_KEY_A)
        .body(Body::empty())
        .unwrap();
    h.call(wrong_scheme).await.expect_error(401, "unauthorized");
    h.get("/api/v1/servers", Some(API_KEY_A)).await.expect(200);
    h.finish().await;
}

async fn list_paginates_filters_and_counts(backend: Backend) {
    let h = harness(backend).await;
    for i in 0..5 {
        let name = format!("extra-{i}");
        h.send(
            Method::POST,
            "/api/v1/servers",
            API_KEY_A,
            json!({"name": name, "transport": "sse", "status": "running"}),
        )
        .await
        .expect(201);
    }
    let all = h
        .get("/api/v1/servers", Some(API_KEY_A))
        .await
        .expect(200)
        .json();
    assert_eq!(all["total"], 8, "3 seeded + 5 created");
    assert_eq!(all["per_page"], 100);
    let ids: Vec<i64> = all["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_i64().unwrap())
        .collect();
    let mut sorted = ids.clone();
    sorted.sort_unstable();
    assert_eq!(ids, sorted, "stable id order");

    let page2 = h
        .get("/api/v1/servers?page=2&per_page=3", Some(API_KEY_A))
        .await
        .expect(200)
        .json();
    assert_eq!(page2["page"], 2);
    assert_eq!(page2["total"], 8);
    let page2_ids: Vec<i64> = page2["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_i64().unwrap())
        .collect();
    assert_eq!(page2_ids, ids[3..6]);

    let past_end = h
        .get("/api/v1/servers?page=9&per_page=3", Some(API_KEY_A))
        .await
        .expect(200)
        .json();
    assert_eq!(past_end["items"], json!([]));
    assert_eq!(past_end["total"], 8);

    let prefixed = h
        .get("/api/v1/servers?q=extra-", Some(API_KEY_A))
        .await
        .expect(200)
        .json();
    assert_eq!(prefixed["total"], 5);
    let sse_running = h
        .get(
            "/api/v1/servers?transport=sse&status=running",
            Some(API_KEY_A),
        )
        .await
        .expect(200)
        .json();
    assert!(
        sse_running["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["transport"] == "sse" && s["status"] == "running")
    );
    assert!(sse_running["total"].as_i64().unwrap() >= 5);
    let case_sensitive = h
        .get("/api/v1/servers?q=EXTRA", Some(API_KEY_A))
        .await
        .expect(200)
        .json();
    assert_eq!(case_sensitive["total"], 0);
    h.finish().await;
}

async fn list_rejects_bad_pages(backend: Backend) {
    let h = harness(backend).await;
    let over = h
        .get("/api/v1/servers?per_page=1001", Some(API_KEY_A))
        .await;
    let body = over.expect_error(400, "bad_request");
    assert_eq!(
        body["error"]["message"],
        "per_page is 1001; the maximum is 1000"
    );
    h.get("/api/v1/servers?per_page=1000", Some(API_KEY_A))
        .await
        .expect(200);
    for bad in [
        "page=0",
        "page=x",
        "per_page=-2",
        "status=asleep",
        "transport=pigeon",
    ] {
        h.get(&format!("/api/v1/servers?{bad}"), Some(API_KEY_A))
            .await
            .expect_error(400, "bad_request");
    }
    h.finish().await;
}

async fn create_validates_and_answers_201_with_location(backend: Backend) {
    let h = harness(backend).await;
    let created = h
        .send(
            Method::POST,
            "/api/v1/servers",
            API_KEY_A,
            json!({"name": "fresh", "transport": "stdio", "config": {"cmd": "run"}}),
        )
        .await;
    let server = created.expect(201).json();
    assert_eq!(server["name"], "fresh");
    assert_eq!(server["status"], "stopped", "the default status");
    assert_eq!(server["config"], json!({"cmd": "run"}));
    let location = created.header("location").unwrap().to_owned();
    assert_eq!(location, format!("/api/v1/servers/{}", server["id"]));
    assert_eq!(
        h.get(&location, Some(API_KEY_A)).await.expect(200).json(),
        server
    );

    let duplicate = h
        .send(
            Method::POST,
            "/api/v1/servers",
            API_KEY_A,
            json!({"name": "fresh", "transport": "http"}),
        )
        .await;
    duplicate.expect_error(409, "conflict");
    // The same name is free for another user.
    h.send(
        Method::POST,
        "/api/v1/servers",
        API_KEY_B,
        json!({"name": "fresh", "transport": "http"}),
    )
    .await
    .expect(201);

    let cases: [(Value, &str); 7] = [
        (json!({"name": "", "transport": "http"}), "name"),
        (
            json!({"name": "x".repeat(101), "transport": "http"}),
            "name",
        ),
        (json!({"name": "a", "transport": "pigeon"}), "transport"),
        (
            json!({"name": "a", "transport": "http", "status": "asleep"}),
            "status",
        ),
        (
            json!({"name": "a", "transport": "http", "config": [1, 2]}),
            "config",
        ),
        (
            json!({"name": "a", "transport": "http", "config": {"k": "x".repeat(16 * 1024)}}),
            "config",
        ),
        (json!({"transport": "http"}), "body"),
    ];
    for (body, field) in cases {
        let reply = h
            .send(Method::POST, "/api/v1/servers", API_KEY_A, body.clone())
            .await;
        let error = reply.expect_error(422, "validation");
        assert_eq!(error["error"]["field"], field, "{body}");
    }
    h.finish().await;
}

async fn malformed_and_oversized_bodies_keep_the_error_shape(backend: Backend) {
    let h = harness(backend).await;
    let broken = Request::post("/api/v1/servers")
        .header("authorization", format!("Bearer {API_KEY_A}"))
        .header("content-type", "application/json")
        .body(Body::from("{\"name\": "))
        .unwrap();
    h.call(broken).await.expect_error(400, "bad_request");
    let not_json = Request::post("/api/v1/servers")
        .header("authorization", format!("Bearer {API_KEY_A}"))
        .body(Body::from("name=x"))
        .unwrap();
    h.call(not_json).await.expect_error(400, "bad_request");
    let huge = Request::post("/api/v1/metrics")
        .header("authorization", format!("Bearer {API_KEY_A}"))
        .header("content-type", "application/json")
        .body(Body::from(format!(
            "{{\"points\": \"{}\"}}",
            "x".repeat(target_service::BODY_LIMIT)
        )))
        .unwrap();
    h.call(huge).await.expect_error(413, "payload_too_large");
    h.finish().await;
}

async fn get_patch_delete_one_server(backend: Backend) {
    let h = harness(backend).await;
    let id = server_ids(&h, API_KEY_A).await[0];
    let path = format!("/api/v1/servers/{id}");
    let server = h.get(&path, Some(API_KEY_A)).await.expect(200).json();
    assert_eq!(server["id"], id);

    let patched = h
        .send(
            Method::PATCH,
            &path,
            API_KEY_A,
            json!({"status": "error", "config": {"v": 2}}),
        )
        .await
        .expect(200)
        .json();
    assert_eq!(patched["status"], "error");
    assert_eq!(patched["config"], json!({"v": 2}));
    assert_eq!(patched["name"], server["name"], "untouched fields stay");
    assert_eq!(
        h.get(&path, Some(API_KEY_A)).await.expect(200).json(),
        patched,
        "the cached server was invalidated"
    );
    h.send(
        Method::PATCH,
        &path,
        API_KEY_A,
        json!({"transport": "smoke"}),
    )
    .await
    .expect_error(422, "validation");
    let other_name =
        h.get("/api/v1/servers", Some(API_KEY_A)).await.json()["items"][1]["name"].clone();
    h.send(Method::PATCH, &path, API_KEY_A, json!({"name": other_name}))
        .await
        .expect_error(409, "conflict");

    let deleted = h
        .call(common::request(
            Method::DELETE,
            &path,
            Some(API_KEY_A),
            None,
        ))
        .await;
    deleted.expect(204);
    assert!(deleted.body.is_empty());
    h.get(&path, Some(API_KEY_A))
        .await
        .expect_error(404, "not_found");
    h.call(common::request(
        Method::DELETE,
        &path,
        Some(API_KEY_A),
        None,
    ))
    .await
    .expect_error(404, "not_found");
    h.send(
        Method::PATCH,
        &path,
        API_KEY_A,
        json!({"status": "running"}),
    )
    .await
    .expect_error(404, "not_found");
    h.get("/api/v1/servers/not-a-number", Some(API_KEY_A))
        .await
        .expect_error(404, "not_found");
    h.finish().await;
}

async fn tenants_never_see_each_other(backend: Backend) {
    let h = harness(backend).await;
    let a_ids = server_ids(&h, API_KEY_A).await;
    let b_ids = server_ids(&h, API_KEY_B).await;
    assert!(a_ids.iter().all(|id| !b_ids.contains(id)));
    // Warm B's list cache first, so a leak through the cache would show.
    let b_page = h.get("/api/v1/servers", Some(API_KEY_B)).await.json();
    let a_page = h.get("/api/v1/servers", Some(API_KEY_A)).await.json();
    assert_ne!(a_page["items"], b_page["items"]);
    let b_server = format!("/api/v1/servers/{}", b_ids[0]);
    h.get(&b_server, Some(API_KEY_A))
        .await
        .expect_error(404, "not_found");
    h.send(
        Method::PATCH,
        &b_server,
        API_KEY_A,
        json!({"status": "error"}),
    )
    .await
    .expect_error(404, "not_found");
    h.call(common::request(
        Method::DELETE,
        &b_server,
        Some(API_KEY_A),
        None,
    ))
    .await
    .expect_error(404, "not_found");
    // Warm B's metric series, then ask for it as A.
    let b_metrics = format!("/api/v1/metrics?server_id={}", b_ids[0]);
    h.get(&b_metrics, Some(API_KEY_B)).await.expect(200);
    h.get(&b_metrics, Some(API_KEY_A))
        .await
        .expect_error(404, "not_found");
    let ingest = json!({"points": [{"server_id": b_ids[0], "metric_type": "cpu", "value": 1.0}]});
    h.send(Method::POST, "/api/v1/metrics", API_KEY_A, ingest)
        .await
        .expect_error(404, "not_found");
    let a_all = h
        .get("/api/v1/metrics?limit=1000", Some(API_KEY_A))
        .await
        .json();
    assert!(
        a_all["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| a_ids.contains(&p["server_id"].as_i64().unwrap()))
    );
    h.get(&b_server, Some(API_KEY_B)).await.expect(200);
    h.finish().await;
}

async fn reads_see_writes_at_once(backend: Backend) {
    let h = harness(backend).await;
    let before = h.get("/api/v1/servers", Some(API_KEY_A)).await.json();
    let created = h
        .send(
            Method::POST,
            "/api/v1/servers",
            API_KEY_A,
            json!({"name": "new-one", "transport": "http"}),
        )
        .await
        .expect(201)
        .json();
    let after = h.get("/api/v1/servers", Some(API_KEY_A)).await.json();
    assert_eq!(
        after["total"].as_i64(),
        before["total"].as_i64().map(|t| t + 1)
    );
    let path = format!("/api/v1/servers/{}", created["id"]);
    h.send(Method::PATCH, &path, API_KEY_A, json!({"name": "renamed"}))
        .await
        .expect(200);
    let renamed = h
        .get("/api/v1/servers?q=renamed", Some(API_KEY_A))
        .await
        .json();
    assert_eq!(renamed["total"], 1);
    h.call(common::request(
        Method::DELETE,
        &path,
        Some(API_KEY_A),
        None,
    ))
    .await
    .expect(204);
    let gone = h.get("/api/v1/servers", Some(API_KEY_A)).await.json();
    assert_eq!(gone["total"], before["total"]);
    h.finish().await;
}

async fn metrics_read_filter_and_ingest(backend: Backend) {
    let h = harness(backend).await;
    let id = server_ids(&h, API_KEY_A).await[0];
    let series = h
        .get(&format!("/api/v1/metrics?server_id={id}"), Some(API_KEY_A))
        .await
        .expect(200)
        .json();
    let items = series["items"].as_array().unwrap();
    assert_eq!(items.len(), 6, "seeded points per server");
    let times: Vec<&str> = items
        .iter()
        .map(|p| p["timestamp"].as_str().unwrap())
        .collect();
    let mut newest_first = times.clone();
    newest_first.sort_unstable_by(|a, b| b.cmp(a));
    assert_eq!(times, newest_first);

    let cpu = h
        .get(
            &format!("/api/v1/metrics?server_id={id}&metric_type=cpu"),
            Some(API_KEY_A),
        )
        .await
        .json();
    assert_eq!(cpu["items"].as_array().unwrap().len(), 2);
    let two = h
        .get(
            &format!("/api/v1/metrics?server_id={id}&limit=2"),
            Some(API_KEY_A),
        )
        .await
        .json();
    assert_eq!(two["items"].as_array().unwrap().len(), 2);
    let since = items[2]["timestamp"].as_str().unwrap();
    let recent = h
        .get(
            &format!("/api/v1/metrics?server_id={id}&since={since}"),
            Some(API_KEY_A),
        )
        .await
        .json();
    assert_eq!(recent["items"].as_array().unwrap().len(), 3);

    let ingest = json!({"points": [
        {"server_id": id, "metric_type": "cpu", "value": 99.5, "timestamp": "2099-01-01T00:00:00Z"},
        {"server_id": id, "metric_type": "latency_ms", "value": 3.0},
    ]});
    let summary = h
        .send(Method::POST, "/api/v1/metrics", API_KEY_A, ingest)
        .await
        .expect(201)
        .json();
    assert_eq!(summary, json!({"inserted": 2}));
    let cpu = h
        .get(
            &format!("/api/v1/metrics?server_id={id}&metric_type=cpu&limit=1"),
            Some(API_KEY_A),
        )
        .await
        .json();
    assert_eq!(
        cpu["items"][0]["value"], 99.5,
        "the cached series was invalidated"
    );
    let all = h
        .get(&format!("/api/v1/metrics?server_id={id}"), Some(API_KEY_A))
        .await
        .json();
    assert_eq!(all["items"].as_array().unwrap().len(), 8);

    let batch: Vec<Value> = (0..1000)
        .map(|i| json!({"server_id": id, "metric_type": "bulk", "value": i}))
        .collect();
    h.send(
        Method::POST,
        "/api/v1/metrics",
        API_KEY_A,
        json!({"points": batch}),
    )
    .await
    .expect(201);
    let too_many: Vec<Value> = (0..1001)
        .map(|i| json!({"server_id": id, "metric_type": "bulk", "value": i}))
        .collect();
    let error = h
        .send(
            Method::POST,
            "/api/v1/metrics",
            API_KEY_A,
            json!({"points": too_many}),
        )
        .await
        .expect_error(422, "validation");
    assert_eq!(error["error"]["field"], "points");
    let bad_type = json!({"points": [{"server_id": id, "metric_type": "CPU load", "value": 1}]});
    h.send(Method::POST, "/api/v1/metrics", API_KEY_A, bad_type)
        .await
        .expect_error(422, "validation");

    for bad in [
        "limit=0",
        "limit=1001",
        "since=yesterday",
        "metric_type=A-B",
    ] {
        h.get(
            &format!("/api/v1/metrics?server_id={id}&{bad}"),
            Some(API_KEY_A),
        )
        .await
        .expect_error(400, "bad_request");
    }
    h.get("/api/v1/metrics?server_id=999999", Some(API_KEY_A))
        .await
        .expect_error(404, "not_found");
    h.finish().await;
}

async fn config_is_public_settings(backend: Backend) {
    let h = harness(backend).await;
    let reply = h.get("/api/v1/config", Some(API_KEY_A)).await;
    let config = reply.expect(200).json();
    assert_eq!(
        config["pagination"],
        json!({"default_per_page": 100, "max_per_page": 1000})
    );
    assert_eq!(
        config["tiers"][0],
        json!({"name": "standard", "requests_per_minute": 100, "burst": 17})
    );
    assert_eq!(config["tiers"][2]["requests_per_minute"], 10_000);
    assert_eq!(reply.header("cache-control"), Some("private, max-age=3600"));
    h.finish().await;
}

async fn rate_limits_answer_429_with_headers(backend: Backend) {
    let h = harness(backend).await;
    let first = h.get("/api/v1/config", Some(STANDARD_KEY)).await;
    first.expect(200);
    assert_eq!(first.header("ratelimit-limit"), Some("100"));
    assert_eq!(first.header("ratelimit-remaining"), Some("16"));
    for _ in 1..17 {
        h.get("/api/v1/config", Some(STANDARD_KEY))
            .await
            .expect(200);
    }
    let limited = h.get("/api/v1/config", Some(STANDARD_KEY)).await;
    limited.expect_error(429, "rate_limited");
    assert_eq!(limited.header("retry-after"), Some("1"));
    assert_eq!(limited.header("ratelimit-remaining"), Some("0"));
    // Another key of the same tier has its own bucket; api tier has a far larger one.
    h.get("/api/v1/config", Some("demo-key-2"))
        .await
        .expect(200);
    for _ in 0..50 {
        h.get("/api/v1/config", Some(API_KEY_A)).await.expect(200);
    }
    h.finish().await;
}

async fn unknown_routes_are_404_in_the_error_shape(backend: Backend) {
    let h = harness(backend).await;
    h.get("/nope", None).await.expect_error(404, "not_found");
    let wrong_method = h
        .call(common::request(Method::DELETE, "/health", None, None))
        .await;
    let body = wrong_method.expect_error(405, "method_not_allowed");
    assert!(body["error"]["message"].is_string());
    assert_eq!(wrong_method.header("allow"), Some("GET,HEAD"));
    // A query axum itself cannot parse (a repeated key).
    h.get("/api/v1/servers?page=1&page=2", Some(API_KEY_A))
        .await
        .expect_error(400, "bad_request");
    h.finish().await;
}

async fn control_characters_and_long_searches_are_422s(backend: Backend) {
    let h = harness(backend).await;
    for name in ["nul\u{0}byte", "bell\u{7}", "csi\u{9b}"] {
        let reply = h
            .send(
                Method::POST,
                "/api/v1/servers",
                API_KEY_A,
                json!({"name": name, "transport": "http"}),
            )
            .await;
        let error = reply.expect_error(422, "validation");
        assert_eq!(error["error"]["field"], "name", "{name:?}");
    }
    let id = server_ids(&h, API_KEY_A).await[0];
    let patch = h
        .send(
            Method::PATCH,
            &format!("/api/v1/servers/{id}"),
            API_KEY_A,
            json!({"name": "tab\tname"}),
        )
        .await;
    patch.expect_error(422, "validation");
    for q in ["%00", "a%1b", &"q".repeat(101)] {
        let reply = h
            .get(&format!("/api/v1/servers?q={q}"), Some(API_KEY_A))
            .await;
        let error = reply.expect_error(422, "validation");
        assert_eq!(error["error"]["field"], "q", "{q}");
    }
    h.get(
        &format!("/api/v1/servers?q={}", "q".repeat(100)),
        Some(API_KEY_A),
    )
    .await
    .expect(200);
    h.get("/api/v1/servers?page=10001", Some(API_KEY_A))
        .await
        .expect_error(400, "bad_request");
    h.finish().await;
}

async fn a_metric_type_named_all_has_a_series_of_its_own(backend: Backend) {
    let h = harness(backend).await;
    let id = server_ids(&h, API_KEY_A).await[0];
    let points = json!({"points": [
        {"server_id": id, "metric_type": "all", "value": 1.0},
        {"server_id": id, "metric_type": "cpu", "value": 2.0},
    ]});
    h.send(Method::POST, "/api/v1/metrics", API_KEY_A, points)
        .await
        .expect(201);
    let types = |reply: common::Reply| -> Vec<String> {
        let mut types: Vec<String> = reply.expect(200).json()["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["metric_type"].as_str().unwrap().to_owned())
            .collect();
        types.sort();
        types.dedup();
        types
    };
    // Either order of first read must not serve one for the other.
    let every_type = types(
        h.get(
            &format!("/api/v1/metrics?server_id={id}&limit=1000"),
            Some(API_KEY_A),
        )
        .await,
    );
    assert!(every_type.len() > 1, "{every_type:?}");
    let only_all = types(
        h.get(
            &format!("/api/v1/metrics?server_id={id}&metric_type=all"),
            Some(API_KEY_A),
        )
        .await,
    );
    assert_eq!(only_all, ["all"]);
    let again = types(
        h.get(
            &format!("/api/v1/metrics?server_id={id}&limit=1000"),
            Some(API_KEY_A),
        )
        .await,
    );
    assert_eq!(again, every_type);
    h.finish().await;
}

async fn unknown_keys_are_remembered_and_failures_limited_per_address(backend: Backend) {
    let h = Harness::start(
        backend,
        Config {
            auth_failures_per_minute: 60,
            ..small_config()
        },
    )
    .await;
    // demo-key-31 is not seeded yet (30 users): refused, and remembered.
    h.get("/api/v1/servers", Some("demo-key-31"))
        .await
        .expect_error(401, "unauthorized");
    target_service::seed::seed(
        &h.state.db,
        target_service::seed::SeedSize {
            users: 31,
            servers_per_user: 1,
            metric_points: 1,
        },
    )
    .await
    .unwrap();
    h.get("/api/v1/servers", Some("demo-key-31"))
        .await
        .expect_error(401, "unauthorized");
    let fresh = h.sibling(small_config()).await;
    let fresh = target_service::app(fresh);
    common::call(
        &fresh,
        common::request(Method::GET, "/api/v1/servers", Some("demo-key-31"), None),
    )
    .await
    .expect(200);

    // A verified key before the flood.
    h.get("/api/v1/servers", Some(API_KEY_A)).await.expect(200);
    // 60 failures a minute: a burst of 10. Two are spent above.
    for i in 0..8 {
        h.get("/api/v1/servers", Some(&format!("bad-key-{i}")))
            .await
            .expect_error(401, "unauthorized");
    }
    let limited = h.get("/api/v1/servers", Some("bad-key-8")).await;
    limited.expect_error(429, "rate_limited");
    assert_eq!(limited.header("retry-after"), Some("1"));
    // Refused without a lookup while over the limit...
    h.get("/api/v1/servers", Some("bad-key-9"))
        .await
        .expect_error(429, "rate_limited");
    // ...but a key verified before is never counted or refused.
    for _ in 0..20 {
        h.get("/api/v1/servers", Some(API_KEY_A)).await.expect(200);
    }
    h.finish().await;
}

async fn prometheus_counts_requests_and_cache_layers(backend: Backend) {
    let h = harness(backend).await;
    for _ in 0..3 {
        h.get("/api/v1/servers", Some(API_KEY_A)).await.expect(200);
    }
    h.get("/health", None).await.expect(200);
    h.state.telemetry.upkeep();
    let text = String::from_utf8(h.get("/metrics", None).await.expect(200).body.clone()).unwrap();
    let expect_line = |line: &str| {
        assert!(
            text.lines().any(|l| l == line),
            "missing {line:?} in\n{text}"
        )
    };
    expect_line(r#"http_requests_total{route="/api/v1/servers",method="GET",status="200"} 3"#);
    expect_line(r#"http_requests_total{route="/health",method="GET",status="200"} 1"#);
    expect_line(r#"cache_hits_total{layer="l4"} 2"#);
    expect_line(r#"cache_misses_total{layer="l4"} 1"#);
    expect_line("redis_errors_total 0");
    assert!(text.contains(r#"http_request_duration_seconds_bucket{route="/api/v1/servers",method="GET",le="0.005"}"#), "{text}");
    assert!(text.contains(r#"db_pool_connections{state="in_use"}"#));
    assert!(text.contains(r#"db_pool_connections{state="idle"}"#));
    let max_line = text
        .lines()
        .find(|l| l.starts_with("db_pool_max_connections "))
        .unwrap();
    // SQLite: four readers and the one writer; PostgreSQL: db_max_connections.
    assert_eq!(max_line, "db_pool_max_connections 5");
    h.finish().await;
}

async fn openapi_documents_every_route(backend: Backend) {
    let h = harness(backend).await;
    let doc = h.get("/openapi.json", None).await.expect(200).json();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let paths = doc["paths"].as_object().unwrap();
    for (path, methods) in [
        ("/health", &["get"][..]),
        ("/ready", &["get"]),
        ("/metrics", &["get"]),
        ("/openapi.json", &["get"]),
        ("/api/v1/servers", &["get", "post"]),
        ("/api/v1/servers/{id}", &["get", "patch", "delete"]),
        ("/api/v1/metrics", &["get", "post"]),
        ("/api/v1/config", &["get"]),
    ] {
        for method in methods {
            assert!(
                paths[path].get(*method).is_some(),
                "{method} {path} missing"
            );
        }
    }
    assert_eq!(
        doc["components"]["securitySchemes"]["api_key"]["scheme"],
        "bearer"
    );
    h.finish().await;
}
