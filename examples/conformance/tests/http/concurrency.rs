//! The HTTP scenarios of concurrent requests on one session: different
//! keys, and one key through `update`. `http.rs` runs them on every
//! framework and server-side backend.

use crate::common::App;

/// 50 concurrent requests of one session, each setting its own key, all
/// survive.
pub(crate) async fn fifty_concurrent_requests_all_survive(app: App) {
    let bare = app.bare();
    let header = bare.get("/set/base/0").await.cookie_header();
    let mut tasks = Vec::new();
    for i in 0..50 {
        let (base, header) = (app.base.clone(), header.clone());
        tasks.push(tokio::spawn(async move {
            let url = format!("{base}/set/key{i}/{i}");
            let response = reqwest::Client::new()
                .get(url)
                .header("Cookie", header)
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 200);
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let mut keys: Vec<String> = (0..50).map(|i| format!("key{i}")).collect();
    keys.push("base".to_owned());
    keys.sort();
    assert_eq!(
        bare.get_with_cookies("/iter", &header).await.body,
        keys.join("\n")
    );
    for i in 0..50 {
        let value = bare
            .get_with_cookies(&format!("/get/key{i}"), &header)
            .await;
        assert_eq!((value.status, value.body), (200, i.to_string()));
    }
    assert_eq!(bare.get_with_cookies("/get/base", &header).await.body, "0");
}

/// 50 concurrent appends to one list of one session, 16 at a time, each
/// through `update`: every one answers 200 and the list holds all 50.
pub(crate) async fn fifty_concurrent_appends_to_one_key_all_survive(app: App) {
    let bare = app.bare();
    let header = bare.get("/set/base/0").await.cookie_header();
    let gate = std::sync::Arc::new(tokio::sync::Semaphore::new(16));
    let mut tasks = Vec::new();
    for i in 0..50 {
        let (base, header, gate) = (app.base.clone(), header.clone(), gate.clone());
        tasks.push(tokio::spawn(async move {
            let _slot = gate.acquire().await.unwrap();
            let response = reqwest::Client::new()
                .get(format!("{base}/append/tabs/t{i}"))
                .header("Cookie", header)
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 200, "append {i}");
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let list = bare.get_with_cookies("/flatten/tabs", &header).await.body;
    let mut items: Vec<&str> = list.split(':').collect();
    items.sort_unstable();
    let mut expected: Vec<String> = (0..50).map(|i| format!("t{i}")).collect();
    expected.sort_unstable();
    assert_eq!(items, expected, "{list}");
}
