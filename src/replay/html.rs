//! The HTML report (filled in by the next step).

use super::summary::Summary;

pub fn report(s: &Summary) -> String {
    let mut out = Vec::new();
    let _ = s.write_text(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}
