//! The `facereview` binary: a thin CLI over the library. `anyhow` lives only here.

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use facereview::checks::ChecksConfig;
use facereview::config::Paths;
use facereview::fusion::{Policy, Verdict};
use facereview::infer::manifest::{FileStatus, Manifest, Origin, check_file};
use facereview::infer::runtime::describe;
use facereview::infer::{InferError, Runtime};
use facereview::interview::Interview;
use facereview::location::PoiIndex;
use facereview::replay::{self, ReplayOptions, report::ReplayReport};
use facereview::voiceprints::{STORE_FILE, VoiceprintKind, VoiceprintStore, embed_file};

#[derive(Parser)]
#[command(name = "facereview", version, about = "Video face-to-face review pipeline for loan applicants")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Replay a recorded file (WebM/Matroska/MP4), or a recorded live session's folder, through every model and
    /// print timestamped evidence. A session folder is replayed with its recorded session, policy and parts, and
    /// the decision is compared with the live verdict (exit 4 when it differs).
    Replay {
        /// The recorded stream, or a session folder (`<data>/sessions/<id>`).
        file: std::path::PathBuf,
        /// Print the full report as JSON (schema: docs/replay-json.md).
        #[arg(long)]
        json: bool,
        /// Keep going when a required model cannot be loaded; its evidence is marked unavailable.
        #[arg(long)]
        allow_missing_models: bool,
        /// The session file: declared business, location reports, questions, challenges (docs/session-json.md).
        #[arg(long)]
        session: Option<std::path::PathBuf>,
        /// POI data for the location check: OpenStreetMap .osm.pbf, GeoJSON or CSV.
        #[arg(long)]
        pois: Option<std::path::PathBuf>,
        /// The fusion policy (default: policy/default.toml).
        #[arg(long)]
        policy: Option<std::path::PathBuf>,
        /// Compare the verdict with this expected verdict (decision and reasons exactly, score within --tolerance).
        #[arg(long, conflicts_with = "bless")]
        expect: Option<std::path::PathBuf>,
        /// Write the verdict to this file as the new expected verdict.
        #[arg(long)]
        bless: Option<std::path::PathBuf>,
        /// Compare the voice with this enrolled applicant voiceprint (`facereview voices enrol`).
        #[arg(long)]
        enrolled_voice: Option<String>,
        /// Risk-score tolerance for --expect.
        #[arg(long, default_value_t = 0.05)]
        tolerance: f32,
    },
    /// Run the service: lender API, applicant page, WebRTC ingest, live analysis and verdicts (docs/live-protocol.md).
    Serve(ServeArgs),
    /// Voiceprints (encrypted at rest in the data folder): enrol applicants' voices and known fraud voices.
    /// Enrolments and removals are recorded in the database and the audit log.
    Voices {
        #[command(flatten)]
        store: StoreArgs,
        #[command(subcommand)]
        cmd: VoicesCmd,
    },
    /// Reviewer console accounts (docs/console.md); every change is audit-logged.
    Users {
        #[command(flatten)]
        store: StoreArgs,
        #[command(subcommand)]
        cmd: UsersCmd,
    },
    /// The audit log of the reviewer console.
    Audit {
        #[command(flatten)]
        store: StoreArgs,
        #[command(subcommand)]
        cmd: AuditCmd,
    },
    /// Model manifest tools.
    Models {
        #[command(subcommand)]
        cmd: ModelsCmd,
    },
}

#[derive(clap::Args)]
struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080", env = "FACEREVIEW_LISTEN")]
    listen: std::net::SocketAddr,
    /// Base URL of the join links (default http://<listen>).
    #[arg(long, env = "FACEREVIEW_PUBLIC_URL")]
    public_url: Option<String>,
    /// Database URL: sqlite://FILE or postgres://... (default: SQLite in the data folder).
    #[arg(long, env = "FACEREVIEW_DB")]
    db: Option<String>,
    /// POST each verdict to this URL.
    #[arg(long, env = "FACEREVIEW_WEBHOOK")]
    webhook: Option<String>,
    /// Most concurrent sessions (consented, live or being analysed); more are refused with 503.
    #[arg(long, default_value_t = 2)]
    max_sessions: usize,
    /// Longest call in seconds.
    #[arg(long, default_value_t = 900)]
    max_call_s: u64,
    /// How long a dropped connection may take to re-join, in seconds.
    #[arg(long, default_value_t = 30)]
    grace_s: u64,
    /// Default join-link lifetime in seconds.
    #[arg(long, default_value_t = 900)]
    ttl_s: u64,
    /// Days recordings are kept (shown to the applicant at consent).
    #[arg(long, default_value_t = 30)]
    retention_days: u32,
    /// Start bitrate cap for video written into the answer (kb/s).
    #[arg(long, default_value_t = 600)]
    start_bitrate_kbps: u32,
    /// POI data for the location check: OpenStreetMap .osm.pbf, GeoJSON or CSV.
    #[arg(long, env = "FACEREVIEW_POIS")]
    pois: Option<std::path::PathBuf>,
    /// The fusion policy (default: policy/default.toml).
    #[arg(long)]
    policy: Option<std::path::PathBuf>,
    /// Offer 127.0.0.1 as an ICE candidate (for loopback-only hosts and tests).
    #[arg(long)]
    loopback: bool,
    /// Bitrate adaptation: `on` (the controller steers the phone's sender) or `off` (plain WebRTC negotiation:
    /// no actions and no start cap; the benchmark's baseline).
    #[arg(long, default_value = "on", value_parser = ["on", "off"])]
    adapt: String,
    /// Start even when a model cannot be loaded (its evidence is then unavailable and the verdict handles it).
    #[arg(long)]
    allow_missing_models: bool,
    /// Review deadline of a flagged session in the reviewer console, in hours from its verdict (due soon after 75 %).
    #[arg(long, default_value_t = 24.0, env = "FACEREVIEW_REVIEW_SLA_HOURS")]
    review_sla_hours: f64,
}

