//! The three dictionaries a firm exports from its practice-management system:
//! clients, matters and waivers (DESIGN §1). Every bad row is reported with its
//! file and line; one bad row refuses the whole load.
//!
//! Matters are the bulk (a million is normal), so they are stored column-wise in
//! one text arena rather than a `Vec` of structs with several `String`s each.

use super::error::Problems;
use crate::text::address::{normalise_address, normalise_domain};
use chrono::NaiveDate;
use std::collections::HashMap;
use std::path::Path;

/// Index of a client in [`Dictionaries::clients`].
pub(crate) type ClientIdx = u32;
/// Index of a matter in [`Matters`].
pub(crate) type MatterIdx = u32;

#[derive(Debug, Clone)]
pub struct Alias {
    pub(crate) text: String,
    /// A weak alias (`~WT`) only counts when a strong identifier of the same
    /// client also appears.
    pub(crate) weak: bool,
}

#[derive(Debug, Clone)]
pub struct Client {
    pub(crate) id: String,
    pub(crate) name: String,
    pub aliases: Vec<Alias>,
    pub(crate) domains: Vec<String>,
    /// Issue #18: the optional `group` column, for reviewer scope (`None`
    /// when the column is absent or the cell empty).
    pub(crate) group: Option<String>,
}

/// Co-counsel and screened lists; most matters have neither, so they live in a
/// side table.
#[derive(Debug, Clone, Default)]
pub(crate) struct MatterExtra {
    pub(crate) cocounsel_domains: Vec<String>,
    pub(crate) screened: Vec<String>,
}

/// All matters, column-wise.
#[derive(Debug, Default)]
pub struct Matters {
    text: String,
    /// Per matter: start of the number, start of the description, end.
    spans: Vec<[u32; 3]>,
    clients: Vec<ClientIdx>,
    extra: HashMap<MatterIdx, MatterExtra>,
}

impl Matters {
    pub fn len(&self) -> usize {
        self.spans.len()
    }

    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    pub(crate) fn number(&self, m: MatterIdx) -> &str {
        let [a, b, _] = self.spans[m as usize];
        &self.text[a as usize..b as usize]
    }

    pub(crate) fn client(&self, m: MatterIdx) -> ClientIdx {
        self.clients[m as usize]
    }

    pub(crate) fn cocounsel_domains(&self, m: MatterIdx) -> &[String] {
        self.extra
            .get(&m)
            .map_or(&[][..], |e| e.cocounsel_domains.as_slice())
    }

    pub(crate) fn screened(&self, m: MatterIdx) -> &[String] {
        self.extra
            .get(&m)
            .map_or(&[][..], |e| e.screened.as_slice())
    }

    /// The matters `address` (normalised) is walled off from: the review
    /// interface hides their mail from that user. Scans only the side
    /// table, which holds the few matters that have a screened list.
    pub(crate) fn screened_from(&self, address: &str) -> Vec<MatterIdx> {
        let mut out: Vec<MatterIdx> = self
            .extra
            .iter()
            .filter(|(_, e)| e.screened.iter().any(|s| s == address))
            .map(|(&m, _)| m)
            .collect();
        out.sort_unstable();
        out
    }

    fn push(&mut self, number: &str, description: &str, client: ClientIdx, extra: MatterExtra) {
        let idx = self.spans.len() as MatterIdx;
        let a = self.text.len() as u32;
        self.text.push_str(number);
        let b = self.text.len() as u32;
        self.text.push_str(description);
        let c = self.text.len() as u32;
        self.spans.push([a, b, c]);
        self.clients.push(client);
        if !extra.cocounsel_domains.is_empty() || !extra.screened.is_empty() {
            self.extra.insert(idx, extra);
        }
    }
}

#[derive(Debug, Clone)]
pub struct Waiver {
    pub(crate) client: ClientIdx,
    /// An address (`a@b.com`) or a domain (`b.com`, subdomains included).
    pub(crate) recipient: String,
    pub(crate) expires: NaiveDate,
    pub(crate) reference: String,
}

