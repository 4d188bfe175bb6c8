//! S/MIME CMS objects (RFC 5652): signed mail is readable, only enveloped
//! (encrypted) mail is not.
//!
//! * Opaque signed-data (`application/pkcs7-mime; smime-type=signed-data`,
//!   `.p7m`): the encapsulated content is a MIME entity, walked like a
//!   forwarded message at `LOC/`.
//! * A detached signature (`application/pkcs7-signature` in a
//!   `multipart/signed`) is a signature, not content: nothing to scan, as long
//!   as it really is a SignedData without content. One that carries content
//!   has it read; bytes that are no CMS at all are uninspectable.
//! * Enveloped, authenticated-enveloped or encrypted data is the sender's
//!   encryption: uninspectable.
//!
//! Mail clients (NSS in Thunderbird, Outlook) write BER with indefinite
//! lengths and chunked OCTET STRINGs; the `cms` crate reads DER, so the bytes
//! are first re-encoded as definite-length DER by [`ber_to_der`]. Where the
//! crate's strict decoder still refuses a SignedData (an unsorted SET OF, say),
//! the content is found by its position in the same tree.

use crate::extract::{listed, none, Child, Ctx, Found};
use cms::content_info::ContentInfo;
use cms::signed_data::SignedData;
use const_oid::db::rfc5911::{
    ID_CT_AUTH_ENVELOPED_DATA, ID_ENCRYPTED_DATA, ID_ENVELOPED_DATA, ID_SIGNED_DATA,
};
use der::asn1::OctetString;
use der::Decode;

/// What a CMS object holds, for the reader's purposes.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Cms {
    /// Signed data with its encapsulated content (`None`: detached).
    Signed(Option<Vec<u8>>),
    Encrypted,
    /// Not a CMS object we can read.
    Unreadable,
}

/// DER or BER CMS, or the same in base64 (some clients send `.p7m` so).
pub(crate) fn parse(bytes: &[u8]) -> Cms {
    let der = ber_to_der(bytes).or_else(|| {
        let b64: Vec<u8> = bytes
            .iter()
            .copied()
            .filter(|b| !b.is_ascii_whitespace())
            .collect();
        use base64::Engine;
        let raw = base64::engine::general_purpose::STANDARD.decode(b64).ok()?;
        ber_to_der(&raw)
    });
    let Some(der) = der else {
        return Cms::Unreadable;
    };
    let Ok(info) = ContentInfo::from_der(&der) else {
        return Cms::Unreadable;
    };
    match info.content_type {
        oid if oid == ID_SIGNED_DATA => match info.content.decode_as::<SignedData>() {
            Ok(signed) => Cms::Signed(
                signed
                    .encap_content_info
                    .econtent
                    .and_then(|c| c.decode_as::<OctetString>().ok())
                    .map(|o| o.as_bytes().to_vec()),
            ),
            // The strict DER decoder refuses what some signers write (an
            // unsorted SET OF certificates): the content is found by position.
            Err(_) => encapsulated(&der).map_or(Cms::Unreadable, Cms::Signed),
        },
        oid if [
            ID_ENVELOPED_DATA,
            ID_CT_AUTH_ENVELOPED_DATA,
            ID_ENCRYPTED_DATA,
        ]
        .contains(&oid) =>
        {
            Cms::Encrypted
        }
        _ => Cms::Unreadable,
    }
}

/// The eContent of a SignedData by position: ContentInfo `[0]` →
/// SignedData → its third field, EncapsulatedContentInfo → `[0]` → OCTET
/// STRING. `Some(None)` for a detached signature, `None` when malformed.
fn encapsulated(der: &[u8]) -> Option<Option<Vec<u8>>> {
    let (info, _) = Node::read(der, 0)?;
    let signed = info.child(1)?.child(0)?;
    let encap = signed.child(2)?;
    match encap.child(1) {
        None => Some(None),
        Some(explicit) => {
            let mut out = Vec::new();
            explicit.child(0)?.octets(&mut out);
            Some(Some(out))
        }
    }
}

/// Reads a CMS object at `loc` (see the module doc for what each kind
/// gives): signed content is returned as a message at `LOC/`.
pub(crate) fn read<'a>(ctx: &mut Ctx, loc: &str, bytes: &[u8]) -> Found<'a> {
    match parse(bytes) {
        Cms::Signed(Some(content)) => listed(vec![Child::Message {
            prefix: format!("{loc}/"),
            bytes: content.into(),
        }]),
        Cms::Signed(None) => none(),
        Cms::Encrypted => {
            ctx.uninspectable(loc, "encrypted by the sender (S/MIME)");
            none()
        }
        Cms::Unreadable => {
            ctx.uninspectable(loc, "S/MIME content that is not a readable CMS object");
            none()
        }
    }
}

/// Re-encodes BER as DER's length forms: definite lengths, and constructed
/// OCTET STRINGs joined into one primitive. `None` for anything malformed,
/// nested deeper than 64 or followed by trailing bytes.
pub(crate) fn ber_to_der(input: &[u8]) -> Option<Vec<u8>> {
    let (node, used) = Node::read(input, 0)?;
    if input[used..].iter().any(|&b| b != 0) {
        return None;
    }
    let mut out = Vec::with_capacity(input.len());
    node.write(&mut out);
    Some(out)
}

