//! `oscore-proxy`: an OSCORE CoAP server and client on the command line.

use std::io::Write;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};
use coap_lite::{CoapOption, MessageClass, Packet, RequestType};
use oscore_keyupdate::KeyUpdatePhase;
use oscore_proxy::client::{ClientConfig, OscoreClient, code_string};
use oscore_proxy::coap::{Endpoint, TransmissionParams};
use oscore_proxy::config::{self, LoadedContext};
use oscore_proxy::demo::DemoApp;
use oscore_proxy::server::{OscoreServer, ServerConfig};
use oscore_proxy::transport::UdpTransport;
use oscore_proxy::uri;

/// CoAP over OSCORE (RFC 8613): a demo server and a client.
///
/// Security contexts come from a TOML file with a [context] table (or
/// several [[context]] tables): master_secret, master_salt, sender_id,
/// recipient_id, id_context (hex; "" = empty), aead, hkdf (COSE algorithm
/// numbers), state_dir (persist sequence numbers, replay windows and
/// key-update state there; absent = in memory), and the key-usage limits and
/// key update keys limit_q, limit_v, exp, lifetime, key_update_fraction,
/// key_update_retention (see the README). Client and server start a key
/// update (key-limits-01) on their own when a limit or exp approaches. Log
/// verbosity: RUST_LOG (e.g. RUST_LOG=debug).
#[derive(Parser, Debug)]
#[command(name = "oscore-proxy", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Serve, only through OSCORE: GET /hello, POST /echo, GET /large
    /// (3000 bytes, block-wise) and GET /observe (a counter that changes
    /// every second; observable). Prints `listening on ADDR` once bound.
    Server {
        /// The TOML file with the security context(s); the server accepts
        /// requests under any of them (looked up by kid and kid context).
        #[arg(long, value_name = "FILE")]
        context: PathBuf,
        /// The UDP address to listen on (port 0 picks a free port; the
        /// printed address is the real one).
        #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:5683")]
        bind: SocketAddr,
    },
    /// Send one OSCORE request to coap://HOST:PORT/PATH and print the
    /// response payload. Exit status 0 on a 2.xx response, 1 otherwise; the
    /// response code goes to stderr.
    Client {
        /// The TOML file with the security context (the first [context] is used).
        #[arg(long, value_name = "FILE")]
        context: PathBuf,
        /// The request method.
        #[arg(long, value_enum, default_value_t = Method::Get)]
        method: Method,
        /// The request payload (UTF-8 text); large payloads are sent with Block1.
        #[arg(long, value_name = "TEXT")]
        payload: Option<String>,
        /// Observe the resource: print N notifications, one per line
        /// (the first response counts), then cancel the observation.
        #[arg(long, value_name = "N")]
        observe: Option<u32>,
        /// Seconds to wait for each response (and each notification).
        #[arg(long, value_name = "SECS", default_value_t = 30)]
        timeout: u64,
        /// Send the request Non-confirmable instead of Confirmable.
        #[arg(long)]
        non: bool,
        /// Update the keys first (client-initiated key update of
        /// key-limits-01 §3.3): the request carries R1, its response
        /// establishes the new context. Needs a state_dir to be remembered.
        #[arg(long)]
        key_update: bool,
        /// The target, coap://HOST:PORT/PATH[?QUERY].
        #[arg(value_name = "URI")]
        uri: String,
    },
}

#[derive(ValueEnum, Clone, Copy, Debug)]
#[value(rename_all = "UPPER")]
enum Method {
    Get,
    Post,
    Put,
    Delete,
    Fetch,
}

impl Method {
    fn request_type(self) -> RequestType {
        match self {
            Method::Get => RequestType::Get,
            Method::Post => RequestType::Post,
            Method::Put => RequestType::Put,
            Method::Delete => RequestType::Delete,
            Method::Fetch => RequestType::Fetch,
        }
    }
}

fn init_tracing(default: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .try_init();
}

