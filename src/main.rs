//! The `matterwall` command: parse arguments and dispatch to `cmd/`, mapping
//! errors to exit codes (2 with a one-line message for bad input).

#![forbid(unsafe_code)]

mod cmd;

use clap::{Parser, Subcommand};
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
    /// The store itself.
    Store {
        #[command(subcommand)]
        command: StoreCommand,
    },
    /// Every message of an mbox, Maildir or .eml tree through the policy
    /// (and a second one with --compare), sending nothing: a summary, the
    /// differences, JSON lines, an HTML report.
    Replay {
        /// A second configuration to judge every message by too.
        #[arg(long)]
        compare: Option<PathBuf>,
        /// Envelope sender for every message (default: its From header).
        #[arg(long)]
        from: Option<String>,
        /// Envelope recipient for every message, repeatable (default: To, Cc, Bcc).
        #[arg(long)]
        to: Vec<String>,
        /// One JSON line per message on stdout (the summary goes to stderr).
        #[arg(long)]
        json: bool,
        /// Write a self-contained HTML report here.
        #[arg(long)]
        html: Option<PathBuf>,
        /// mbox files, Maildirs or folders of .eml files.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// The client and matter dictionaries.
    Dictionaries {
        #[command(subcommand)]
        command: DictionariesCommand,
    },
}

#[derive(Subcommand)]
enum StoreCommand {
    /// Copy the embedded store into an empty PostgreSQL one, then verify the audit chain there.
    Migrate {
        /// postgres://USER[:PASSWORD]@HOST[:PORT]/DB[?sslmode=require]
        #[arg(long)]
        to: String,
    },
}

#[derive(Subcommand)]
enum DictionariesCommand {
    /// Warn about entries that will match ordinary mail or authorise the
    /// wrong people, with file, line and a suggested fix (exit 0).
    Lint {
        /// More common words or names, one a line (`#` comments).
        #[arg(long)]
        words: Option<PathBuf>,
        /// An archive (mbox, Maildir, .eml tree), repeatable: how many of its
        /// messages every name and alias fires in, highest first.
        #[arg(long)]
        against: Vec<PathBuf>,
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
        /// Reviewer scope: client ids (comma-separated) the reviewer is limited to.
        #[arg(long, default_value = "")]
        clients: String,
        /// Reviewer scope: client groups (the `group` column of clients.csv), comma-separated.
        #[arg(long, default_value = "")]
        groups: String,
    },
    /// Show, set or lift a reviewer's scope (the clients they may review).
    /// Without options, prints it; --clients and --groups set it to exactly
    /// those; --clear lifts it.
    Scope {
        name: String,
        /// Client ids, comma-separated.
        #[arg(long, default_value = "", conflicts_with = "clear")]
        clients: String,
        /// Client groups, comma-separated.
        #[arg(long, default_value = "", conflicts_with = "clear")]
        groups: String,
        /// Lift the scope: the reviewer sees every client again.
        #[arg(long)]
        clear: bool,
    },
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Print a new bearer token for the API, acting as user NAME (shown once).
    Create { name: String },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Walk the hash chain and check it against the signed checkpoints; exit 1
    /// naming the first edited, inserted or deleted entry, a truncation or a rollback.
    Verify {
        /// A checkpoint file kept elsewhere (default: `[store] checkpoint_file`).
        #[arg(long)]
        checkpoint: Option<std::path::PathBuf>,
    },
    /// Sign the trail's end now and append it to the checkpoint file.
    Checkpoint,
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
    /// Approve a two-person message as its first reviewer (issue #18); a
    /// second, different person then releases it.
    Approve {
        id: String,
        /// Why (recorded in the audit trail); required.
        #[arg(long)]
        comment: String,
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
    /// Destroy what is past `[store] retention_days`, and forget first
    /// contacts past `[policy] first_contact_days`, now (serve does it hourly).
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
        Command::Check { from, to, file } => cmd::check::run(&cli.config, from, to, &file),
        Command::Rules {
            command: RulesCommand::Validate,
        } => cmd::rules::validate(&cli.config),
        Command::Rules {
            command: RulesCommand::Test,
        } => cmd::rules::test(&cli.config),
        Command::Serve => {
            init_logging();
            cmd::serve::run(&cli.config)
                .map(|()| ExitCode::SUCCESS)
                .map_err(|e| format!("{e:#}"))
        }
        Command::Reload => cmd::load_engine(&cli.config).and_then(|engine| {
            cmd::reload::run(&engine)
                .map(|()| ExitCode::SUCCESS)
                .map_err(|e| format!("{e:#}"))
        }),
        Command::Quarantine { command } => quarantine(&cli.config, command),
        Command::User { command } => user(&cli.config, command),
        Command::Token {
            command: TokenCommand::Create { name },
        } => cmd::load(&cli.config)
            .and_then(|cfg| glue(cmd::user::token(&cfg, &name).map(|()| ExitCode::SUCCESS))),
        Command::Replay {
            compare,
            from,
            to,
            json,
            html,
            paths,
        } => cmd::replay::run(
            &cli.config,
            cmd::replay::Args {
                compare,
                from,
                to,
                json,
                html,
                paths,
            },
        ),
        Command::Dictionaries {
            command: DictionariesCommand::Lint { words, against },
        } => cmd::lint::run(&cli.config, words.as_deref(), &against),
        Command::Audit { command } => cmd::load(&cli.config).and_then(|cfg| {
            glue(match command {
                AuditCommand::Verify { checkpoint } => {
                    cmd::audit::verify(&cfg, checkpoint.as_deref())
                }
                AuditCommand::Checkpoint => cmd::audit::checkpoint(&cfg),
                AuditCommand::Export => cmd::audit::export(&cfg),
            })
        }),
        Command::Store {
            command: StoreCommand::Migrate { to },
        } => cmd::load(&cli.config).and_then(|cfg| glue(cmd::store::migrate(&cfg, &to))),
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
    let cfg = cmd::load(config)?;
    let result = match command {
        QuarantineCommand::List { json } => cmd::quarantine::list(&cfg, json),
        QuarantineCommand::Show { id, raw } => cmd::quarantine::show(&cfg, &id, raw),
        QuarantineCommand::Release { id, comment } => {
            cmd::quarantine::release(&cfg, &id, comment.as_deref())
        }
        QuarantineCommand::Approve { id, comment } => cmd::quarantine::approve(&cfg, &id, &comment),
        QuarantineCommand::Digest => cmd::quarantine::digest(&cfg),
        // The rules hold `first_contact_days`: the engine, not just the config.
        QuarantineCommand::Expire => cmd::quarantine::expire(&cmd::load_engine(config)?),
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
    let cfg = cmd::load(config)?;
    let done = match command {
        UserCommand::Add {
            name,
            role,
            password_stdin,
            totp,
            clients,
            groups,
        } => {
            let scope = (clients.as_str(), groups.as_str());
            cmd::user::add(&cfg, &name, &role, password_stdin, totp, scope)
        }
        UserCommand::Scope {
            name,
            clients,
            groups,
            clear,
        } => cmd::user::scope(&cfg, &name, (clients.as_str(), groups.as_str()), clear),
    };
    glue(done.map(|()| ExitCode::SUCCESS))
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