struct Node<'a> {
    tag: &'a [u8],
    body: Body<'a>,
}

enum Body<'a> {
    Primitive(&'a [u8]),
    Constructed(Vec<Node<'a>>),
}

impl<'a> Node<'a> {
    /// One TLV at the start of `input`: the node and the bytes it used.
    fn read(input: &'a [u8], depth: usize) -> Option<(Node<'a>, usize)> {
        if depth > 64 {
            return None;
        }
        let first = *input.first()?;
        let mut i = 1;
        if first & 0x1f == 0x1f {
            while input.get(i)? & 0x80 != 0 {
                i += 1;
            }
            i += 1;
        }
        let tag = &input[..i];
        let len_byte = *input.get(i)?;
        i += 1;
        let constructed = first & 0x20 != 0;
        if len_byte == 0x80 {
            // Indefinite: children until the end-of-contents octets.
            if !constructed {
                return None;
            }
            let mut children = Vec::new();
            while input.get(i..i + 2)? != [0, 0] {
                let (child, used) = Node::read(&input[i..], depth + 1)?;
                children.push(child);
                i += used;
            }
            return Some((
                Node {
                    tag,
                    body: Body::Constructed(children),
                },
                i + 2,
            ));
        }
        let len = if len_byte < 0x80 {
            len_byte as usize
        } else {
            let n = (len_byte & 0x7f) as usize;
            if n > 4 {
                return None;
            }
            let bytes = input.get(i..i + n)?;
            i += n;
            bytes.iter().fold(0usize, |acc, &b| (acc << 8) | b as usize)
        };
        let content = input.get(i..i.checked_add(len)?)?;
        let body = if constructed {
            let mut children = Vec::new();
            let mut at = 0;
            while at < content.len() {
                let (child, used) = Node::read(&content[at..], depth + 1)?;
                children.push(child);
                at += used;
            }
            Body::Constructed(children)
        } else {
            Body::Primitive(content)
        };
        Some((Node { tag, body }, i + len))
    }

    fn write(&self, out: &mut Vec<u8>) {
        let mut content = Vec::new();
        let mut tag = self.tag.to_vec();
        match &self.body {
            Body::Primitive(bytes) => content.extend_from_slice(bytes),
            // A chunked OCTET STRING (universal 4, constructed) becomes primitive.
            Body::Constructed(children) if self.tag == [0x24] => {
                tag = vec![0x04];
                for child in children {
                    child.octets(&mut content);
                }
            }
            Body::Constructed(children) => {
                for child in children {
                    child.write(&mut content);
                }
            }
        }
        out.extend_from_slice(&tag);
        write_len(out, content.len());
        out.extend_from_slice(&content);
    }

    fn child(&self, n: usize) -> Option<&Node<'a>> {
        match &self.body {
            Body::Constructed(children) => children.get(n),
            Body::Primitive(_) => None,
        }
    }

    /// The octets of a (possibly chunked) OCTET STRING.
    fn octets(&self, out: &mut Vec<u8>) {
        match &self.body {
            Body::Primitive(bytes) => out.extend_from_slice(bytes),
            Body::Constructed(children) => children.iter().for_each(|c| c.octets(out)),
        }
    }
}

fn write_len(out: &mut Vec<u8>, len: usize) {
    if len < 0x80 {
        out.push(len as u8);
        return;
    }
    let bytes = len.to_be_bytes();
    let skip = bytes.iter().take_while(|&&b| b == 0).count();
    out.push(0x80 | (bytes.len() - skip) as u8);
    out.extend_from_slice(&bytes[skip..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ber_indefinite_and_chunked_strings_become_der() {
        // SEQUENCE (indefinite) { OCTET STRING chunked "ab" + "c" }
        let ber = b"\x30\x80\x24\x80\x04\x02ab\x04\x01c\x00\x00\x00\x00";
        assert_eq!(ber_to_der(ber).unwrap(), b"\x30\x05\x04\x03abc");
        assert_eq!(
            ber_to_der(b"\x30\x05\x04\x03abc").unwrap(),
            b"\x30\x05\x04\x03abc"
        );
        assert_eq!(ber_to_der(b"\x30\x80\x04\x01"), None);
        assert_eq!(parse(b"not cms at all"), Cms::Unreadable);
    }

    #[test]
    fn encapsulated_content_is_found_by_position() {
        // ContentInfo { OID, [0] { SignedData { INTEGER, SET, Encap { OID, [0] { "hi" } } } } }
        let der = b"\x30\x19\x06\x01\x01\xa0\x14\x30\x12\x02\x01\x01\x31\x00\x30\x0b\x06\x01\x01\xa0\x06\x04\x04hi\r\n";
        assert_eq!(encapsulated(der), Some(Some(b"hi\r\n".to_vec())));
        let detached =
            b"\x30\x11\x06\x01\x01\xa0\x0c\x30\x0a\x02\x01\x01\x31\x00\x30\x03\x06\x01\x01";
        assert_eq!(encapsulated(detached), Some(None));
    }
}
