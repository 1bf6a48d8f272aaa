//! An HTTP proxy between a verifier and the server that the test controls,
//! standing for whoever sits on that path when the transport is all a
//! client trusts: it passes requests through, and on the paths the test
//! names, answers in the server's place or rewrites a header of its answer.

use std::collections::HashMap;
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use actix_web::http::StatusCode;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};

/// What the proxy does on a path instead of passing it through.
#[derive(Clone)]
pub enum Answer {
    /// Answers this, and the server never sees the request.
    Own {
        status: u16,
        content_type: &'static str,
        body: String,
    },
    /// Passes the request on, and sets `header` of the server's answer.
    Rewritten { header: &'static str, value: String },
}

#[derive(Default)]
struct State {
    target: Option<String>,
    answers: HashMap<String, Answer>,
    requests: usize,
}

pub struct Mitm {
    /// Where clients reach it: the issuer of the server behind it.
    pub address: String,
    state: Arc<Mutex<State>>,
}

impl Mitm {
    /// Listening, but with nowhere to pass requests until
    /// [`Mitm::forward_to`]: the server behind it must be started with this
    /// address as its issuer first.
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(Mutex::new(State::default()));
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .build()
            .unwrap();
        let shared = web::Data::from(Arc::clone(&state));
        let server = HttpServer::new(move || {
            App::new()
                .app_data(shared.clone())
                .app_data(web::Data::new(client.clone()))
                .default_service(web::to(relay))
        })
        .workers(1)
        .listen(listener)
        .unwrap()
        .run();
        tokio::spawn(server);
        Self { address, state }
    }

    /// Passes requests on to the server at `target`.
    pub fn forward_to(&self, target: &str) {
        self.state.lock().unwrap().target = Some(target.to_owned());
    }

    /// From now on, does `answer` on `path`.
    pub fn answer(&self, path: &str, answer: Answer) {
        self.state
            .lock()
            .unwrap()
            .answers
            .insert(path.to_owned(), answer);
    }

    /// From now on, passes `path` through untouched.
    pub fn pass(&self, path: &str) {
        self.state.lock().unwrap().answers.remove(path);
    }

    /// How many requests have reached the proxy.
    pub fn requests(&self) -> usize {
        self.state.lock().unwrap().requests
    }
}

async fn relay(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<Mutex<State>>,
    client: web::Data<reqwest::Client>,
) -> HttpResponse {
    let (target, rule) = {
        let mut state = state.lock().unwrap();
        state.requests += 1;
        (state.target.clone(), state.answers.get(req.path()).cloned())
    };
    if let Some(Answer::Own {
        status,
        content_type,
        body,
    }) = rule
    {
        return HttpResponse::build(StatusCode::from_u16(status).unwrap())
            .content_type(content_type)
            .body(body);
    }
    let target = target.expect("a request before forward_to");
    // actix-web and reqwest speak different versions of the `http` types:
    // everything crosses over as text and bytes.
    let method = reqwest::Method::from_bytes(req.method().as_str().as_bytes()).unwrap();
    let mut request = client
        .request(method, format!("{target}{}", req.uri()))
        .body(body.to_vec());
    for (name, value) in req.headers() {
        if name != "host" {
            request = request.header(name.as_str(), value.as_bytes());
        }
    }
    let response = request.send().await.unwrap();
    let mut answer = HttpResponse::build(StatusCode::from_u16(response.status().as_u16()).unwrap());
    for (name, value) in response.headers() {
        if !matches!(
            name.as_str(),
            "content-length" | "transfer-encoding" | "connection"
        ) {
            answer.append_header((name.as_str(), value.as_bytes()));
        }
    }
    if let Some(Answer::Rewritten { header, value }) = rule {
        answer.insert_header((header, value));
    }
    answer.body(response.bytes().await.unwrap())
}
