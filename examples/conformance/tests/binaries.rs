//! The three binaries, as a user starts them: configured only through the
//! environment, announcing `listening on ADDR`, answering the same routes.

#![allow(clippy::unwrap_used)]

mod common;

use common::process::{BINARIES, run};

async fn get(client: &reqwest::Client, url: String) -> (u16, String, bool) {
    let response = client.get(url).send().await.unwrap();
    let status = response.status().as_u16();
    let sets_cookie = response.headers().contains_key("set-cookie");
    (status, response.text().await.unwrap(), sets_cookie)
}

#[tokio::test]
async fn every_binary_serves_the_routes_configured_from_the_environment() {
    for binary in BINARIES {
        let db = std::env::temp_dir().join(format!("gimlet-bin-{}.db", std::process::id()));
        let settings = [
            (
                "GIMLET_BACKEND",
                format!("sqlite://{}?mode=rwc", db.display()),
            ),
            ("GIMLET_CLIENTSIDE_KEYS", "user".to_owned()),
            (
                "GIMLET_SECRET",
                "binary test secret, thirty-two bytes".to_owned(),
            ),
        ];
        let app = run(binary, &settings).await;
        let client = reqwest::Client::builder()
            .cookie_store(true)
            .build()
            .unwrap();
        assert_eq!(
            get(&client, format!("{}/hello", app.base)).await,
            (200, "hello".into(), false)
        );
        assert_eq!(
            get(&client, format!("{}/set/user/7", app.base)).await.1,
            "ok"
        );
        assert_eq!(
            get(&client, format!("{}/set/cart/gin", app.base)).await.1,
            "ok"
        );
        assert_eq!(
            get(&client, format!("{}/is_clientside/user", app.base))
                .await
                .1,
            "true"
        );
        assert_eq!(
            get(&client, format!("{}/is_clientside/cart", app.base))
                .await
                .1,
            "false"
        );
        assert_eq!(
            get(&client, format!("{}/iter", app.base)).await.1,
            "cart\nuser"
        );
        let _ = std::fs::remove_file(&db);
    }
}

#[tokio::test]
async fn without_a_backend_server_keys_are_refused() {
    for binary in BINARIES {
        let app = run(binary, &[("GIMLET_BACKEND", "none".to_owned())]).await;
        let client = reqwest::Client::builder()
            .cookie_store(true)
            .build()
            .unwrap();
        let (status, body, _) = get(&client, format!("{}/set/k/v?clientside=0", app.base)).await;
        assert_eq!(status, 400, "{binary}: {body}");
        assert_eq!(get(&client, format!("{}/set/k/v", app.base)).await.1, "ok");
        assert_eq!(get(&client, format!("{}/get/k", app.base)).await.1, "v");
    }
}

/// A request for `path` on `app`, with these headers.
async fn get_with(app: &common::process::Running, path: &str, headers: &[(&str, &str)]) -> bool {
    let mut request = reqwest::Client::new().get(format!("{}{path}", app.base));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), 200);
    response.headers().contains_key("set-cookie")
}

