//! The `matterwall` command: parse arguments, load the config, run, and map
//! errors to exit codes (2 with a one-line message for bad input).

#![forbid(unsafe_code)]

mod cmd;

use clap::{Parser, Subcommand};
use matterwall::check::{self, Envelope};
use matterwall::config::Config;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "matterwall",
    version,
    about = "Outgoing-email data-loss-prevention filter for law firms"
)]
struct Cli {
    /// The main configuration file.
    #[arg(long, global = true, default_value = "rules/matterwall.toml")]
    config: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print the full decision for one message as JSON, sending nothing.
    Check {
        /// Envelope sender (default: the From header).
        #[arg(long)]
        from: Option<String>,
        /// Envelope recipient, repeatable (default: To, Cc and Bcc headers).
        #[arg(long)]
        to: Vec<String>,
        /// The message, or `-` for standard input.
        file: PathBuf,
    },
    /// Check or exercise the rules file.
    Rules {
        #[command(subcommand)]
        command: RulesCommand,
    },
    /// Run the SMTP proxy and the review listener until SIGTERM.
    Serve,
    /// Check the configuration, then make the running server reload it
    /// (the same as SIGHUP).
    Reload,
    /// List and act on held messages.
    Quarantine {
        #[command(subcommand)]
        command: QuarantineCommand,
    },
    /// Users of the review interface.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// API bearer tokens.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// The hash-chained audit trail.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
}

#[derive(Subcommand)]
enum UserCommand {
    /// Add a user. Without --password-stdin a password is generated and printed once.
    Add {
        name: String,
        /// reviewer (acts on held mail), auditor (read-only + audit log) or admin.
        #[arg(long)]
        role: String,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
        /// Enrol a TOTP second factor; prints the otpauth:// URI for an authenticator app.
        #[arg(long)]
        totp: bool,
    },
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Print a new bearer token for the API, acting as user NAME (shown once).
    Create { name: String },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Walk the hash chain; exit 1 naming the first edited, inserted or deleted entry.
    Verify,
    /// Write every entry as one JSON object per line.
    Export,
}

#[derive(Subcommand)]
enum QuarantineCommand {
    /// Every message in the store, newest first (no content).
    List {
        #[arg(long)]
        json: bool,
    },
    /// One message's envelope and verdict; `--raw` prints the message itself.
    Show {
        id: String,
        #[arg(long)]
        raw: bool,
    },
    /// Relay a held message to the next hop, exactly once.
    Release {
        id: String,
        /// Why (recorded in the audit trail).
        #[arg(long)]
        comment: Option<String>,
    },
    /// Settle a message an interrupted release left in `releasing`, after
    /// checking the next hop's log: `--delivered` marks it released,
    /// `--not-delivered` puts it back in the queue to be released again.
    Resolve {
        id: String,
        #[arg(
            long,
            conflicts_with = "not_delivered",
            required_unless_present = "not_delivered"
        )]
        delivered: bool,
        #[arg(long)]
        not_delivered: bool,
    },
    /// Send compliance the digest of held mail now.
    Digest,
    /// Destroy what is past `[store] retention_days` now (serve does it hourly).
    Expire,
    /// Mark a held message rejected; it is never sent. The sender is told,
    /// with the comment.
    Reject {
        id: String,
        #[arg(long)]
        comment: Option<String>,
    },
}

#[derive(Subcommand)]
enum RulesCommand {
    /// Load the configuration and dictionaries; report every problem.
    Validate,
    /// Run the example messages the rules file declares against their expected actions.
    Test,
}

fn main() -> ExitCode {
    withhold_panic_messages();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Check { from, to, file } => run_check(&cli.config, from, to, &file),
        Command::Rules {
            command: RulesCommand::Validate,
        } => validate(&cli.config),
        Command::Rules {
            command: RulesCommand::Test,
        } => rules_test(&cli.config),
        Command::Serve => {
            init_logging();
            cmd::serve::run(&cli.config)
                .map(|()| ExitCode::SUCCESS)
                .map_err(|e| format!("{e:#}"))
        }
        Command::Reload => load(&cli.config).and_then(|cfg| {
            cmd::reload::run(&cfg)
                .map(|()| ExitCode::SUCCESS)
                .map_err(|e| format!("{e:#}"))
        }),
        Command::Quarantine { command } => quarantine(&cli.config, command),
        Command::User { command } => user(&cli.config, command),
        Command::Token {
            command: TokenCommand::Create { name },
        } => load(&cli.config)
            .and_then(|cfg| glue(cmd::user::token(&cfg, &name).map(|()| ExitCode::SUCCESS))),
        Command::Audit { command } => load(&cli.config).and_then(|cfg| {
            glue(match command {
                AuditCommand::Verify => cmd::audit::verify(&cfg),
                AuditCommand::Export => cmd::audit::export(&cfg),
            })
        }),
    };
    match result {
        Ok(code) => code,
        Err(message) => {
            eprintln!("matterwall: {message}");
            ExitCode::from(2)
        }
    }
}

