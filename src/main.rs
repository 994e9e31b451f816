//! The `facereview` binary: a thin CLI over the library. `anyhow` lives only here.

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use facereview::config::Paths;
use facereview::infer::manifest::{FileStatus, Manifest, check_file};
use facereview::infer::runtime::describe;
use facereview::infer::{InferError, Runtime};

#[derive(Parser)]
#[command(
    name = "facereview",
    version,
    about = "Video face-to-face review pipeline for loan applicants"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Model manifest tools.
    Models {
        #[command(subcommand)]
        cmd: ModelsCmd,
    },
}

#[derive(Subcommand)]
enum ModelsCmd {
    /// Check every model file (presence, size, sha256) and its signature against the manifest; prints a table.
    Verify,
}

fn main() {
    let cli = Cli::parse();
    let result = match cli.cmd {
        Cmd::Models {
            cmd: ModelsCmd::Verify,
        } => models_verify(),
    };
    if let Err(e) = result {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

fn models_verify() -> Result<()> {
    let paths = Paths::from_env();
    let manifest = Manifest::load(&paths.manifest)?;
    let rt = Runtime::new(&paths.ort_lib, manifest.clone()).context("ONNX Runtime")?;
    println!(
        "manifest {} (sha256 {})",
        paths.manifest.display(),
        &manifest.sha256[..16]
    );
    println!(
        "{:<20} {:<16} {:<18} {:<10} {}",
        "model", "task", "origin", "status", "detail"
    );
    let mut failed = Vec::new();
    for spec in &manifest.models {
        let origin = format!("{:?}", spec.origin).to_lowercase();
        let file = check_file(&manifest.file_path(spec), spec);
        let (status, detail) = match (&file, spec.optional) {
            (FileStatus::Missing, true) => ("absent", "optional, not configured".to_owned()),
            (s, _) if !s.is_ok() => ("FAIL", describe(s)),
            _ => match rt.load(&spec.id) {
                Ok(m) => {
                    let ins: Vec<String> = m
                        .spec
                        .inputs
                        .iter()
                        .map(|t| format!("{}{:?}", t.name, t.shape))
                        .collect();
                    ("ok", format!("{} in: {}", describe(&file), ins.join(" ")))
                }
                Err(InferError::Signature { detail, .. }) => {
                    ("FAIL", format!("signature: {detail}"))
                }
                Err(e) => ("FAIL", e.to_string()),
            },
        };
        println!(
            "{:<20} {:<16} {:<18} {:<10} {}",
            spec.id, spec.task, origin, status, detail
        );
        if status == "FAIL" {
            failed.push(spec.id.clone());
        }
    }
    if !failed.is_empty() {
        bail!(
            "{} model(s) failed verification: {}",
            failed.len(),
            failed.join(", ")
        );
    }
    println!(
        "all {} required models verified",
        manifest.models.iter().filter(|m| !m.optional).count()
    );
    Ok(())
}