#[derive(Subcommand)]
enum VoicesCmd {
    /// Enrol a voiceprint from an audio or video file (re-enrolling an id replaces it).
    Enrol {
        /// Applicant or fraud-case id: 1-64 of A-Z a-z 0-9 . _ -
        id: String,
        /// A recording of that voice (any format GStreamer decodes; ≥ 1 s of audio).
        file: std::path::PathBuf,
        /// Enrol into the blocklist of known fraud voices instead of as an applicant.
        #[arg(long)]
        blocked: bool,
    },
    /// List enrolled and blocked voiceprints (ids and metadata only).
    List {
        #[arg(long)]
        json: bool,
    },
    /// Remove a voiceprint.
    Remove { id: String },
}

#[derive(Subcommand)]
enum ModelsCmd {
    /// Check every model file (presence, size, sha256) and its signature against the manifest; prints a table.
    Verify,
}

fn main() {
    let cli = Cli::parse();
    let result = match cli.cmd {
        Cmd::Models { cmd: ModelsCmd::Verify } => models_verify(),
        Cmd::Voices { store, cmd } => voices(store, cmd),
        Cmd::Users { store, cmd } => users(store, cmd),
        Cmd::Audit { store, cmd } => audit(store, cmd),
        Cmd::Serve(args) => serve(args),
        Cmd::Replay {
            file,
            json,
            allow_missing_models,
            session,
            pois,
            policy,
            expect,
            bless,
            enrolled_voice,
            tolerance,
        } => {
            let args = ReviewArgs { session, pois, policy, expect, bless, enrolled_voice, tolerance };
            if replay::session_dir::is_session_dir(&file) {
                replay_session_dir(&file, json, allow_missing_models, args)
            } else {
                replay(&file, json, allow_missing_models, args)
            }
        }
    };
    if let Err(e) = result {
        eprintln!("error: {e:#}");
        std::process::exit(if e.downcast_ref::<UsageError>().is_some() { EXIT_USAGE } else { 1 });
    }
}

fn models_verify() -> Result<()> {
    let paths = Paths::from_env();
    let manifest = Manifest::load(&paths.manifest)?;
    let rt = Runtime::new(&paths.ort_lib, manifest.clone()).context("ONNX Runtime")?;
    println!("manifest {} (sha256 {})", paths.manifest.display(), &manifest.sha256[..16]);
    println!("{:<20} {:<16} {:<18} {:<10} detail", "model", "task", "origin", "status");
    let mut failed = Vec::new();
    for spec in &manifest.models {
        let origin = match spec.origin {
            Origin::AsShipped => "as-shipped",
            Origin::Converted => "converted",
            Origin::OperatorSupplied => "operator-supplied",
        };
        let file = check_file(&manifest.file_path(spec), spec);
        let (status, detail) = match (&file, spec.optional) {
            (FileStatus::Missing, true) => ("absent", "optional, not configured".to_owned()),
            (s, _) if !s.is_ok() => ("FAIL", describe(s)),
            _ => match rt.load(&spec.id) {
                Ok(m) => {
                    let ins: Vec<String> = m.spec.inputs.iter().map(|t| format!("{}{:?}", t.name, t.shape)).collect();
                    ("ok", format!("{} in: {}", describe(&file), ins.join(" ")))
                }
                Err(InferError::Signature { detail, .. }) => ("FAIL", format!("signature: {detail}")),
                Err(e) => ("FAIL", e.to_string()),
            },
        };
        println!("{:<20} {:<16} {:<18} {:<10} {}", spec.id, spec.task, origin, status, detail);
        if status == "FAIL" {
            failed.push(spec.id.clone());
        }
    }
    if !failed.is_empty() {
        bail!("{} model(s) failed verification: {}", failed.len(), failed.join(", "));
    }
    println!("all {} required models verified", manifest.models.iter().filter(|m| !m.optional).count());
    Ok(())
}

/// Exit status when decoding stopped with an error mid-stream (the report is still printed).
const EXIT_PARTIAL: i32 = 3;

