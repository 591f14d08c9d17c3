//! libchan beside ordinary HTTP routes in a hyper HTTP/2 server: `GET
//! /health` answers `ok`, `POST /libchan` with the right bearer token
//! becomes a libchan session, anything else is refused with a status.
//!
//! Run with `cargo run -p libchan-transport-http2 --example hyper_routes`:
//! it serves on a loopback port, connects a client with and without the
//! token, and prints what happens. (axum works the same way: a handler
//! taking `Request<axum::body::Body>` calls `accept_request`.)

use std::convert::Infallible;

use bytes::Bytes;
use http_body_util::{Either, Full};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use libchan_codec_json::Json;
use libchan_core::{Request as Call, SessionExt};
use libchan_transport_http2::{
    accept_request, connect, connect_with_request, http, Config, Error, Rejection, ResponseBody,
};

type Body = Either<ResponseBody, Full<Bytes>>;

/// The application's routes: one of them is a libchan endpoint.
async fn route(
    req: http::Request<hyper::body::Incoming>,
) -> Result<http::Response<Body>, Infallible> {
    let response = match (req.method(), req.uri().path()) {
        (&http::Method::GET, "/health") => http::Response::new(Either::Right(Full::from("ok"))),
        (_, "/libchan") => {
            let token = req.headers().get(http::header::AUTHORIZATION);
            if token.is_none_or(|t| t != "Bearer s3cr3t") {
                Rejection::unauthorized("a bearer token is required")
                    .response()
                    .map(Either::Left)
            } else {
                match accept_request(req, Config::new(Json)) {
                    Ok((session, response)) => {
                        tokio::spawn(async move {
                            // Answer every call on every channel the client opens.
                            while let Ok(Some(mut calls)) =
                                session.accept::<Call<String, String>>().await
                            {
                                tokio::spawn(async move {
                                    while let Ok(Some(call)) = calls.recv().await {
                                        let answer = format!("hello, {}", call.body);
                                        let _ = call.respond(answer).await;
                                    }
                                });
                            }
                        });
                        response.map(Either::Left)
                    }
                    Err(rejection) => rejection.response().map(Either::Left),
                }
            }
        }
        _ => Rejection::not_found("no such route")
            .response()
            .map(Either::Left),
    };
    Ok(response)
}

/// Serves HTTP/2 (h2c) connections on `listener` with [`route`].
async fn serve(listener: tokio::net::TcpListener) {
    while let Ok((stream, _)) = listener.accept().await {
        let _ = stream.set_nodelay(true);
        tokio::spawn(async move {
            let _ = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(stream), service_fn(route))
                .await;
        });
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(serve(listener));
    let url = format!("http://{addr}/libchan");

    // Without the token: refused with the application's status.
    match connect(&url, Config::new(Json)).await {
        Err(Error::Refused { status, body }) => println!("without a token: {status} {body:?}"),
        other => println!("without a token, unexpectedly: {other:?}"),
    }

    // With it: a session; a call with a fresh reply channel.
    let request = http::Request::post(&url)
        .header(http::header::AUTHORIZATION, "Bearer s3cr3t")
        .body(())?;
    let session = connect_with_request(request, Config::new(Json)).await?;
    let service = session.open::<Call<String, String>>()?;
    let answer = service.call("world".to_string()).await?;
    println!("with the token: {answer}");
    Ok(())
}
