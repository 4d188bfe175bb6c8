//! Matter numbers, found by shape and looked up in a hash table.
//!
//! A matter number is written with any separators, or none, between its groups
//! (`2024-0117` = `2024 0117` = `20240117`), and with `O` for `0`. Both the
//! dictionary and the text are reduced to a *key*: the letters and digits
//! alone, lower-case, `o` read as `0`, packed base-37 into a `u128` (so at most
//! 24 of them). In the text, every run of letter/digit tokens joined by
//! separators is a candidate chain; each sub-run that starts and ends on token
//! boundaries (so on word boundaries) and holds a digit is looked up. This reads
//! each byte once, where an automaton over a million patterns would be slower
//! and several times larger.

use super::Hit;
use crate::config::dictionary::{MatterIdx, Matters};
use crate::text::matter_key::{key_bytes, pack, MAX_KEY};
use rustc_hash::FxHashMap;
use std::collections::hash_map::Entry;
use std::collections::VecDeque;

/// The key of a dictionary matter number (already checked), and its shape.
fn key_of(number: &str) -> (u128, Shape) {
    let alnum = key_bytes(number);
    (pack(alnum.iter().copied()), Shape::of(&alnum))
}

/// Every matter number, by key.
#[derive(Debug, Default)]
pub struct MatterIndex {
    first: FxHashMap<u128, MatterIdx>,
    /// Numbers whose keys collide with an earlier one (`2024-0117`, `2024/0117`).
    more: FxHashMap<u128, Vec<MatterIdx>>,
    pow37: Vec<u128>,
    /// Which key shapes exist (see [`Shape`]): prose candidates like
    /// `2024section` are dismissed here, without touching the hash table.
    shapes: Vec<bool>,
    /// Whether any key ends with a letter; if none does (the usual case), a
    /// candidate can only end at a token that ends with a digit.
    letter_endings: bool,
}

/// A key's shape: length, number of digits, and whether it starts and ends
/// with a digit. Real dictionaries use few shapes.
struct Shape {
    len: usize,
    digits: usize,
    first_digit: bool,
    last_digit: bool,
}

impl Shape {
    fn index(&self) -> usize {
        ((self.len * (MAX_KEY + 1) + self.digits) * 2 + self.first_digit as usize) * 2
            + self.last_digit as usize
    }

    /// Shapes are taken after folding, where `o` is the digit `0`.
    fn of(bytes: &[u8]) -> Shape {
        Shape {
            len: bytes.len(),
            digits: bytes.iter().filter(|&&b| digitish(b)).count(),
            first_digit: bytes.first().is_some_and(|&b| digitish(b)),
            last_digit: bytes.last().is_some_and(|&b| digitish(b)),
        }
    }
}

pub(super) fn digitish(b: u8) -> bool {
    b.is_ascii_digit() || b == b'o'
}

const SHAPES: usize = (MAX_KEY + 1) * (MAX_KEY + 1) * 4;

impl MatterIndex {
    /// Indexes every matter number by its normalised key, once per load, so a scan looks each candidate up instead of trying every matter.
    pub fn build(matters: &Matters) -> Self {
        let mut first = FxHashMap::default();
        first.reserve(matters.len());
        let mut more: FxHashMap<u128, Vec<MatterIdx>> = FxHashMap::default();
        let mut shapes = vec![false; SHAPES];
        for m in 0..matters.len() as MatterIdx {
            let (key, shape) = key_of(matters.number(m));
            shapes[shape.index()] = true;
            match first.entry(key) {
                Entry::Vacant(v) => {
                    v.insert(m);
                }
                Entry::Occupied(_) => more.entry(key).or_default().push(m),
            }
        }
        let pow37 = (0..=MAX_KEY as u32).map(|e| 37u128.pow(e)).collect();
        // Shape index parity is `last_digit`: an even index ends with a letter.
        let letter_endings = (0..SHAPES).any(|i| shapes[i] && i % 2 == 0);
        MatterIndex {
            first,
            more,
            pow37,
            shapes,
            letter_endings,
        }
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        self.first.capacity() * (16 + 4 + 1)
    }

