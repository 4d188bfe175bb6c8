//! Bad configuration and dictionaries: every problem names file, line and
//! reason; the load is refused whole; `check` exits 2 with one line.

use crate::support;
use matterwall::engine::Engine;
use std::path::Path;

const CLIENTS: &str = "client_id,name,aliases,domains\nC-1,Acme Ltd,Acme,acme.example\n";
const MATTERS: &str =
    "matter_number,client_id,description,cocounsel_domains,screened\n2024-0001,C-1,Acme v Road,,\n";

fn write_config(
    dir: &Path,
    toml_extra: &str,
    clients: &str,
    matters: &str,
    waivers: &str,
) -> std::path::PathBuf {
    let toml = format!(
        "[firm]\ninternal_domains = [\"firm.example\"]\n{toml_extra}\n[[rule]]\nname = \"r\"\naction = \"hold\"\nwhen = {{ mentions = true }}\n"
    );
    std::fs::write(dir.join("matterwall.toml"), toml).unwrap();
    std::fs::write(dir.join("clients.csv"), clients).unwrap();
    std::fs::write(dir.join("matters.csv"), matters).unwrap();
    std::fs::write(dir.join("waivers.csv"), waivers).unwrap();
    dir.join("matterwall.toml")
}

fn problems(toml_extra: &str, clients: &str, matters: &str, waivers: &str) -> Vec<String> {
    let tmp = tempfile::tempdir().unwrap();
    let path = write_config(tmp.path(), toml_extra, clients, matters, waivers);
    match Engine::load(&path) {
        Ok(_) => vec![],
        Err(e) => e
            .problems
            .iter()
            .map(|p| p.to_string().replace(&tmp.path().display().to_string(), ""))
            .collect(),
    }
}

const NO_WAIVERS: &str = "client_id,recipient,expires,reference\n";

#[test]
fn good_config_loads() {
    assert_eq!(
        problems("", CLIENTS, MATTERS, NO_WAIVERS),
        Vec::<String>::new()
    );
}

/// Issue #18: the optional `group` column, in any position, loads; a
/// file without it loads unchanged (`good_config_loads`).
#[test]
fn a_group_column_loads() {
    let clients = "group,client_id,name,aliases,domains\nshipping,C-1,Acme Ltd,Acme,acme.example\n,C-2,Other,,other.example\n";
    assert_eq!(
        problems("", clients, MATTERS, NO_WAIVERS),
        Vec::<String>::new()
    );
}

#[test]
fn each_bad_row_names_file_line_and_reason() {
    let cases: &[(&str, &str, &str, &str)] = &[
        ("clients", "client_id,name,aliases,domains\nC-1,Acme,,acme.example\nC-1,Other,,other.example\n", MATTERS, "/clients.csv:3: duplicate client_id C-1"),
        ("clients", "client_id,name,aliases,domains\nC-1,,,acme.example\n", "", "/clients.csv:2: client C-1: empty name"),
        ("clients", "client_id,name,aliases,domains\nC-1,Acme,,acme..example\n", MATTERS, "/clients.csv:2: client C-1: malformed domain"),
        ("clients", "client_id,name,domains\nC-1,Acme,acme.example\n", "", "/clients.csv:1: missing column `aliases`"),
        ("clients", "client_id,name,aliases,domains\n", "matter_number,client_id,description,cocounsel_domains,screened\n", "/clients.csv: no clients in it: an empty client list is refused"),
        ("clients", "client_id,name,aliases,domains,group\nC-1,Acme,,acme.example,a;b\n", MATTERS, "/clients.csv:2: client C-1: group \"a;b\": no ','"),
        ("clients", "client_id,name,aliases,domains,group\nC-1,Acme,,acme.example,ggggggggggggggggggggggggggggggggggggggggggggggggggggggggggggggggg\n", MATTERS, "/clients.csv:2: client C-1: group \"ggg"),
        ("matters", CLIENTS, "matter_number,client_id,description,cocounsel_domains,screened\n2024-0001,C-9,x,,\n", "/matters.csv:2: matter 2024-0001: unknown client_id \"C-9\""),
        ("matters", CLIENTS, "matter_number,client_id,description,cocounsel_domains,screened\nABC,C-1,x,,\n", "/matters.csv:2: matter ABC: a matter number needs at least one digit"),
        ("matters", CLIENTS, "matter_number,client_id,description,cocounsel_domains,screened\n1,C-1,x,,\n1,C-1,y,,\n", "/matters.csv:3: duplicate matter_number 1 (first on line 2)"),
        ("matters", CLIENTS, "matter_number,client_id,description,cocounsel_domains,screened\n1,C-1,\"x,,\n", "/matters.csv:2:"),
        ("waivers", CLIENTS, MATTERS, "/waivers.csv:2: expires \"31/12/2099\" is not an ISO date"),
    ];
    for (what, clients, matters, want) in cases {
        let waivers = if *what == "waivers" {
            "client_id,recipient,expires,reference\nC-1,x@y.example,31/12/2099,ref\n"
        } else {
            NO_WAIVERS
        };
        let got = problems(
            "",
            clients,
            if matters.is_empty() { MATTERS } else { matters },
            waivers,
        );
        assert!(
            got.iter().any(|p| p.contains(want)),
            "{what}: wanted {want:?} in {got:?}"
        );
    }
}

