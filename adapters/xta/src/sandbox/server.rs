//! The sandbox's listener: TLS with a required client certificate (rustls, ring provider, the
//! client CA from the configuration; expired, foreign or missing certificates fail the
//! handshake), HTTP/1.1 with hyper, one task per connection under a connection limit, and a
//! graceful stop (no new connections; open ones finish their request).
//!
//! The verified client certificate becomes a [`Peer`] (SHA-256 fingerprint and subject CN),
//! which `ports` maps to an account on every request.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use amtsbote_listener::RequestBody;
use http::{Request, Response};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

use super::{SandboxError, SandboxTls, Shared, ports};

/// How long a client may take for the TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The authenticated client of a connection.
#[derive(Debug, Clone)]
pub(crate) struct Peer {
    /// SHA-256 of the client certificate (lower-case hex).
    pub fingerprint_sha256: String,
    /// Subject common name.
    pub subject_cn: Option<String>,
}

/// Builds the rustls server configuration requiring client certificates from the client CA.
pub(crate) fn tls_config(tls: &SandboxTls) -> Result<rustls::ServerConfig, SandboxError> {
    let bad = |what: &str, e: &dyn std::fmt::Display| SandboxError::Tls(format!("{what}: {e}"));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let chain = CertificateDer::pem_slice_iter(&tls.certificate_chain_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad("server certificate", &e))?;
    if chain.is_empty() {
        return Err(SandboxError::Tls("no server certificate in the PEM".into()));
    }
    let key =
        PrivateKeyDer::from_pem_slice(&tls.private_key_pem).map_err(|e| bad("server key", &e))?;
    let mut roots = rustls::RootCertStore::empty();
    for ca in CertificateDer::pem_slice_iter(&tls.client_ca_pem) {
        roots
            .add(ca.map_err(|e| bad("client CA", &e))?)
            .map_err(|e| bad("client CA", &e))?;
    }
    if roots.is_empty() {
        return Err(SandboxError::Tls(
            "no client CA certificate in the PEM".into(),
        ));
    }
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .map_err(|e| bad("client certificate verifier", &e))?;
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| bad("protocol versions", &e))?
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)
        .map_err(|e| bad("server certificate and key", &e))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// Serves until `shutdown` turns true, on the project's hardened edge (header, idle and body
/// timeouts, the connection cap); the TLS handshake runs under its handshake timeout.
pub(crate) async fn serve(
    listener: TcpListener,
    tls: Arc<rustls::ServerConfig>,
    shared: Arc<Shared>,
    max_connections: usize,
    mut shutdown: watch::Receiver<bool>,
) {
    let acceptor = TlsAcceptor::from(tls);
    let limits = amtsbote_listener::Limits {
        max_connections,
        handshake_timeout: HANDSHAKE_TIMEOUT,
        header_read_timeout: Duration::from_secs(30),
        ..Default::default()
    };
    let handshake = move |tcp, remote| {
        let acceptor = acceptor.clone();
        let shared = shared.clone();
        async move { handshake(tcp, remote, acceptor, shared).await }
    };
    amtsbote_listener::serve_with(listener, limits, handshake, async move {
        let _ = shutdown.changed().await;
    })
    .await;
}

/// TLS with a verified client certificate, and the service that knows its [`Peer`].
async fn handshake(
    tcp: tokio::net::TcpStream,
    remote: std::net::SocketAddr,
    acceptor: TlsAcceptor,
    shared: Arc<Shared>,
) -> Option<(
    tokio_rustls::server::TlsStream<tokio::net::TcpStream>,
    Ports,
)> {
    let tls = match acceptor.accept(tcp).await {
        Ok(tls) => tls,
        Err(e) => {
            // Expired, foreign or missing client certificates end here.
            tracing::info!(%remote, error = %e, "sandbox XTA server: TLS handshake refused");
            return None;
        }
    };
    // The verifier requires a certificate; a connection without one does not get here.
    let peer = tls
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|certs| certs.first())
        .map(|leaf| peer_of(leaf))?;
    Some((tls, Ports { shared, peer }))
}

/// The XTA ports for one authenticated client.
#[derive(Clone)]
struct Ports {
    shared: Arc<Shared>,
    peer: Peer,
}

impl tower_service::Service<Request<RequestBody>> for Ports {
    type Response = Response<ports::ResponseBody>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<RequestBody>) -> Self::Future {
        let ports = self.clone();
        Box::pin(async move { Ok(ports::handle(&ports.shared, &ports.peer, request).await) })
    }
}

fn peer_of(leaf: &CertificateDer<'_>) -> Peer {
    let subject_cn = openssl::x509::X509::from_der(leaf).ok().and_then(|cert| {
        cert.subject_name()
            .entries_by_nid(openssl::nid::Nid::COMMONNAME)
            .next()
            .and_then(|e| e.data().to_string().ok())
    });
    Peer {
        fingerprint_sha256: crate::client::sha256_hex(leaf),
        subject_cn,
    }
}