struct ReviewArgs {
    session: Option<std::path::PathBuf>,
    pois: Option<std::path::PathBuf>,
    policy: Option<std::path::PathBuf>,
    expect: Option<std::path::PathBuf>,
    bless: Option<std::path::PathBuf>,
    enrolled_voice: Option<String>,
    tolerance: f32,
}

/// Exit status when the verdict differs from `--expect`.
const EXIT_MISMATCH: i32 = 4;

fn load_pois(path: &std::path::Path) -> Result<PoiIndex> {
    let name = path.to_string_lossy().to_lowercase();
    let index = if name.ends_with(".pbf") {
        PoiIndex::from_osm_pbf(path)
    } else if name.ends_with(".csv") {
        PoiIndex::from_csv(path)
    } else {
        PoiIndex::from_geojson(path)
    };
    index.with_context(|| format!("loading POIs from {}", path.display()))
}

fn replay(file: &std::path::Path, json: bool, allow_missing_models: bool, args: ReviewArgs) -> Result<()> {
    let paths = Paths::from_env();
    let manifest = Manifest::load(&paths.manifest)?;
    let rt = Runtime::new(&paths.ort_lib, manifest)?;
    let opts = ReplayOptions { require_models: !allow_missing_models, ..Default::default() };
    let interview: Interview = match &args.session {
        Some(p) => {
            let text = std::fs::read_to_string(p).with_context(|| format!("reading session file {}", p.display()))?;
            serde_json::from_str(&text).with_context(|| format!("session file {} is malformed", p.display()))?
        }
        None => Interview::default(),
    };
    let mut interview = interview;
    // Voiceprints: the blocklist is always screened when a store exists; the enrolled voice when asked.
    resolve_voices(&paths, &mut interview, args.enrolled_voice.as_deref())?;
    if let (Some(photo), Some(session)) = (interview.reference_photo.clone(), args.session.as_ref()) {
        let photo = session.parent().unwrap_or(std::path::Path::new(".")).join(photo);
        interview.reference_face = Some(replay::reference_face(&rt, &photo)?);
    }
    let pois = args.pois.as_deref().map(load_pois).transpose()?;
    let policy_path = args.policy.clone().unwrap_or_else(|| paths.root.join("policy/default.toml"));
    let policy = Policy::load(&policy_path)?;
    let checks = ChecksConfig::default();
    let review = replay::Review { interview: &interview, pois: pois.as_ref(), checks: &checks, policy: &policy };
    let report = replay::review(file, &rt, &opts, &review)?;
    let verdict = print_and_bless(&report, json, args.bless.as_deref())?;
    if let Some(e) = &report.decode.error {
        eprintln!("warning: decoding stopped early; evidence covers what was decoded before: {e}");
        std::process::exit(EXIT_PARTIAL);
    }
    if let Some(path) = &args.expect {
        let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let expected = Verdict::from_json(&text).with_context(|| format!("{} is not a verdict", path.display()))?;
        match verdict.compare(&expected, args.tolerance) {
            Ok(()) => eprintln!("expect: verdict matches {}", path.display()),
            Err(diffs) => {
                eprintln!("expect: verdict differs from {}:", path.display());
                for d in diffs {
                    eprintln!("  - {d}");
                }
                std::process::exit(EXIT_MISMATCH);
            }
        }
    }
    Ok(())
}

/// Screens voices against the blocklist when a voiceprint store exists, and against an enrolled voice when asked.
fn resolve_voices(paths: &Paths, interview: &mut Interview, enrolled: Option<&str>) -> Result<()> {
    if paths.data.join(STORE_FILE).exists() || enrolled.is_some() {
        let store = VoiceprintStore::open(&paths.data).context("opening the voiceprint store")?;
        interview.blocked_voices = store.blocked();
        if let Some(id) = enrolled {
            interview.enrolled_voice =
                Some(store.get_enrolled(id).with_context(|| format!("no enrolled voiceprint `{id}`"))?);
        }
    }
    Ok(())
}

/// Prints the report (JSON or summary) and writes its verdict with `--bless`.
fn print_and_bless<'a>(report: &'a ReplayReport, json: bool, bless: Option<&std::path::Path>) -> Result<&'a Verdict> {
    if json {
        println!("{}", serde_json::to_string_pretty(report)?);
    } else {
        print_summary(report);
    }
    let verdict = report.verdict.as_ref().context("no verdict")?;
    if let Some(path) = bless {
        std::fs::write(path, verdict.to_json()?).with_context(|| format!("writing {}", path.display()))?;
        eprintln!("blessed: wrote the verdict to {}", path.display());
    }
    Ok(verdict)
}