#[derive(Debug, Default)]
pub struct Dictionaries {
    pub clients: Vec<Client>,
    pub(crate) client_by_id: HashMap<String, ClientIdx>,
    pub matters: Matters,
    pub waivers: Vec<Waiver>,
    /// Where each client and matter was read, for `dictionaries lint`.
    pub sources: Sources,
}

impl Dictionaries {
    /// The client with this id, if the loaded `clients.csv` has it.
    pub(crate) fn client(&self, id: &str) -> Option<&Client> {
        self.client_by_id
            .get(id)
            .map(|&c| &self.clients[c as usize])
    }

    /// Whether any client is in `group`.
    pub(crate) fn has_group(&self, group: &str) -> bool {
        self.clients
            .iter()
            .any(|c| c.group.as_deref() == Some(group))
    }

    /// The client that owns matter `number`, by a scan of every matter:
    /// only for held records sealed before their verdict named its
    /// clients (`review::walls`), never on the mail path.
    pub(crate) fn client_of_matter(&self, number: &str) -> Option<&str> {
        (0..self.matters.len() as MatterIdx)
            .find(|&m| self.matters.number(m) == number)
            .map(|m| self.clients[self.matters.client(m) as usize].id.as_str())
    }
}

/// The files the dictionaries came from and the line of every entry
/// (parallel to `clients` and to the matters; 4 bytes a matter).
#[derive(Debug, Default)]
pub struct Sources {
    pub clients: std::path::PathBuf,
    pub(crate) matters: std::path::PathBuf,
    pub(crate) client_lines: Vec<u32>,
    pub(crate) matter_lines: Vec<u32>,
}

impl Sources {
    /// The line client `c` was read from (`None` for one built in code).
    pub(crate) fn client_line(&self, c: ClientIdx) -> Option<usize> {
        self.client_lines.get(c as usize).map(|&l| l as usize)
    }

    pub(crate) fn matter_line(&self, m: MatterIdx) -> Option<usize> {
        self.matter_lines.get(m as usize).map(|&l| l as usize)
    }
}

/// Loads and validates all three files; every bad row goes to `problems`
/// against its file and line (the load is refused if there is any).
pub(crate) fn load(
    clients: &Path,
    matters: &Path,
    waivers: &Path,
    problems: &mut Problems,
) -> Dictionaries {
    let mut dict = Dictionaries::default();
    dict.sources.clients = clients.to_path_buf();
    dict.sources.matters = matters.to_path_buf();
    problems.reading(clients, |p| load_clients(clients, &mut dict, p));
    problems.reading(matters, |p| load_matters(matters, &mut dict, p));
    problems.reading(waivers, |p| load_waivers(waivers, &mut dict, p));
    dict
}

/// Reads a CSV file whose header must contain `columns` (in any order) and
/// may contain `optional` ones; calls `row` with the 1-based line and the
/// fields in `columns` then `optional` order (an absent optional column
/// reads as empty, so older files load unchanged).
fn read_csv(
    path: &Path,
    columns: &[&str],
    optional: &[&str],
    problems: &mut Problems,
    mut row: impl FnMut(usize, Vec<&str>, &mut Problems),
) {
    let mut reader = match csv::ReaderBuilder::new().flexible(false).from_path(path) {
        Ok(r) => r,
        Err(e) => return problems.add(format!("cannot read: {e}")),
    };
    let header = match reader.headers() {
        Ok(h) => h.clone(),
        Err(e) => return problems.line(1, csv_reason(&e)),
    };
    let find = |col: &str| {
        header
            .iter()
            .position(|h| h.trim().trim_start_matches('\u{feff}') == col)
    };
    let mut positions = Vec::with_capacity(columns.len() + optional.len());
    for col in columns {
        match find(col) {
            Some(p) => positions.push(Some(p)),
            None => return problems.line(1, format!("missing column `{col}` in header row")),
        }
    }
    positions.extend(optional.iter().map(|col| find(col)));
    let mut record = csv::StringRecord::new();
    loop {
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {
                let line = record.position().map_or(0, |p| p.line() as usize);
                if record.iter().all(|f| f.trim().is_empty()) {
                    continue;
                }
                let fields = positions
                    .iter()
                    .map(|&p| p.and_then(|p| record.get(p)).unwrap_or("").trim())
                    .collect();
                row(line, fields, problems);
            }
            Err(e) => {
                match e.position() {
                    Some(p) => problems.line(p.line() as usize, csv_reason(&e)),
                    None => problems.add(csv_reason(&e)),
                }
                if !matches!(
                    e.kind(),
                    csv::ErrorKind::UnequalLengths { .. } | csv::ErrorKind::Utf8 { .. }
                ) {
                    break;
                }
            }
        }
    }
}