#[test]
fn every_problem_is_collected() {
    let clients = "client_id,name,aliases,domains\nC-1,,,x.example\nC-2,B,,bad_domain\n";
    let got = problems("", clients, MATTERS, NO_WAIVERS);
    assert!(got.len() >= 2, "{got:?}");
}

#[test]
fn toml_errors_name_the_line() {
    let got = problems(
        "[limits]\nmax_depth = \"deep\"\n",
        CLIENTS,
        MATTERS,
        NO_WAIVERS,
    );
    assert!(
        got.iter().any(|p| p.starts_with("/matterwall.toml:4:")),
        "{got:?}"
    );
    let got = problems("[limits]\nmax_dept = 3\n", CLIENTS, MATTERS, NO_WAIVERS);
    assert!(got.iter().any(|p| p.contains("unknown field")), "{got:?}");
    let got = problems(
        "[[detector]]\nname = \"x\"\nregex = \"(\"\n",
        CLIENTS,
        MATTERS,
        NO_WAIVERS,
    );
    assert!(got.iter().any(|p| p.contains("bad regex")), "{got:?}");
}

#[test]
fn check_exits_2_with_one_line() {
    let tmp = tempfile::tempdir().unwrap();
    let bad = write_config(
        tmp.path(),
        "",
        "client_id,name,aliases,domains\nC-1,,,x.example\n",
        MATTERS,
        NO_WAIVERS,
    );
    let msg = tmp.path().join("m.eml");
    std::fs::write(&msg, "Subject: x\r\n\r\nhello\r\n").unwrap();
    let out = support::matterwall(&[
        "--config",
        bad.to_str().unwrap(),
        "check",
        msg.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("clients.csv:2"), "{err}");

    let good = write_config(tmp.path(), "", CLIENTS, MATTERS, NO_WAIVERS);
    let out = support::matterwall(&[
        "--config",
        good.to_str().unwrap(),
        "check",
        "/nonexistent.eml",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let out = support::matterwall(&[
        "--config",
        good.to_str().unwrap(),
        "check",
        msg.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["action"], "pass");
}

#[test]
fn tls_files_are_checked_at_load_and_named() {
    let got = problems(
        "[smtp]\ntls_cert = \"nope.pem\"\ntls_key = \"nope.key\"\n",
        CLIENTS,
        MATTERS,
        NO_WAIVERS,
    );
    assert_eq!(got.len(), 1, "{got:?}");
    assert!(got[0].starts_with("/nope.pem"), "{got:?}");
    let got = problems(
        "[smtp]\ntls_cert = \"nope.pem\"\n",
        CLIENTS,
        MATTERS,
        NO_WAIVERS,
    );
    assert_eq!(got.len(), 1, "{got:?}");
    assert!(
        got[0].contains("tls_cert and tls_key go together"),
        "{got:?}"
    );
}

#[test]
fn next_hop_tls_mode_and_ca_are_checked_at_load() {
    let got = problems(
        "[next_hop]\ntls = \"always\"\n",
        CLIENTS,
        MATTERS,
        NO_WAIVERS,
    );
    assert_eq!(got.len(), 1, "{got:?}");
    assert!(
        got[0].contains("not none, opportunistic or required"),
        "{got:?}"
    );
    let got = problems(
        "[next_hop]\ntls = \"required\"\ntls_ca = \"nope.pem\"\n",
        CLIENTS,
        MATTERS,
        NO_WAIVERS,
    );
    assert_eq!(got.len(), 1, "{got:?}");
    assert!(got[0].starts_with("/nope.pem: tls_ca"), "{got:?}");
}

#[test]
fn encrypt_settings_and_archive_keys_are_checked_at_load() {
    let shipped_cert = support::repo().join("rules/certs/legal@harrowgate-shipping.com.pem");
    let cases = [
        ("archive_cert = \"nope.pem\"", "/nope.pem: cannot read"),
        (
            &format!("archive_key = {:?}", shipped_cert.display().to_string()) as &str,
            "archive_key must be an OpenPGP public key (.asc)",
        ),
        ("smime_key_transport = \"rsa\"", "is not pkcs1v15 or oaep"),
        (
            "neutral_subject = \"a\\nb\"",
            "neutral_subject must be one line",
        ),
        ("archive = \"x.pem\"", "unknown field `archive`"),
    ];
    for (line, want) in cases {
        let got = problems(
            &format!("[encrypt]\n{line}\n"),
            CLIENTS,
            MATTERS,
            NO_WAIVERS,
        );
        assert_eq!(got.len(), 1, "{line}: {got:?}");
        assert!(got[0].contains(want), "{line}: {got:?}");
    }
    let ok = format!(
        "[encrypt]\narchive_cert = {:?}\n",
        shipped_cert.display().to_string()
    );
    assert_eq!(
        problems(&ok, CLIENTS, MATTERS, NO_WAIVERS),
        Vec::<String>::new()
    );
}

#[test]
fn a_file_in_certs_that_is_no_key_is_named() {
    let tmp = tempfile::tempdir().unwrap();
    let path = write_config(tmp.path(), "", CLIENTS, MATTERS, NO_WAIVERS);
    std::fs::create_dir(tmp.path().join("certs")).unwrap();
    std::fs::write(tmp.path().join("certs/x@acme.example.pem"), "not a cert").unwrap();
    let err = Engine::load(&path).unwrap_err();
    assert_eq!(err.problems.len(), 1, "{err}");
    let shown = err.problems[0].to_string();
    assert!(
        shown.contains("certs/x@acme.example.pem: not a PEM certificate"),
        "{shown}"
    );
}

/// Issue 14: the next hop's client certificate and AUTH are checked at
/// load, and neither may go without `tls = "required"`.
#[test]
fn next_hop_identity_and_auth_are_checked_at_load() {
    let cases: &[(&str, &str)] = &[
        (
            "[next_hop]\ntls = \"required\"\ntls_client_cert = \"gw.crt\"\n",
            "tls_client_cert and tls_client_key go together",
        ),
        (
            "[next_hop]\ntls = \"opportunistic\"\ntls_client_cert = \"gw.crt\"\ntls_client_key = \"gw.key\"\n",
            "tls_client_cert needs tls = \"required\"",
        ),
        (
            "[next_hop]\ntls = \"required\"\ntls_client_cert = \"gw.crt\"\ntls_client_key = \"gw.key\"\n",
            "/gw.crt: tls_client_cert",
        ),
        (
            "[next_hop]\nauth_user = \"gw@firm.example\"\nauth_password_file = \"pw\"\n",
            "a password never goes in plaintext",
        ),
        (
            "[next_hop]\ntls = \"required\"\nauth_user = \"gw@firm.example\"\nauth_password_file = \"pw\"\n",
            "/pw: auth_password_file: cannot read",
        ),
        (
            "[next_hop]\ntls = \"required\"\nauth_user = \"gw@firm.example\"\n",
            "auth_user and auth_password_file go together",
        ),
    ];
    for (toml, want) in cases {
        let got = problems(toml, CLIENTS, MATTERS, NO_WAIVERS);
        assert_eq!(got.len(), 1, "{toml}: {got:?}");
        assert!(got[0].contains(want), "{toml}: {got:?}");
    }
}