/// Replays a recorded live session (all parts, its recorded interview and policy) and compares the decision with
/// the live verdict.
fn replay_session_dir(dir: &std::path::Path, json: bool, allow_missing_models: bool, args: ReviewArgs) -> Result<()> {
    use replay::session_dir::{self as sd, RecordedConfig, RecordingManifest};
    let paths = Paths::from_env();
    let manifest = Manifest::load(&paths.manifest)?;
    let rt = Runtime::new(&paths.ort_lib, manifest)?;
    let opts = ReplayOptions { require_models: !allow_missing_models, ..Default::default() };
    let recording = RecordingManifest::load(dir)?;
    let parts = recording.replay_parts(dir);
    if parts.is_empty() {
        bail!("{} has no recorded media", dir.display());
    }
    let mut interview: Interview = sd::read_json(&dir.join(sd::SESSION_FILE), "session file")?;
    let config: RecordedConfig = sd::read_json(&dir.join(sd::CONFIG_FILE), "recorded configuration")?;
    if let Some(photo) = interview.reference_photo.clone() {
        interview.reference_face = Some(replay::reference_face(&rt, &dir.join(photo))?);
    }
    resolve_voices(&paths, &mut interview, args.enrolled_voice.as_deref())?;
    let policy = match &args.policy {
        Some(p) => Policy::load(p)?,
        None => Policy::from_toml_str(&config.policy_toml).context("the recorded policy")?,
    };
    let pois_path = args.pois.clone().or(config.pois.clone());
    let pois = pois_path.as_deref().map(load_pois).transpose()?;
    let checks = ChecksConfig::default();
    let review = replay::Review { interview: &interview, pois: pois.as_ref(), checks: &checks, policy: &policy };
    let mut observed = replay::observe_parts(&parts, &rt, &opts)?;
    observed.obs.has_video = recording.offered_video;
    observed.obs.has_audio = recording.offered_audio;
    let report = replay::review_observed(observed, &review)?;
    let verdict = print_and_bless(&report, json, args.bless.as_deref())?;
    let expect = args.expect.clone().unwrap_or_else(|| dir.join(sd::VERDICT_FILE));
    let text = std::fs::read_to_string(&expect).with_context(|| format!("reading {}", expect.display()))?;
    let live = Verdict::from_json(&text).with_context(|| format!("{} is not a verdict", expect.display()))?;
    if recording.manifest_sha256 != rt.manifest().sha256 {
        eprintln!(
            "note: the live call used model manifest {}, this replay {}",
            recording.manifest_sha256,
            rt.manifest().sha256
        );
    }
    if live.decision == verdict.decision {
        eprintln!("replay: decision {} matches the live verdict", verdict.decision);
    } else {
        eprintln!("replay: decision {} differs from the live verdict ({})", verdict.decision, live.decision);
        std::process::exit(EXIT_MISMATCH);
    }
    if args.expect.is_some()
        && let Err(diffs) = verdict.compare(&live, args.tolerance)
    {
        for d in diffs {
            eprintln!("  - {d}");
        }
        std::process::exit(EXIT_MISMATCH);
    }
    Ok(())
}

fn serve(a: ServeArgs) -> Result<()> {
    use facereview::server::{self, AppState, ServeConfig};
    use facereview::session::{SessionLimits, Shared};
    use std::sync::Arc;
    use std::time::Duration;
    if !(a.review_sla_hours.is_finite() && a.review_sla_hours > 0.0 && a.review_sla_hours <= 24.0 * 365.0) {
        bail!("--review-sla-hours must be a number of hours between 0 and 8760");
    }
    let paths = Paths::from_env();
    let manifest = Manifest::load(&paths.manifest)?;
    let rt = Runtime::new(&paths.ort_lib, manifest)?;
    // Every model must load now (a broken install is a start-up error, not a silent pass later).
    let check = ReplayOptions { require_models: !a.allow_missing_models, ..Default::default() };
    let probe = facereview::analyzer::Analyzer::spawn(&rt, &check, facereview::analyzer::Feed::Block)
        .context("loading the models")?;
    for m in probe.models().iter().filter(|m| m.state != "ok") {
        eprintln!("warning: model {}: {}", m.id, m.state);
    }
    drop(probe.finish());
    let policy_path = a.policy.clone().unwrap_or_else(|| paths.root.join("policy/default.toml"));
    let policy_toml =
        std::fs::read_to_string(&policy_path).with_context(|| format!("reading {}", policy_path.display()))?;
    let policy = Policy::from_toml_str(&policy_toml).with_context(|| format!("policy {}", policy_path.display()))?;
    let pois = a.pois.as_deref().map(load_pois).transpose()?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async move {
        let store = match &a.db {
            Some(url) => facereview::store::Store::open(url).await,
            None => facereview::store::Store::open_default(&paths.data).await,
        }
        .context("opening the store")?;
        let (api_key, key_file) = server::load_or_create_api_key(&paths.data).context("API key")?;
        match key_file {
            Some(p) => eprintln!("API key: in {}", p.display()),
            None => eprintln!("API key: from FACEREVIEW_API_KEY"),
        }
        let shared = Arc::new(Shared {
            rt,
            store,
            policy: Arc::new(policy),
            policy_toml,
            pois: pois.map(Arc::new),
            pois_path: a.pois.clone(),
            checks: ChecksConfig::default(),
            analysis: ReplayOptions::default(),
            limits: SessionLimits {
                max_call: Duration::from_secs(a.max_call_s),
                grace: Duration::from_secs(a.grace_s),
                start_bitrate_kbps: Some(a.start_bitrate_kbps),
                loopback: a.loopback,
                adapt: a.adapt == "on",
                ..Default::default()
            },
            manifest_path: paths.manifest.clone(),
            webhook: a.webhook.clone(),
            http: reqwest::Client::builder().build().context("HTTP client")?,
        });
        let listener = tokio::net::TcpListener::bind(a.listen).await.with_context(|| format!("listening on {}", a.listen))?;
        let local = listener.local_addr()?;
        let cfg = ServeConfig {
            listen: local,
            public_url: a.public_url.clone().unwrap_or_else(|| format!("http://{local}")),
            data_dir: paths.data.clone(),
            web_dir: paths.root.join("web/applicant"),
            console_web_dir: paths.root.join("web/console"),
            review_sla_hours: a.review_sla_hours,
            api_key,
            max_sessions: a.max_sessions.max(1),
            max_offer_bytes: server::DEFAULT_MAX_OFFER,
            max_create_bytes: server::DEFAULT_MAX_CREATE,
            default_ttl: Duration::from_secs(a.ttl_s),
            retention_days: a.retention_days,
        };
        let state = AppState::new(cfg, shared);
        // The first console admin (when there is no account yet), before anyone can connect.
        server::bootstrap_console(&state).await.context("creating the first console account")?;
        eprintln!("facereview: serving on http://{local} (data in {})", paths.data.display());
        let shutdown = async {
            let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {},
                _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending().await } } => {},
            }
            eprintln!("facereview: shutting down");
        };
        server::serve(state, listener, shutdown, Duration::from_secs(120)).await?;
        eprintln!("facereview: stopped");
        Ok(())
    })
}

