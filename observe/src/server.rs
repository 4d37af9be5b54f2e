//! The HTTP server of a process: `/metrics`, plus the routes a binary adds.

use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use prometheus_client::registry::Registry;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum ServerError {
    #[error("cannot listen on {addr} for {what}: {source}")]
    Bind {
        what: &'static str,
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot start the HTTP server's thread: {0}")]
    Thread(std::io::Error),
}

/// The registry in Prometheus' text exposition format (OpenMetrics text, which Prometheus reads).
pub fn metrics_text(registry: &Registry) -> String {
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, registry)
        .expect("writing to a String cannot fail");
    text
}

/// A running server; it serves until the process exits.
#[derive(Debug)]
pub struct Server {
    addr: SocketAddr,
}

impl Server {
    /// Listens on `addr` (port 0: any free port, see [`Server::addr`]) and serves `routes`, with
    /// `/metrics` from `registry` when one is given. The socket is bound before this returns, so
    /// a port in use is an error here and not a log line later.
    pub fn start(
        what: &'static str,
        addr: SocketAddr,
        registry: Option<Arc<Registry>>,
        routes: Router,
    ) -> Result<Server, ServerError> {
        let bind = |source| ServerError::Bind { what, addr, source };
        let listener = TcpListener::bind(addr).map_err(bind)?;
        listener.set_nonblocking(true).map_err(bind)?;
        let local = listener.local_addr().map_err(bind)?;
        let app = match registry {
            Some(registry) => routes.route(
                "/metrics",
                get(move || {
                    let registry = registry.clone();
                    async move {
                        (
                            [(
                                header::CONTENT_TYPE,
                                "application/openmetrics-text; version=1.0.0; charset=utf-8",
                            )],
                            metrics_text(&registry),
                        )
                            .into_response()
                    }
                }),
            ),
            None => routes,
        };
        std::thread::Builder::new()
            .name(format!("tweetflow:{what}"))
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(runtime) => runtime,
                    Err(error) => {
                        tracing::error!(%error, "cannot start the HTTP server's runtime");
                        return;
                    }
                };
                runtime.block_on(async move {
                    let served = match tokio::net::TcpListener::from_std(listener) {
                        Ok(listener) => axum::serve(listener, app).await,
                        Err(e) => Err(e),
                    };
                    if let Err(error) = served {
                        tracing::error!(%error, "the HTTP server stopped");
                    }
                });
            })
            .map_err(ServerError::Thread)?;
        tracing::info!("serving {what} at http://{local}/");
        Ok(Server { addr: local })
    }

    /// The address it listens on (the port chosen when port 0 was asked for).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};

    use prometheus_client::metrics::counter::Counter;

    use super::*;

    #[test]
    fn serves_the_registry_and_the_added_routes() {
        let mut registry = Registry::default();
        let counter: Counter = Counter::default();
        registry.register("tweetflow_things", "Things counted", counter.clone());
        counter.inc_by(42);
        let routes = Router::new().route("/hello", get(|| async { "hi" }));
        let server = Server::start(
            "test",
            "127.0.0.1:0".parse().unwrap(),
            Some(Arc::new(registry)),
            routes,
        )
        .unwrap();
        let get = |path: &str| {
            let mut s = std::net::TcpStream::connect(server.addr()).unwrap();
            write!(
                s,
                "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
            )
            .unwrap();
            let mut body = String::new();
            s.read_to_string(&mut body).unwrap();
            body
        };
        assert!(get("/metrics").contains("tweetflow_things_total 42"));
        assert!(get("/hello").ends_with("hi"));
    }

    #[test]
    fn a_port_in_use_is_an_error_at_start() {
        let taken = TcpListener::bind("127.0.0.1:0").unwrap();
        let err =
            Server::start("test", taken.local_addr().unwrap(), None, Router::new()).unwrap_err();
        assert!(err.to_string().contains("cannot listen on"), "{err}");
    }
}
