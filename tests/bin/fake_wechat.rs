//! The tests' fake WeChat API as a standalone server, for the local demo and the
//! benchmark: `fake-wechat [ADDR]` (default 127.0.0.1:18090). Point the app at it with
//! `WECHAT_API_BASE=http://ADDR`, `WECHAT_APPID=wx-test-appid`,
//! `WECHAT_SECRET=wx-test-secret`. `GET /__fake/stats` answers what it has seen:
//! `{"sends": accepted subscribe sends, "attempts": all send attempts, "tokens_issued": …}`.

use std::net::TcpListener;

use linli_tests::{FakeWechat, fake_wechat::mount_code2session};
use serde_json::json;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate, matchers};

struct Stats(FakeWechat);

impl Respond for Stats {
    fn respond(&self, _: &Request) -> ResponseTemplate {
        let state = self.0.state();
        ResponseTemplate::new(200).set_body_json(json!({
            "sends": state.accepted,
            "attempts": state.attempts,
            "tokens_issued": state.tokens_issued,
        }))
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:18090".into());
    let listener = TcpListener::bind(&addr)?;
    let local = listener.local_addr()?;
    // Recording every request would grow without bound under the benchmark's 100,000 sends.
    let server = MockServer::builder().listener(listener).disable_request_recording().start().await;
    mount_code2session(&server).await;
    let fake = FakeWechat::default();
    fake.state().counts_only = true;
    fake.mount(&server).await;
    Mock::given(matchers::method("GET"))
        .and(matchers::path("/__fake/stats"))
        .respond_with(Stats(fake.clone()))
        .mount(&server)
        .await;
    println!("fake WeChat listening on http://{local}");
    tokio::signal::ctrl_c().await?;
    Ok(())
}
