//! Domains that authorise the wrong people: a client domain that is public
//! webmail (anyone can have an address there) or belongs to two clients; a
//! co-counsel domain that is the firm's own or a client's.

use super::words::Words;
use super::{at_client, line_of, Warning};
use crate::config::dictionary::{ClientIdx, MatterIdx};
use crate::config::Config;
use std::collections::HashMap;

pub(crate) fn check(cfg: &Config, words: &Words, out: &mut Vec<Warning>) {
    let dict = &cfg.dict;
    let mut owner: HashMap<&str, ClientIdx> = HashMap::new();
    for (c, client) in dict.clients.iter().enumerate() {
        let c = c as ClientIdx;
        for d in &client.domains {
            let entry = format!("client {} domain \"{d}\"", client.id);
            if words.is_webmail(d) {
                out.push(at_client(
                    dict,
                    c,
                    "webmail-domain",
                    entry.clone(),
                    "a public webmail or ISP domain: anyone with an address there is authorised for this client".into(),
                    "remove it; authorise the client's people there by address with a waiver (waivers.csv)".into(),
                ));
            }
            match owner.get(d.as_str()) {
                Some(&first) if first != c => out.push(at_client(
                    dict,
                    c,
                    "shared-domain",
                    entry,
                    format!(
                        "also a domain of client {}{}: each is authorised for the other's mail",
                        dict.clients[first as usize].id,
                        line_of(dict, first)
                    ),
                    "keep it on the client it belongs to; authorise the other by waiver".into(),
                )),
                _ => {
                    owner.entry(d).or_insert(c);
                }
            }
        }
    }
    for m in 0..dict.matters.len() as MatterIdx {
        for d in dict.matters.cocounsel_domains(m) {
            if let Some(problem) = cocounsel_problem(cfg, words, &owner, m, d) {
                out.push(Warning {
                    file: dict.sources.matters.clone(),
                    line: dict.sources.matter_line(m),
                    entry: format!(
                        "matter {} co-counsel domain \"{d}\"",
                        dict.matters.number(m)
                    ),
                    problem,
                    fix: "remove it (name co-counsel by their own firm's domain)".into(),
                    class: "cocounsel-domain",
                });
            }
        }
    }
}

fn cocounsel_problem(
    cfg: &Config,
    words: &Words,
    owner: &HashMap<&str, ClientIdx>,
    m: MatterIdx,
    d: &str,
) -> Option<String> {
    if cfg.is_internal(d) {
        return Some("the firm's own domain: it is internal already".into());
    }
    if words.is_webmail(d) {
        return Some(
            "a public webmail or ISP domain: anyone with an address there may receive this matter"
                .into(),
        );
    }
    let &c = owner.get(d)?;
    let client = &cfg.dict.clients[c as usize];
    (c != cfg.dict.matters.client(m)).then(|| {
        format!(
            "a domain of client {}{}: that client may receive this matter",
            client.id,
            line_of(&cfg.dict, c)
        )
    })
}