fn csv_reason(e: &csv::Error) -> String {
    match e.kind() {
        csv::ErrorKind::Utf8 { .. } => "not valid UTF-8".into(),
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => {
            format!("expected {expected_len} fields, found {len}")
        }
        _ => e.to_string(),
    }
}

/// Splits a `;`-separated list, dropping empty items.
fn list(field: &str) -> impl Iterator<Item = &str> {
    field.split(';').map(str::trim).filter(|s| !s.is_empty())
}

fn load_clients(path: &Path, dict: &mut Dictionaries, problems: &mut Problems) {
    let before = problems.count();
    read_csv(
        path,
        &["client_id", "name", "aliases", "domains"],
        &["group"],
        problems,
        |line, f, problems| {
            let (id, name) = (f[0], f[1]);
            if id.is_empty() {
                return problems.line(line, "empty client_id");
            }
            if name.is_empty() {
                return problems.line(line, format!("client {id}: empty name"));
            }
            if dict.client_by_id.contains_key(id) {
                return problems.line(line, format!("duplicate client_id {id}"));
            }
            let aliases = list(f[2])
                .map(|a| match a.strip_prefix('~') {
                    Some(weak) => Alias {
                        text: weak.trim().to_string(),
                        weak: true,
                    },
                    None => Alias {
                        text: a.to_string(),
                        weak: false,
                    },
                })
                .filter(|a| !a.text.is_empty())
                .collect();
            let mut domains = Vec::new();
            for d in list(f[3]) {
                match normalise_domain(d) {
                    Ok(d) => domains.push(d),
                    Err(reason) => problems.line(
                        line,
                        format!("client {id}: malformed domain {d:?}: {reason}"),
                    ),
                }
            }
            let group = match check_group(f[4]) {
                Ok(g) => g,
                Err(reason) => return problems.line(line, format!("client {id}: {reason}")),
            };
            dict.client_by_id
                .insert(id.to_string(), dict.clients.len() as ClientIdx);
            dict.sources.client_lines.push(line as u32);
            dict.clients.push(Client {
                id: id.into(),
                name: name.into(),
                aliases,
                domains,
                group,
            });
        },
    );
    if dict.clients.is_empty() && problems.count() == before {
        // A client list cut down to its header (an export that failed
        // half-way) would load as "no client", and every name would go
        // out unseen: refused, so a reload keeps the last good list.
        problems.add("no clients in it: an empty client list is refused");
    }
}

/// Longest group name kept.
const MAX_GROUP: usize = 64;

/// A `group` cell: empty is no group; a name is at most [`MAX_GROUP`]
/// characters with no `,` (the CLI's `--groups` separator), `;` (the
/// files' list separator) or control character.
pub(crate) fn check_group(cell: &str) -> Result<Option<String>, String> {
    if cell.is_empty() {
        return Ok(None);
    }
    if cell.chars().count() > MAX_GROUP {
        return Err(format!(
            "group {cell:?} is longer than {MAX_GROUP} characters"
        ));
    }
    if cell.chars().any(|c| c == ',' || c == ';' || c.is_control()) {
        return Err(format!(
            "group {cell:?}: no ',', ';' or control characters (one group per client)"
        ));
    }
    Ok(Some(cell.to_string()))
}

