//! The node's HTTP API is a frontend of the library: an app embedding `MediaStore` serves the
//! same API and page as `media serve` (which runs exactly this server).

mod common;

use media_core::{MediaFile, MediaId};
use media_facade::api::{new_token, ApiServer};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_app_serves_the_same_api_as_media_serve() {
    let f = common::fixture(media_core::PreferCdn).await;
    let token = new_token().unwrap();
    let server = ApiServer::start(
        f.store.clone(),
        token.clone(),
        "127.0.0.1:0".parse().unwrap(),
        vec![("gateway".into(), "http://127.0.0.1:1".into())],
    )
    .await
    .unwrap();
    let base = server.url();
    let http = reqwest::Client::new();
    let bytes = common::data(3 * common::MIB + 5, 9);

    let put = http
        .put(format!("{base}/api/v1/media?name=clip.bin"))
        .bearer_auth(&token)
        .body(bytes.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 201);
    let file: MediaFile = put.json().await.unwrap();
    assert_eq!(file.id, MediaId::for_bytes(&bytes));

    let content = format!("{base}/api/v1/media/{}/content", file.id);
    let got = http
        .get(&content)
        .bearer_auth(&token)
        .header("range", "bytes=100-199")
        .send()
        .await
        .unwrap();
    assert_eq!(got.status(), 206);
    assert_eq!(
        got.headers()["content-range"],
        format!("bytes 100-199/{}", bytes.len()).as_str()
    );
    assert_eq!(got.headers()["x-content-type-options"], "nosniff");
    assert!(got.bytes().await.unwrap() == bytes[100..200]);

    let whole = http.get(&content).bearer_auth(&token).send().await.unwrap();
    assert_eq!(whole.status(), 200);
    assert!(whole.bytes().await.unwrap() == bytes);

    let past = http
        .get(&content)
        .bearer_auth(&token)
        .header("range", format!("bytes={}-", bytes.len()))
        .send()
        .await
        .unwrap();
    assert_eq!(past.status(), 416);
    assert_eq!(
        past.headers()["content-range"],
        format!("bytes */{}", bytes.len()).as_str()
    );

    // The token is needed; the page is served; the endpoints are the app's.
    let denied = http
        .get(format!("{base}/api/v1/media"))
        .send()
        .await
        .unwrap();
    assert_eq!(denied.status(), 401);
    let page = http.get(format!("{base}/")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("<html"));
    let endpoints: serde_json::Value = http
        .get(format!("{base}/api/v1/endpoints"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(endpoints["gateway"], "http://127.0.0.1:1");
    server.shutdown();
}
