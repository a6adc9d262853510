use std::time::Duration;

use anyhow::{Context, anyhow};
use linli_tests::{TestApp, TestResult, expect_problem, spawn_app};
use serde_json::{Value, json};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

#[tokio::test]
async fn broken_json_is_a_400_problem() -> TestResult {
    let app = spawn_app().await?;
    let resp = app
        .client
        .post(app.url("/api/v1/auth/wechat/login"))
        .header("content-type", "application/json")
        .body("{\"code\": ")
        .send()
        .await?;
    let body = expect_problem(resp, 400, "invalid_json").await?;
    assert!(body["detail"].as_str().is_some_and(|d| d.contains("JSON")));
    Ok(())
}

#[tokio::test]
async fn english_is_served_when_asked() -> TestResult {
    let app = spawn_app().await?;
    let resp = app.client.get(app.url("/api/v1/me")).header("accept-language", "en-US,en;q=0.9").send().await?;
    let body = expect_problem(resp, 401, "unauthenticated").await?;
    assert_eq!(body["title"], "Unauthorized");
    assert!(body["detail"].as_str().is_some_and(|d| d.starts_with("Sign in first")));

    let resp = app.get("/api/v1/me", None).await?;
    let body = expect_problem(resp, 401, "unauthenticated").await?;
    assert_eq!(body["detail"], "请先登录");
    Ok(())
}

#[tokio::test]
async fn wrong_shape_wrong_type_and_oversized_bodies() -> TestResult {
    let app = spawn_app().await?;
    // A field of the wrong type: 422 naming the body.
    let resp = app.post("/api/v1/auth/wechat/login", None, serde_json::json!({"code": 42})).await?;
    let body = expect_problem(resp, 422, "validation_failed").await?;
    assert_eq!(body["errors"][0]["field"], "body");
    // An unknown field is refused rather than ignored.
    let resp = app.post("/api/v1/auth/wechat/login", None, serde_json::json!({"code": "x", "openid": "y"})).await?;
    expect_problem(resp, 422, "validation_failed").await?;
    // Not JSON at all.
    let resp = app
        .client
        .post(app.url("/api/v1/auth/wechat/login"))
        .header("content-type", "text/plain")
        .body("code=x")
        .send()
        .await?;
    expect_problem(resp, 415, "unsupported_media_type").await?;
    // Over the 256 KiB limit.
    let big = serde_json::json!({"code": "x".repeat(300 * 1024)});
    let resp = app.post("/api/v1/auth/wechat/login", None, big).await?;
    expect_problem(resp, 413, "payload_too_large").await?;
    Ok(())
}

#[tokio::test]
async fn unknown_paths_and_bad_queries_are_problems() -> TestResult {
    let app = spawn_app().await?;
    expect_problem(app.get("/api/v1/nowhere", None).await?, 404, "not_found").await?;
    expect_problem(app.get("/api/v1/regions/abc", None).await?, 404, "not_found").await?;
    expect_problem(app.get("/api/v1/regions?limit=lots", None).await?, 422, "validation_failed").await?;
    Ok(())
}

/// A response read off a raw connection.
#[derive(Debug)]
struct RawResponse {
    status: u16,
    content_type: Option<String>,
    body: Vec<u8>,
}

impl RawResponse {
    fn json(&self) -> anyhow::Result<Value> {
        serde_json::from_slice(&self.body)
            .with_context(|| format!("{} body is not JSON: {:?}", self.status, String::from_utf8_lossy(&self.body)))
    }

    /// The problem document, checked for the status, type and code.
    fn problem(&self, status: u16, code: &str) -> anyhow::Result<Value> {
        anyhow::ensure!(self.status == status, "expected {status}: {self:?}");
        anyhow::ensure!(self.content_type.as_deref() == Some("application/problem+json"), "not a problem: {self:?}");
        let body = self.json()?;
        anyhow::ensure!(body["code"] == code && body["type"] == format!("/problems/{code}"), "{body}");
        Ok(body)
    }
}

/// Writes `request` as it is, with no encoding on the way (reqwest would percent-encode the
/// URL), and reads `count` responses from the same connection.
async fn exchange(app: &TestApp, request: &[u8], count: usize) -> anyhow::Result<Vec<RawResponse>> {
    let addr = app.address.strip_prefix("http://").ok_or_else(|| anyhow!("address {}", app.address))?;
    let mut conn = TcpStream::connect(addr).await?;
    conn.write_all(request).await?;
    let mut read = Vec::new();
    let mut responses = Vec::with_capacity(count);
    for _ in 0..count {
        let response = tokio::time::timeout(Duration::from_secs(10), read_response(&mut conn, &mut read))
            .await
            .map_err(|_| anyhow!("no response in 10 s; read so far {:?}", String::from_utf8_lossy(&read)))??;
        responses.push(response);
    }
    Ok(responses)
}