fn status_line(v: &serde_json::Value) -> String {
    match v.get("status").and_then(|s| s.as_str()) {
        Some("available") => "available".into(),
        Some(s) => format!("{s}: {}", v.get("reason").and_then(|r| r.as_str()).unwrap_or("")),
        None => "?".into(),
    }
}

fn print_summary(r: &ReplayReport) {
    let v = serde_json::to_value(r).unwrap_or_default();
    let e = &v["evidence"];
    let m = &r.media;
    println!("{}", r.file);
    println!(
        "  media: {:.1} s, video {} {}x{}, audio {}",
        m.duration_s.unwrap_or(0.0),
        m.video_codec.as_deref().unwrap_or("none"),
        m.width.unwrap_or(0),
        m.height.unwrap_or(0),
        m.audio_codec.as_deref().unwrap_or("none")
    );
    println!(
        "  decode: {} frames, {:.1} s audio, {:.1} s wall, {:.1}x real time{}",
        r.decode.video_frames,
        r.decode.audio_seconds,
        r.decode.wall_seconds,
        r.decode.speed,
        r.decode.error.as_ref().map(|e| format!(", stopped early: {e}")).unwrap_or_default()
    );
    let ev = &r.evidence;
    println!(
        "  faces:      {} | present {:.0}% of sampled frames, several faces {:.0}%",
        status_line(&e["faces"]),
        ev.faces.face_present_ratio * 100.0,
        ev.faces.multi_face_ratio * 100.0
    );
    let s = |x: &Option<replay::report::SeriesSummary>| {
        x.as_ref().map(|s| format!("{:.2}..{:.2} (mean {:.2})", s.min, s.max, s.mean)).unwrap_or("-".into())
    };
    println!(
        "  mesh:       {} | {} samples, eye open {}, mouth open {}, yaw {}",
        status_line(&e["mesh"]),
        ev.mesh.series.len(),
        s(&ev.mesh.eye_open),
        s(&ev.mesh.mouth_open),
        s(&ev.mesh.yaw_deg)
    );
    let mut dist: Vec<_> = ev.expression.distribution.iter().collect();
    dist.sort_by(|a, b| b.1.total_cmp(a.1));
    let dist: Vec<String> = dist.iter().take(3).map(|(k, p)| format!("{k} {:.0}%", *p * 100.0)).collect();
    println!("  expression: {} | {}", status_line(&e["expression"]), dist.join(", "));
    println!(
        "  speech:     {} | {} segments, {:.0}% of audio",
        status_line(&e["speech"]),
        ev.speech.segments.len(),
        ev.speech.speech_ratio * 100.0
    );
    println!(
        "  voice:      {} | {} samples, similarity to rest min {} mean {}",
        status_line(&e["voice"]),
        ev.voice.segments.len(),
        ev.voice.min_similarity.map(|x| format!("{x:.2}")).unwrap_or("-".into()),
        ev.voice.mean_similarity.map(|x| format!("{x:.2}")).unwrap_or("-".into())
    );
    let cats: Vec<String> =
        ev.background.categories.iter().take(3).map(|c| format!("{} {:.0}%", c.label, c.prob * 100.0)).collect();
    println!("  background: {} | {}", status_line(&e["background"]), cats.join(", "));
    println!(
        "  objects:    {} | max persons {}, screens in {} samples, phones in {}",
        status_line(&e["objects"]),
        ev.objects.max_persons,
        ev.objects.screens_seen,
        ev.objects.phones_seen
    );
    let texts: Vec<String> = ev.text.distinct.iter().take(5).map(|(t, _)| format!("{t:?}")).collect();
    println!("  text:       {} | {}", status_line(&e["text"]), texts.join(" "));
    println!(
        "  identity:   {} | {} samples, similarity to reference min {}",
        status_line(&e["identity"]),
        ev.identity.samples.len(),
        ev.identity.min_similarity.map(|x| format!("{x:.2}")).unwrap_or("-".into())
    );
    println!("  anti-spoof: {}", status_line(&e["anti_spoof"]));
    if let Some(v) = &r.verdict {
        println!(
            "verdict: {} (risk {:.2}, policy {})",
            format!("{:?}", v.decision).to_uppercase(),
            v.risk_score,
            v.policy_version
        );
        for reason in &v.reasons {
            let when = reason
                .evidence
                .first()
                .map(|e| format!(" @ {:.1}-{:.1}s", e.range.start.as_secs_f64(), e.range.end.as_secs_f64()))
                .unwrap_or_default();
            println!("  [{:?}] {}: {}{when}", reason.decision, reason.code, reason.text);
        }
    }
}