/// Structured logs on stderr; `RUST_LOG`-style filtering is not wired
/// (the `env-filter` feature is left out to keep the build lean).
fn init_logging() {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .init();
}

fn quarantine(config: &Path, command: QuarantineCommand) -> Result<ExitCode, String> {
    let cfg = load(config)?;
    let result = match command {
        QuarantineCommand::List { json } => cmd::quarantine::list(&cfg, json),
        QuarantineCommand::Show { id, raw } => cmd::quarantine::show(&cfg, &id, raw),
        QuarantineCommand::Release { id, comment } => {
            cmd::quarantine::release(&cfg, &id, comment.as_deref())
        }
        QuarantineCommand::Digest => cmd::quarantine::digest(&cfg),
        QuarantineCommand::Expire => cmd::quarantine::expire(&cfg),
        QuarantineCommand::Resolve { id, delivered, .. } => {
            cmd::quarantine::resolve(&cfg, &id, delivered)
        }
        QuarantineCommand::Reject { id, comment } => {
            cmd::quarantine::reject(&cfg, &id, comment.as_deref())
        }
    };
    result
        .map(|()| ExitCode::SUCCESS)
        .map_err(|e| format!("{e:#}"))
}

fn user(config: &Path, command: UserCommand) -> Result<ExitCode, String> {
    let cfg = load(config)?;
    let UserCommand::Add {
        name,
        role,
        password_stdin,
        totp,
    } = command;
    glue(cmd::user::add(&cfg, &name, &role, password_stdin, totp).map(|()| ExitCode::SUCCESS))
}

/// The glue's errors as the one-line message `main` prints.
fn glue(r: anyhow::Result<ExitCode>) -> Result<ExitCode, String> {
    r.map_err(|e| format!("{e:#}"))
}

/// A panic inside a parser is caught (the part is uninspectable, or the
/// message gets 451), but the default hook would print the panic message,
/// which a third-party parser may build from message content. In a DLP
/// product that is a second copy of the leak: print only where it happened.
fn withhold_panic_messages() {
    std::panic::set_hook(Box::new(|info| {
        let at = info
            .location()
            .map(|l| format!("{}:{}", l.file(), l.line()))
            .unwrap_or_default();
        eprintln!("matterwall: internal panic at {at} (message withheld: it may carry content)");
    }));
}

fn load(path: &Path) -> Result<Config, String> {
    Config::load(path).map_err(|e| e.to_string())
}

fn read_message(file: &Path) -> Result<Vec<u8>, String> {
    if file == Path::new("-") {
        let mut buf = Vec::new();
        std::io::stdin()
            .read_to_end(&mut buf)
            .map_err(|e| format!("cannot read standard input: {e}"))?;
        return Ok(buf);
    }
    std::fs::read(file).map_err(|e| format!("{}: cannot read: {e}", file.display()))
}

fn run_check(
    config: &Path,
    from: Option<String>,
    to: Vec<String>,
    file: &Path,
) -> Result<ExitCode, String> {
    let cfg = load(config)?;
    let raw = read_message(file)?;
    let envelope = Envelope::or_headers(&raw, from, to);
    let verdict = check::check(&cfg, &envelope, &raw, check::today());
    let json =
        serde_json::to_string(&verdict).map_err(|e| format!("cannot encode the verdict: {e}"))?;
    println!("{json}");
    Ok(ExitCode::SUCCESS)
}

fn validate(config: &Path) -> Result<ExitCode, String> {
    match Config::load(config) {
        Ok(cfg) => {
            println!(
                "{}: ok ({} clients, {} matters, {} waivers, {} keys, {} rules)",
                config.display(),
                cfg.dict.clients.len(),
                cfg.dict.matters.len(),
                cfg.dict.waivers.len(),
                cfg.certs.len(),
                cfg.rules.len()
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            for p in &e.problems {
                eprintln!("{p}");
            }
            Err(format!(
                "{} problem(s); configuration refused",
                e.problems.len()
            ))
        }
    }
}

fn rules_test(config: &Path) -> Result<ExitCode, String> {
    let cfg = load(config)?;
    if cfg.examples.is_empty() {
        return Err(format!(
            "{}: declares no [[example]] messages",
            config.display()
        ));
    }
    let mut failed = 0;
    for ex in &cfg.examples {
        let raw = read_message(&ex.file)?;
        let envelope = Envelope::or_headers(&raw, ex.from.clone(), ex.to.clone());
        let v = check::check(&cfg, &envelope, &raw, check::today());
        let rules_ok = ex.rules.as_ref().is_none_or(|want| *want == v.rule_names());
        let ok = v.action == ex.action && rules_ok;
        failed += usize::from(!ok);
        println!(
            "{} {}: expected {}, got {} ({})",
            if ok { "ok  " } else { "FAIL" },
            ex.file.display(),
            ex.action.as_str(),
            v.action.as_str(),
            v.rule_names().join(", ")
        );
    }
    println!("{} passed, {} failed", cfg.examples.len() - failed, failed);
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