    /// Finds every matter number in normalised `text`.
    pub fn find(&self, text: &str, out: &mut Vec<Hit>) {
        if self.first.is_empty() {
            return;
        }
        // Normalised text is words separated by single spaces, so a word is a
        // token; a word with a non-ASCII letter in it breaks the chain.
        let mut chain = Chain {
            tokens: VecDeque::with_capacity(32),
            len: 0,
        };
        // One pass over the bytes: word ends are found and checked in the
        // same loop (a `split` per word costs more than the words here).
        let bytes = text.as_bytes();
        let (mut start, mut alnum) = (0usize, true);
        for (i, &b) in bytes.iter().enumerate() {
            if b != b' ' {
                alnum &= b.is_ascii_alphanumeric();
                continue;
            }
            self.token(
                bytes,
                Token {
                    start,
                    len: i - start,
                },
                alnum,
                &mut chain,
                out,
            );
            (start, alnum) = (i + 1, true);
        }
        let last = Token {
            start,
            len: bytes.len() - start,
        };
        self.token(bytes, last, alnum, &mut chain, out);
    }

    /// Adds one word to the chain (or breaks it), then looks up the
    /// candidates that end with it.
    fn token(
        &self,
        bytes: &[u8],
        token: Token,
        alnum: bool,
        chain: &mut Chain,
        out: &mut Vec<Hit>,
    ) {
        if token.len == 0 {
            return;
        }
        if token.len > MAX_KEY || !alnum {
            chain.tokens.clear();
            chain.len = 0;
            return;
        }
        chain.tokens.push_back(token);
        chain.len += token.len;
        while chain.len > MAX_KEY {
            chain.len -= chain.tokens.pop_front().map_or(0, |t| t.len);
        }
        let ends_digit = digitish(bytes[token.start + token.len - 1]);
        if ends_digit || self.letter_endings {
            self.lookup_ending_at(bytes, &chain.tokens, out);
        }
    }

    /// Looks up every sub-run of `chain` that ends at its last token. The
    /// shape test comes first and costs a few additions; keys (u128
    /// arithmetic) are packed only for the rare sub-runs whose shape some
    /// dictionary number has.
    fn lookup_ending_at(&self, bytes: &[u8], chain: &VecDeque<Token>, out: &mut Vec<Hit>) {
        let Some(last) = chain.back() else { return };
        let end = last.start + last.len;
        let last_digit = digitish(bytes[end - 1]);
        let (mut len, mut digits) = (0usize, 0usize);
        for (i, t) in chain.iter().enumerate().rev() {
            let word = &bytes[t.start..t.start + t.len];
            len += t.len;
            digits += word.iter().filter(|&&b| digitish(b)).count();
            let shape = Shape {
                len,
                digits,
                first_digit: digitish(word[0]),
                last_digit,
            };
            if digits == 0 || !self.shapes[shape.index()] {
                continue;
            }
            let key = chain.range(i..).fold(0u128, |key, t| {
                let word = &bytes[t.start..t.start + t.len];
                key * self.pow37[t.len] + pack(word.iter().copied())
            });
            if let Some(&m) = self.first.get(&key) {
                let range = t.start..end;
                out.push(Hit::Matter(m, range.clone()));
                for &m in self.more.get(&key).into_iter().flatten() {
                    out.push(Hit::Matter(m, range.clone()));
                }
            }
        }
    }
}

/// Tokens that can still start a candidate: together at most MAX_KEY long.
struct Chain {
    tokens: VecDeque<Token>,
    len: usize,
}

/// A word of the text: where it starts and how long it is.
#[derive(Clone, Copy)]
struct Token {
    start: usize,
    len: usize,
}