#[tokio::test]
async fn secure_cookies_served_over_plain_http_are_warned_about_once() {
    const PLAIN: &str = "over plain HTTP, and the session cookies are Secure";
    const DROPPED: &str = "sessions were started for requests without a session cookie";
    let host = ("host", "myapp.test:3000");
    let from_a_plain_page = ("referer", "http://myapp.test:3000/");
    for binary in BINARIES {
        let settings = [
            ("GIMLET_BACKEND", "memory".to_owned()),
            (
                "GIMLET_SECRET",
                "binary test secret, thirty-two bytes".to_owned(),
            ),
            ("GIMLET_COOKIE_SECURE", "1".to_owned()),
            ("RUST_LOG", "warn".to_owned()),
        ];

        // A page of the app over http:// sent the request: said at once,
        // and only once.
        let app = run(binary, &settings).await;
        for _ in 0..3 {
            assert!(get_with(&app, "/set/user/7", &[host, from_a_plain_page]).await);
        }
        let log = app.wait_for_log(PLAIN).await;
        assert!(
            log.contains("GIMLET_COOKIE_SECURE=0"),
            "the fix is in it: {log}"
        );
        assert_eq!(log.matches(PLAIN).count(), 1, "{binary}: {log}");

        // Nothing tells, but ten new sessions and not one cookie back.
        let app = run(binary, &settings).await;
        for _ in 0..9 {
            assert!(get_with(&app, "/set/user/7", &[host]).await);
        }
        // Loopback and HTTPS behind a proxy count for nothing, and say
        // nothing.
        for _ in 0..10 {
            assert!(get_with(&app, "/set/user/7", &[]).await);
            let https = ("x-forwarded-proto", "https");
            assert!(get_with(&app, "/set/user/7", &[host, https, from_a_plain_page]).await);
        }
        assert!(get_with(&app, "/set/user/7", &[host]).await);
        let log = app.wait_for_log(DROPPED).await;
        assert!(log.contains("10 sessions"), "{binary}: {log}");
        assert!(!log.contains(PLAIN), "{binary}: {log}");

        // A cookie that comes back ends the watch: no word, ever.
        let app = run(binary, &settings).await;
        let cookie = {
            let response = reqwest::Client::new()
                .get(format!("{}/set/user/7", app.base))
                .send()
                .await
                .unwrap();
            let set = response.headers()["set-cookie"]
                .to_str()
                .unwrap()
                .to_owned();
            set.split(';').next().unwrap().to_owned()
        };
        get_with(&app, "/get/user", &[("cookie", &cookie)]).await;
        for _ in 0..12 {
            assert!(get_with(&app, "/set/user/7", &[host, from_a_plain_page]).await);
        }
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        let log = app.stderr_now();
        assert!(
            !log.contains(PLAIN) && !log.contains(DROPPED),
            "{binary}: {log}"
        );
    }
}

/// `GIMLET_IMPORT_FROM` and `GIMLET_IMPORT_KEY`: a tower-sessions session in
/// its SQLite table, written by its own store, and an actix-session one
/// in its private cookie, made by the `cookie` crate actix-web carries.
#[tokio::test]
async fn every_binary_imports_what_gimlet_import_from_names() {
    use std::collections::HashMap;
    use tower_sessions::SessionStore;
    use tower_sessions::cookie::time::{Duration, OffsetDateTime};
    use tower_sessions::session::{Id, Record};

    let db = std::env::temp_dir().join(format!("gimlet-bin-import-{}.db", std::process::id()));
    let url = format!("sqlite://{}?mode=rwc", db.display());
    let store = tower_sessions_sqlx_store::SqliteStore::new(
        gimlet_sql::sqlx::SqlitePool::connect(&url).await.unwrap(),
    );
    store.migrate().await.unwrap();
    let key = [5u8; 64];
    let hex: String = key.iter().map(|b| format!("{b:02x}")).collect();
    let mut actix = actix_web::cookie::CookieJar::new();
    actix
        .private_mut(&actix_web::cookie::Key::from(&key))
        .add(actix_web::cookie::Cookie::new(
            "id",
            r#"{"user":"\"ana\""}"#,
        ));
    let actix = actix.get("id").unwrap().encoded().to_string();
    for binary in BINARIES {
        let mut record = Record {
            id: Id::default(),
            data: HashMap::from([("user".to_owned(), serde_json::json!("ana"))]),
            expiry_date: OffsetDateTime::now_utc() + Duration::hours(1),
        };
        store.create(&mut record).await.unwrap();
        let imports = [
            (
                format!("tower-sessions+{url}"),
                None,
                format!("id={}", record.id),
            ),
            (
                "actix-session+cookie".to_owned(),
                Some(hex.clone()),
                actix.clone(),
            ),
        ];
        for (from, key, cookie) in imports {
            let mut settings = vec![("GIMLET_IMPORT_FROM", from.clone())];
            settings.extend(key.map(|key| ("GIMLET_IMPORT_KEY", key)));
            let app = run(binary, &settings).await;
            let response = reqwest::Client::new()
                .get(format!("{}/get/user", app.base))
                .header("cookie", &cookie)
                .send()
                .await
                .unwrap();
            let removed = response
                .headers()
                .get_all("set-cookie")
                .iter()
                .any(|c| c.to_str().unwrap().starts_with("id=;"));
            assert_eq!(response.status(), 200, "{binary} from {from}");
            assert!(removed, "{binary} from {from}");
            assert_eq!(
                response.text().await.unwrap(),
                "ana",
                "{binary} from {from}"
            );
        }
    }
    let _ = std::fs::remove_file(&db);
}