/// One response with a `Content-Length` (or none, for an empty body), off the front of `read`.
async fn read_response(conn: &mut TcpStream, read: &mut Vec<u8>) -> anyhow::Result<RawResponse> {
    loop {
        if let Some(end) = read.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&read[..end]).into_owned();
            let mut lines = head.split("\r\n");
            let status_line = lines.next().unwrap_or_default();
            let status = status_line.split(' ').nth(1).and_then(|s| s.parse().ok());
            let status = status.ok_or_else(|| anyhow!("status line {status_line:?}"))?;
            let header = |name: &str| {
                head.split("\r\n")
                    .skip(1)
                    .filter_map(|l| l.split_once(':'))
                    .find(|(n, _)| n.eq_ignore_ascii_case(name))
                    .map(|(_, v)| v.trim().to_owned())
            };
            anyhow::ensure!(header("transfer-encoding").is_none(), "a chunked response: {head}");
            let length: usize = header("content-length").map(|v| v.parse()).transpose()?.unwrap_or(0);
            while read.len() < end + 4 + length {
                anyhow::ensure!(conn.read_buf(read).await? > 0, "closed inside a body");
            }
            let body = read[end + 4..end + 4 + length].to_vec();
            read.drain(..end + 4 + length);
            return Ok(RawResponse { status, content_type: header("content-type"), body });
        }
        anyhow::ensure!(
            conn.read_buf(read).await? > 0,
            "closed before a response: {:?}",
            String::from_utf8_lossy(read)
        );
    }
}

fn get(target: &str) -> Vec<u8> {
    format!("GET {target} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").into_bytes()
}

#[tokio::test]
async fn raw_utf8_in_a_query_is_read_as_if_percent_encoded() -> TestResult {
    let app = spawn_app().await?;
    let raw = exchange(&app, &get("/api/v1/organizations?q=金塔"), 1).await?.remove(0);
    let encoded = exchange(&app, &get("/api/v1/organizations?q=%E9%87%91%E5%A1%94"), 1).await?.remove(0);
    assert_eq!(raw.status, 200, "{raw:?}");
    assert_eq!(raw.content_type, encoded.content_type);
    let (raw, encoded) = (raw.json()?, encoded.json()?);
    assert_eq!(raw, encoded);
    let names: Vec<&str> = raw["items"].as_array().into_iter().flatten().filter_map(|o| o["name"].as_str()).collect();
    assert!(!names.is_empty() && names.iter().all(|n| n.contains("金塔")), "{names:?}");
    Ok(())
}

#[tokio::test]
async fn a_raw_utf8_path_that_matches_nothing_is_a_404_problem() -> TestResult {
    let app = spawn_app().await?;
    let resp = exchange(&app, &get("/api/v1/金塔"), 1).await?.remove(0);
    resp.problem(404, "not_found")?;
    Ok(())
}

#[tokio::test]
async fn a_kept_alive_connection_carries_a_chinese_body_then_a_raw_utf8_url() -> TestResult {
    let app = spawn_app().await?;
    let resident = app.login("kept-alive").await?;
    let community = app.region("620102002006").await?; // 金塔巷社区
    // Raw CRLFs between the JSON's tokens and a request line inside a string: a body that
    // must reach the app byte for byte, not be read as the next request.
    let body = format!(
        "{{\r\n\r\n\"name\": \"金塔巷互助小组\", \"category\": \"mutual_aid\", \"community_id\": {community},\r\n\r\n\
         \"description\": \"GET /x 金 HTTP/1.1\", \"service_targets\": [\"elderly\"],\
         \"contact_name\": \"赵师傅\", \"contact_phone\": \"13912345678\",\
         \"latitude\": 36.0590, \"longitude\": 103.8250, \"founded_on\": \"2025-06-01\"}}"
    );
    let mut request = format!(
        "POST /api/v1/organizations HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        resident.access_token,
        body.len()
    )
    .into_bytes();
    request.extend_from_slice("GET /api/v1/organizations?q=太极 HTTP/1.1\r\nHost: localhost\r\n\r\n".as_bytes());

    let responses = exchange(&app, &request, 2).await?;
    let created = responses[0].json()?;
    assert_eq!(responses[0].status, 201, "{created}");
    assert_eq!(created["name"], "金塔巷互助小组");
    assert_eq!(created["description"], "GET /x 金 HTTP/1.1");
    let found = responses[1].json()?;
    assert_eq!(responses[1].status, 200, "{found}");
    assert_eq!(found["items"][0]["name"], "金塔巷太极拳协会");
    Ok(())
}

#[tokio::test]
async fn what_the_parser_still_refuses() -> TestResult {
    let app = spawn_app().await?;
    // A control byte (or a space, `<`, `>`) in the target is no URL even leniently: a
    // problem, and the connection stays usable.
    let mut request = b"GET /api/v1/organizations?q=a\x01b HTTP/1.1\r\nHost: localhost\r\n\r\n".to_vec();
    request.extend_from_slice(&get("/api/v1/organizations?q=金塔"));
    let responses = exchange(&app, &request, 2).await?;
    let problem = responses[0].problem(400, "invalid_request_target")?;
    assert_eq!(problem["status"], 400);
    assert_eq!(responses[1].status, 200);
    // The same answer when the route's own path is asked for.
    let resp = app.post("/_linli/invalid-request-target", None, json!({})).await?;
    expect_problem(resp, 400, "invalid_request_target").await?;
    // A head broken elsewhere (a header line without a colon) is refused by actix before
    // any app code, with its own empty 400, as before.
    let broken = exchange(&app, b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nno colon\r\n\r\n", 1).await?;
    assert_eq!((broken[0].status, broken[0].body.len()), (400, 0));
    Ok(())
}