fn load_contexts(path: &std::path::Path) -> Result<Vec<LoadedContext>, String> {
    let configs = config::load(path).map_err(|e| e.to_string())?;
    config::derive_all(&configs).map_err(|e| e.to_string())
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Server { context, bind } => {
            init_tracing("info");
            match server(context, bind).await {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("error: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Client { context, method, payload, observe, timeout, non, key_update, uri } => {
            init_tracing("warn,oscore_proxy::keyupdate=info");
            let args = ClientArgs { context, method, payload, observe, timeout, non, key_update, uri };
            match client(args).await {
                Ok(code) => code,
                Err(e) => {
                    eprintln!("error: {e}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}

async fn server(context: PathBuf, bind: SocketAddr) -> Result<(), String> {
    let contexts = load_contexts(&context)?;
    let app = Arc::new(DemoApp::new());
    let srv = OscoreServer::new(contexts, app.clone(), ServerConfig::default()).map_err(|e| e.to_string())?;
    let udp = UdpTransport::bind(bind).await.map_err(|e| format!("cannot bind {bind}: {e}"))?;
    let endpoint = Endpoint::start(Arc::new(udp), TransmissionParams::default(), Some(srv.clone()));
    srv.attach(&endpoint);
    let local = endpoint.local_addr().map_err(|e| e.to_string())?;
    println!("listening on {local}");
    let _ = std::io::stdout().flush();
    tracing::info!(%local, "serving");
    let ticker = {
        let srv = Arc::clone(&srv);
        tokio::spawn(async move {
            let mut interval = tokio::time::interval(Duration::from_secs(1));
            interval.tick().await;
            loop {
                interval.tick().await;
                app.tick();
                srv.handle_timeouts();
                srv.notify("observe").await;
            }
        })
    };
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(|e| e.to_string())?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    ticker.abort();
    tracing::info!("shutting down");
    Ok(())
}

struct ClientArgs {
    context: PathBuf,
    method: Method,
    payload: Option<String>,
    observe: Option<u32>,
    timeout: u64,
    non: bool,
    key_update: bool,
    uri: String,
}

fn report(response: &Packet) -> ExitCode {
    let code = u8::from(response.header.code);
    eprintln!("{}", code_string(code));
    if code >> 5 == 2 { ExitCode::SUCCESS } else { ExitCode::FAILURE }
}

fn print_line(payload: &[u8]) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(payload);
    let _ = out.write_all(b"\n");
    let _ = out.flush();
}

async fn client(args: ClientArgs) -> Result<ExitCode, String> {
    let target = uri::parse(&args.uri).map_err(|e| e.to_string())?;
    let peer = tokio::net::lookup_host((target.host.as_str(), target.port))
        .await
        .map_err(|e| format!("cannot resolve {}: {e}", target.host))?
        .next()
        .ok_or_else(|| format!("cannot resolve {}", target.host))?;
    let configs = config::load(&args.context).map_err(|e| e.to_string())?;
    let first = configs.into_iter().next().ok_or("no security context")?;
    if first.state_dir.is_none() {
        // ref: RFC 8613 App. B.1.1: without persisted sequence numbers every
        // run starts again at 0 and reuses nonces.
        eprintln!(
            "warning: no state_dir in {}: this run restarts at sequence number 0 and reuses nonces \
             of earlier runs; servers will refuse it as a replay",
            args.context.display()
        );
    }
    if first.state_dir.is_none() && args.key_update {
        eprintln!("warning: no state_dir: the updated keys are forgotten when this run ends");
    }
    let context = config::derive_all(std::slice::from_ref(&first))
        .map_err(|e| e.to_string())?
        .into_iter()
        .next()
        .ok_or("no security context")?;
    let local: SocketAddr =
        if peer.is_ipv4() { (Ipv4Addr::UNSPECIFIED, 0).into() } else { (Ipv6Addr::UNSPECIFIED, 0).into() };
    let udp = UdpTransport::bind(local).await.map_err(|e| e.to_string())?;
    let endpoint = Endpoint::start(Arc::new(udp), TransmissionParams::default(), None);
    let timeout = Duration::from_secs(args.timeout.max(1));
    let config = ClientConfig { timeout, confirmable: !args.non, ..ClientConfig::default() };
    let client = OscoreClient::new(endpoint, peer, context, config).map_err(|e| e.to_string())?;
    if args.key_update && !client.start_key_update() {
        eprintln!("warning: a key update is already in progress");
    }

    let mut request = Packet::new();
    request.header.code = MessageClass::Request(args.method.request_type());
    for segment in &target.path {
        request.add_option(CoapOption::UriPath, segment.clone());
    }
    for arg in &target.query {
        request.add_option(CoapOption::UriQuery, arg.clone());
    }
    if let Some(p) = &args.payload {
        request.payload = p.as_bytes().to_vec();
    }

    let Some(count) = args.observe else {
        let response = client.request(request.clone()).await.map_err(|e| e.to_string())?;
        let status = report(&response);
        print_line(&response.payload);
        finish_key_update(&client, &request).await;
        return Ok(status);
    };
    let (first, mut observation) = client.observe(request).await.map_err(|e| e.to_string())?;
    let status = report(&first);
    print_line(&first.payload);
    if !observation.is_active() || count <= 1 {
        if observation.is_active() {
            let _ = observation.cancel().await;
        }
        return Ok(status);
    }
    for _ in 1..count {
        let n = observation.next(timeout).await.map_err(|e| e.to_string())?;
        print_line(&n.payload);
        if !observation.is_active() {
            return Ok(report(&n));
        }
    }
    if let Err(e) = observation.cancel().await {
        tracing::warn!("cancellation not confirmed: {e}");
    }
    Ok(status)
}

/// A server-initiated key update offered in the last response (R1) is
/// answered by the next request (key-limits-01 §3.3, Figure 6). A client
/// that exits now would never send it, so it sends one more: GET on the
/// same path (safe; its response is discarded).
async fn finish_key_update(client: &OscoreClient, request: &Packet) {
    if client.key_update_phase() != KeyUpdatePhase::Received {
        return;
    }
    let mut get = Packet::new();
    get.header.code = MessageClass::Request(RequestType::Get);
    for segment in request.get_option(CoapOption::UriPath).into_iter().flatten() {
        get.add_option(CoapOption::UriPath, segment.clone());
    }
    if let Err(e) = client.request(get).await {
        tracing::warn!("key update offered by the server not completed: {e}");
    }
}
