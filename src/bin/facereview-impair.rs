//! `facereview-impair`: a UDP impairment relay for WebRTC tests and benchmarks (see `facereview::impair`).
//!
//! Prints one JSON line `{"listen":"127.0.0.1:L","profile":"name"}` on stdout once forwarding, runs until stdin
//! reaches EOF (unless `--no-stdin`), SIGTERM/SIGINT or `--max-s`, then prints one JSON line `{"stats":{...}}`.
//! Periodic statistics (`--stats-every-s`) go to stderr so stdout stays two lines. Bad arguments exit with 2.

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::ExitCode;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Parser;
use facereview::impair::{BUILTIN_PROFILES, Profile, Relay, RelayConfig};

#[derive(Debug, Parser)]
#[command(name = "facereview-impair", about = "UDP impairment relay: delay, jitter, loss, rate limits, outages")]
struct Args {
    /// The server to forward the client's packets to.
    #[arg(long, required_unless_present = "list")]
    upstream: Option<SocketAddr>,
    /// A built-in profile name (see --list) or a .json/.toml profile file.
    #[arg(long, required_unless_present = "list")]
    profile: Option<String>,
    /// Seed of the impairment's random choices.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Address of the client-facing socket.
    #[arg(long, default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST))]
    bind: IpAddr,
    /// Start this far into the profile's schedule (to continue after an earlier relay).
    #[arg(long, default_value_t = 0)]
    offset_ms: u64,
    /// Stop after this many seconds.
    #[arg(long, default_value_t = 900)]
    max_s: u64,
    /// Print statistics to stderr every N seconds (0 = never).
    #[arg(long, default_value_t = 0)]
    stats_every_s: u64,
    /// Do not stop at stdin EOF (for running in the background with stdin closed).
    #[arg(long)]
    no_stdin: bool,
    /// List the built-in profiles and exit.
    #[arg(long)]
    list: bool,
}

/// Why the relay stops early.
enum Stop {
    StdinEof,
    Signal,
}

fn main() -> ExitCode {
    let args = match Args::try_parse() {
        Ok(a) => a,
        Err(e) => e.exit(),
    };
    if args.list {
        for (name, description) in BUILTIN_PROFILES {
            println!("{name:<14} {description}");
        }
        return ExitCode::SUCCESS;
    }
    let (Some(upstream), Some(profile_arg)) = (args.upstream, args.profile.as_deref()) else {
        eprintln!("facereview-impair: --upstream and --profile are required");
        return ExitCode::from(2);
    };
    let profile = match Profile::load(profile_arg) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("facereview-impair: {e}");
            return ExitCode::from(2);
        }
    };
    match run(&args, upstream, profile) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("facereview-impair: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &Args, upstream: SocketAddr, profile: Profile) -> anyhow::Result<()> {
    let name = profile.name.clone();
    let config = RelayConfig {
        profile,
        seed: args.seed,
        upstream,
        bind: args.bind,
        offset: Duration::from_millis(args.offset_ms),
        max_duration: Duration::from_secs(args.max_s),
    };
    let mut relay = Relay::start(config).context("starting the relay")?;
    let mut out = std::io::stdout().lock();
    let listen = serde_json::json!({ "listen": relay.local_addr().to_string(), "profile": name });
    writeln!(out, "{listen}")?;
    out.flush()?;

    let (tx, rx) = mpsc::channel();
    if !args.no_stdin {
        let tx = tx.clone();
        std::thread::spawn(move || {
            let mut sink = [0u8; 4096];
            let mut stdin = std::io::stdin().lock();
            while matches!(stdin.read(&mut sink), Ok(n) if n > 0) {}
            let _ = tx.send(Stop::StdinEof);
        });
    }
    let signal_tx = tx.clone();
    std::thread::spawn(move || {
        if wait_for_signal().is_ok() {
            let _ = signal_tx.send(Stop::Signal);
        }
    });

    // `tx` stays alive here, so the channel never disconnects.
    let every = (args.stats_every_s > 0).then(|| Duration::from_secs(args.stats_every_s));
    let mut next_report = every.and_then(|e| Instant::now().checked_add(e));
    while relay.is_running() {
        if let Ok(Stop::StdinEof | Stop::Signal) = rx.recv_timeout(Duration::from_millis(100)) {
            break;
        }
        if let (Some(every), Some(next)) = (every, next_report)
            && Instant::now() >= next
        {
            eprintln!("{}", serde_json::json!({ "stats": relay.stats() }));
            next_report = next.checked_add(every);
        }
    }
    drop(tx);
    relay.stop();
    writeln!(out, "{}", serde_json::json!({ "stats": relay.stats() }))?;
    out.flush()?;
    Ok(())
}

/// Blocks until SIGINT or SIGTERM.
fn wait_for_signal() -> std::io::Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    rt.block_on(async {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            r = tokio::signal::ctrl_c() => r,
            _ = term.recv() => Ok(()),
        }
    })
}