fn voices(args: StoreArgs, cmd: VoicesCmd) -> Result<()> {
    let paths = Paths::from_env();
    let mut store = VoiceprintStore::open(&args.data_dir()).context("opening the voiceprint store")?;
    match cmd {
        VoicesCmd::Enrol { id, file, blocked } => {
            let manifest = Manifest::load(&paths.manifest)?;
            let rt = Runtime::new(&paths.ort_lib, manifest)?;
            let mut embedder = facereview::infer::models::voice::VoiceEmbedder::load(&rt)?;
            let (embedding, seconds) = embed_file(&file, &mut embedder)?;
            let kind = if blocked { VoiceprintKind::Blocked } else { VoiceprintKind::Enrolled };
            let now =
                std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
            let source = file.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
            store.enrol(&id, kind, embedding, &source, seconds, now)?;
            let record_kind = if blocked { "blocked" } else { "applicant" };
            record_voiceprint(&args, &id, Some((record_kind, &file)))?;
            println!("enrolled `{id}` ({kind}) from {seconds:.1} s of audio");
        }
        VoicesCmd::List { json } => {
            let list = store.list();
            if json {
                println!("{}", serde_json::to_string_pretty(&list)?);
            } else {
                for v in list {
                    println!(
                        "{:<24} {:<9} {:>6.1} s  {}  created {}",
                        v.id, v.kind, v.seconds, v.source, v.created_at_unix
                    );
                }
            }
        }
        VoicesCmd::Remove { id } => {
            if store.remove(&id)? {
                record_voiceprint(&args, &id, None)?;
                println!("removed `{id}`");
            } else {
                bail!("no voiceprint `{id}`");
            }
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------------------------
// Console accounts and the audit log (docs/console.md)

/// Where the store and the data folder are, for the commands that need the database.
#[derive(clap::Args)]
struct StoreArgs {
    /// Database URL: sqlite://FILE or postgres://... (default: SQLite in the data folder).
    #[arg(long, env = "FACEREVIEW_DB", global = true)]
    db: Option<String>,
    /// The data folder (default: FACEREVIEW_DATA, else <home>/data); holds the audit head file.
    #[arg(long, env = "FACEREVIEW_DATA", global = true)]
    data: Option<std::path::PathBuf>,
}

impl StoreArgs {
    fn data_dir(&self) -> std::path::PathBuf {
        self.data.clone().unwrap_or_else(|| Paths::from_env().data)
    }

    async fn open(&self) -> Result<facereview::store::Store> {
        match &self.db {
            Some(url) => facereview::store::Store::open(url).await,
            None => facereview::store::Store::open_default(&self.data_dir()).await,
        }
        .context("opening the store")
    }
}

#[derive(Subcommand)]
enum UsersCmd {
    /// Add an account; the password comes from stdin (--password-stdin) or is generated and printed once.
    Add {
        /// 1-64 of a-z 0-9 . _ -
        username: String,
        /// reviewer, supervisor, qa or admin.
        #[arg(long)]
        role: String,
        /// The name shown in the console (default: the username).
        #[arg(long)]
        display_name: Option<String>,
        /// Read the password (12-256 characters) from stdin instead of generating one.
        #[arg(long)]
        password_stdin: bool,
    },
    /// List the accounts (no password hashes).
    List {
        #[arg(long)]
        json: bool,
    },
    /// Change an account's role.
    SetRole { username: String, role: String },
    /// Set a new password (from stdin with --password-stdin, else generated and printed once); clears a lockout.
    Passwd {
        username: String,
        #[arg(long)]
        password_stdin: bool,
    },
    /// Disable an account and end its console logins.
    Disable { username: String },
    /// Enable a disabled account (and clear a lockout).
    Enable { username: String },
}

#[derive(Subcommand)]
enum AuditCmd {
    /// Recompute the audit log's hash chain and compare its newest entry with <data>/audit-head (exit 5 when the
    /// log was changed).
    Verify {
        #[arg(long)]
        json: bool,
    },
}

/// Exit status for a usage or validation error (bad username, role or password, unknown user ...).
const EXIT_USAGE: i32 = 2;
/// Exit status when the audit log fails verification.
const EXIT_AUDIT_FAILED: i32 = 5;

/// An error the user can fix by changing the command line; `main` exits with [`EXIT_USAGE`].
#[derive(Debug)]
struct UsageError(String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

fn usage(message: impl std::fmt::Display) -> anyhow::Error {
    anyhow::Error::new(UsageError(message.to_string()))
}

/// Store refusals the user caused (invalid input, unknown or duplicate names) are usage errors.
fn store_err(e: facereview::store::StoreError) -> anyhow::Error {
    use facereview::store::StoreError;
    match e {
        StoreError::Invalid { .. } | StoreError::NotFound { .. } | StoreError::Conflict { .. } => usage(e),
        e => anyhow::Error::new(e),
    }
}

/// `cli:<unix user>`: `$USER` when it is a plain name, else the uid.
fn cli_actor() -> String {
    let user = std::env::var("USER").ok().filter(|u| {
        !u.is_empty() && u.len() <= 64 && u.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
    });
    let user = user.unwrap_or_else(|| {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata("/proc/self").map(|m| m.uid().to_string()).unwrap_or_else(|_| "unknown".into())
    });
    format!("cli:{user}")
}

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

/// The password from stdin (one trailing newline removed) checked against the policy, or a generated one.
fn new_password(from_stdin: bool) -> Result<(String, bool)> {
    if !from_stdin {
        return Ok((facereview::auth::generate_password()?, true));
    }
    let mut text = String::new();
    std::io::Read::read_to_string(&mut std::io::stdin(), &mut text).context("reading the password from stdin")?;
    let password = text.strip_suffix('\n').map(|t| t.strip_suffix('\r').unwrap_or(t)).unwrap_or(&text).to_owned();
    facereview::auth::check_password_policy(&password).map_err(usage)?;
    Ok((password, false))
}

fn parse_role(role: &str) -> Result<facereview::auth::Role> {
    role.parse().map_err(usage)
}

async fn audit_cli(
    store: &facereview::store::Store,
    data: &std::path::Path,
    action: &str,
    detail: serde_json::Value,
) -> Result<()> {
    let actor = cli_actor();
    let entry =
        facereview::store::NewAudit { t_ms: now_ms(), actor: &actor, action, session_id: None, detail: &detail };
    store.append_audit_and_head(&entry, data).await.context("writing the audit log")?;
    Ok(())
}

fn users(args: StoreArgs, cmd: UsersCmd) -> Result<()> {
    use facereview::auth;
    use facereview::store::{NewUser, UserUpdate};
    // Everything the command line can get wrong is checked before the database is opened.
    let (role, password) = match &cmd {
        UsersCmd::Add { username, role, password_stdin, .. } => {
            auth::validate_username(username).map_err(usage)?;
            (Some(parse_role(role)?), Some(new_password(*password_stdin)?))
        }
        UsersCmd::SetRole { role, .. } => (Some(parse_role(role)?), None),
        UsersCmd::Passwd { password_stdin, .. } => (None, Some(new_password(*password_stdin)?)),
        _ => (None, None),
    };
    let data = args.data_dir();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(async move {
        let store = args.open().await?;
        let print_generated = |username: &str, password: &Option<(String, bool)>| {
            if let Some((p, true)) = password {
                println!("password for `{username}` (shown once): {p}");
            }
        };
        match cmd {
            UsersCmd::Add { username, display_name, .. } => {
                let role = role.context("role")?;
                let display_name = display_name.unwrap_or_else(|| username.clone());
                let hash = auth::hash_password(&password.as_ref().context("password")?.0)?;
                let new =
                    NewUser { username: &username, display_name: &display_name, role: role.as_str(), password_hash: &hash };
                let user = store.create_user(&new, now_ms()).await.map_err(|e| match e {
                    facereview::store::StoreError::Conflict { .. } => usage(format!("user `{username}` already exists")),
                    e => store_err(e),
                })?;
                let detail = serde_json::json!({"username": user.username, "role": user.role, "display_name": user.display_name});
                audit_cli(&store, &data, "user.add", detail).await?;
                println!("added `{}` ({})", user.username, user.role);
                print_generated(&username, &password);
            }
            UsersCmd::List { json } => {
                let list = store.list_users().await?;
                if json {
                    println!("{}", serde_json::to_string_pretty(&list)?);
                } else {
                    let now = now_ms();
                    println!("{:<24} {:<11} {:<10} display name", "username", "role", "status");
                    for u in list {
                        let status = if u.disabled {
                            "disabled"
                        } else if u.locked_until_ms.is_some_and(|t| t > now) {
                            "locked"
                        } else {
                            "active"
                        };
                        println!("{:<24} {:<11} {:<10} {}", u.username, u.role, status, u.display_name);
                    }
                }
            }
            UsersCmd::SetRole { username, .. } => {
                let role = role.context("role")?;
                let before = store.user_by_name(&username).await?.ok_or_else(|| usage(format!("no user `{username}`")))?;
                let update = UserUpdate { role: Some(role.as_str()), ..Default::default() };
                let user = store.update_user(&username, &update, now_ms()).await.map_err(store_err)?;
                let detail = serde_json::json!({"username": username, "from": before.role, "to": user.role});
                audit_cli(&store, &data, "user.role", detail).await?;
                println!("`{username}` is now {} (was {})", user.role, before.role);
            }
            UsersCmd::Passwd { username, .. } => {
                let hash = auth::hash_password(&password.as_ref().context("password")?.0)?;
                let update = UserUpdate { password_hash: Some(&hash), ..Default::default() };
                store.update_user(&username, &update, now_ms()).await.map_err(store_err)?;
                audit_cli(&store, &data, "user.passwd", serde_json::json!({"username": username})).await?;
                println!("password of `{username}` changed");
                print_generated(&username, &password);
            }
            UsersCmd::Disable { username } => set_disabled(&store, &data, &username, true).await?,
            UsersCmd::Enable { username } => set_disabled(&store, &data, &username, false).await?,
        }
        store.close().await;
        Ok(())
    })
}

async fn set_disabled(
    store: &facereview::store::Store,
    data: &std::path::Path,
    username: &str,
    disabled: bool,
) -> Result<()> {
    let update = facereview::store::UserUpdate { disabled: Some(disabled), ..Default::default() };
    store.update_user(username, &update, now_ms()).await.map_err(store_err)?;
    let action = if disabled { "user.disable" } else { "user.enable" };
    audit_cli(store, data, action, serde_json::json!({"username": username})).await?;
    println!("`{username}` {}", if disabled { "disabled (its console logins ended)" } else { "enabled" });
    Ok(())
}

fn audit(args: StoreArgs, cmd: AuditCmd) -> Result<()> {
    let AuditCmd::Verify { json } = cmd;
    let data = args.data_dir();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let v = runtime.block_on(async {
        let store = args.open().await?;
        let head = facereview::store::audit_head::read_head(&data);
        let v = store.verify_audit_with_head(head).await.context("reading the audit log")?;
        store.close().await;
        Ok::<_, anyhow::Error>(v)
    })?;
    if json {
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else if v.ok {
        println!("ok: {} entries", v.entries);
    } else {
        let at = v.first_bad_seq.map(|s| format!(" at seq {s}")).unwrap_or_default();
        println!("FAILED{at}: {}", v.problem.as_deref().unwrap_or("unknown problem"));
    }
    if !v.ok {
        if !json {
            eprintln!("error: the audit log failed verification ({} entries)", v.entries);
        }
        std::process::exit(EXIT_AUDIT_FAILED);
    }
    Ok(())
}

/// Records a voiceprint enrolment (or its removal) in the database and the audit log.
fn record_voiceprint(args: &StoreArgs, id: &str, enrolled: Option<(&str, &std::path::Path)>) -> Result<()> {
    use sha2::Digest;
    let data = args.data_dir();
    let hashes = match enrolled {
        Some((_, file)) => {
            let mut f = std::fs::File::open(file).with_context(|| format!("reading {}", file.display()))?;
            let mut h = sha2::Sha256::new();
            std::io::copy(&mut f, &mut h).with_context(|| format!("reading {}", file.display()))?;
            let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
            let name = file.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
            Some((hex(&h.finalize()), hex(&sha2::Sha256::digest(name.as_bytes()))))
        }
        None => None,
    };
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(async {
        let store = args.open().await?;
        let actor = cli_actor();
        match (enrolled, &hashes) {
            (Some((kind, _)), Some((file_sha256, source_sha256))) => {
                let e = facereview::store::NewVoiceprintEnrolment {
                    id,
                    kind,
                    file_sha256,
                    source_sha256: Some(source_sha256),
                    created_at_ms: now_ms(),
                    created_by: &actor,
                };
                store.put_voiceprint_enrolment(&e).await.context("recording the enrolment")?;
                let detail = serde_json::json!({"id": id, "kind": kind, "file_sha256": file_sha256});
                audit_cli(&store, &data, "voice.enrol", detail).await?;
            }
            _ => {
                let existed = store.remove_voiceprint_enrolment(id).await.context("removing the enrolment record")?;
                audit_cli(&store, &data, "voice.remove", serde_json::json!({"id": id, "had_record": existed})).await?;
            }
        }
        store.close().await;
        Ok(())
    })
}