fn load_matters(path: &Path, dict: &mut Dictionaries, problems: &mut Problems) {
    let mut seen: HashMap<String, usize> = HashMap::new();
    let cols = [
        "matter_number",
        "client_id",
        "description",
        "cocounsel_domains",
        "screened",
    ];
    read_csv(path, &cols, &[], problems, |line, f, problems| {
        let number = f[0];
        if number.is_empty() {
            return problems.line(line, "empty matter_number");
        }
        if let Err(reason) = crate::text::matter_key::check_number(number) {
            return problems.line(line, format!("matter {number}: {reason}"));
        }
        if let Some(first) = seen.insert(number.to_string(), line) {
            return problems.line(
                line,
                format!("duplicate matter_number {number} (first on line {first})"),
            );
        }
        let Some(&client) = dict.client_by_id.get(f[1]) else {
            return problems.line(
                line,
                format!("matter {number}: unknown client_id {:?}", f[1]),
            );
        };
        let mut extra = MatterExtra::default();
        for d in list(f[3]) {
            match normalise_domain(d) {
                Ok(d) => extra.cocounsel_domains.push(d),
                Err(reason) => problems.line(
                    line,
                    format!("matter {number}: malformed co-counsel domain {d:?}: {reason}"),
                ),
            }
        }
        for a in list(f[4]) {
            match normalise_address(a) {
                Ok(a) => extra.screened.push(a),
                Err(reason) => problems.line(
                    line,
                    format!("matter {number}: malformed screened address {a:?}: {reason}"),
                ),
            }
        }
        dict.matters.push(number, f[2], client, extra);
        dict.sources.matter_lines.push(line as u32);
    });
}

fn load_waivers(path: &Path, dict: &mut Dictionaries, problems: &mut Problems) {
    if !path.exists() {
        return; // waivers are optional: a firm may have none
    }
    read_csv(
        path,
        &["client_id", "recipient", "expires", "reference"],
        &[],
        problems,
        |line, f, problems| {
            let Some(&client) = dict.client_by_id.get(f[0]) else {
                return problems.line(line, format!("unknown client_id {:?}", f[0]));
            };
            let recipient = if f[1].contains('@') {
                normalise_address(f[1])
            } else {
                normalise_domain(f[1])
            };
            let recipient = match recipient {
                Ok(r) => r,
                Err(reason) => {
                    return problems.line(line, format!("malformed recipient {:?}: {reason}", f[1]))
                }
            };
            let Ok(expires) = NaiveDate::parse_from_str(f[2], "%Y-%m-%d") else {
                return problems.line(
                    line,
                    format!("expires {:?} is not an ISO date (YYYY-MM-DD)", f[2]),
                );
            };
            dict.waivers.push(Waiver {
                client,
                recipient,
                expires,
                reference: f[3].to_string(),
            });
        },
    );
}

#[cfg(test)]
mod tests {
    use super::check_group;

    #[test]
    fn group_cells() {
        let long = "g".repeat(65);
        let table: [(&str, Result<Option<&str>, &str>); 6] = [
            ("", Ok(None)),
            ("shipping", Ok(Some("shipping"))),
            ("Shipping & Energy", Ok(Some("Shipping & Energy"))),
            ("a,b", Err("no ','")),
            ("a;b", Err("no ','")),
            (&long, Err("longer than 64")),
        ];
        for (cell, want) in table {
            let got = check_group(cell);
            match (got, want) {
                (Ok(g), Ok(w)) => assert_eq!(g.as_deref(), w, "{cell:?}"),
                (Err(e), Err(w)) => assert!(e.contains(w), "{cell:?}: {e}"),
                (got, want) => panic!("{cell:?}: {got:?}, wanted {want:?}"),
            }
        }
    }
}
